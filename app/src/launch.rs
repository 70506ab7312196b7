//! Command-line options of `bifsmn-workbench`.

use std::path::PathBuf;

use crate::PanelId;
use crate::panels::train::View;

/// Usage text for `--help` and errors.
pub const USAGE: &str = "\
bifsmn-workbench: train, inspect and test 1-bit keyword spotters

USAGE:
    bifsmn-workbench [OPTIONS]

OPTIONS:
    --dataset DIR                 open this dataset (default: the last one, else the demo set)
    --panel NAME                  start on this panel: data, train, inspect, test or deploy
    --model PATH                  load a model (.bkw or run folder) into Inspect and Test
    --demo-train-run DIR          show this run's history in the Train charts (repeatable)
    --train-config FILE.json      fill the Train form from a TrainConfig (as in run.json)
    --start-training              start training at launch (with --train-config or the form)
    --train-view charts|distill|binarizers|bits
                                  which Train view to show
    --test-view live|confusion|teach    which Test view to show
    --takes DIR                   takes folder of Teach it my voice
    --start-finetune              fine-tune the loaded model on the takes at launch (Teach it
                                  my voice, once the model is loaded and every keyword has two takes)
    --screenshot OUT.png          save the window to OUT.png, then exit
    --screenshot-after-frames N   ... after N frames (default 10)
    --screenshot-after-epochs N   ... and after the live run finished N epochs
    --screenshot-wait-frames N    ... waiting at most N more frames for loads and fine-tunes
                                  to finish (default 2000)
    --theme light|dark            use this theme
    --frame-log FILE.csv          write every frame's duration while running
    --fresh                       ignore and do not save the remembered view state
    --help                        this text
    --version                     print the version and the git commit it was built from
";

/// Parsed options.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LaunchOptions {
    pub dataset: Option<PathBuf>,
    pub panel: Option<PanelId>,
    pub model: Option<PathBuf>,
    pub demo_train_runs: Vec<PathBuf>,
    pub train_config: Option<PathBuf>,
    pub start_training: bool,
    pub train_view: Option<View>,
    pub test_view: Option<crate::panels::test::TestView>,
    pub takes: Option<PathBuf>,
    pub start_finetune: bool,
    pub screenshot: Option<PathBuf>,
    pub screenshot_after_frames: u64,
    pub screenshot_after_epochs: usize,
    pub screenshot_wait_frames: u64,
    pub frame_log: Option<PathBuf>,
    /// `Some(true)` = dark.
    pub dark: Option<bool>,
    pub fresh: bool,
    pub help: bool,
    pub version: bool,
}

impl LaunchOptions {
    /// Parse arguments (without the program name).
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut o = LaunchOptions {
            screenshot_after_frames: 10,
            screenshot_wait_frames: 2000,
            ..Default::default()
        };
        let mut it = args.into_iter();
        while let Some(arg) = it.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
                _ => (arg.clone(), None),
            };
            let mut value = |what: &str| -> Result<String, String> {
                inline
                    .clone()
                    .or_else(|| it.next())
                    .ok_or_else(|| format!("{name} needs {what}"))
            };
            match name.as_str() {
                "--dataset" => o.dataset = Some(value("a folder")?.into()),
                "--panel" => {
                    let v = value("data, train or inspect")?;
                    o.panel = Some(PanelId::parse(&v).ok_or_else(|| {
                        format!(
                            "unknown panel {v:?}; expected data, train, inspect, test or deploy"
                        )
                    })?);
                }
                "--model" => o.model = Some(value("a model path")?.into()),
                "--demo-train-run" => o.demo_train_runs.push(value("a run folder")?.into()),
                "--train-config" => o.train_config = Some(value("a JSON file")?.into()),
                "--start-training" => o.start_training = true,
                "--train-view" => {
                    let v = value("a view name")?;
                    o.train_view = Some(View::parse(&v).ok_or_else(|| {
                        format!("unknown view {v:?}; expected charts, distill, binarizers or bits")
                    })?);
                }
                "--test-view" => {
                    use crate::panels::test::TestView;
                    o.test_view = Some(match value("live, confusion or teach")?.as_str() {
                        "live" => TestView::Live,
                        "confusion" => TestView::Confusion,
                        "teach" => TestView::Teach,
                        v => {
                            return Err(format!(
                                "unknown view {v:?}; expected live, confusion or teach"
                            ));
                        }
                    });
                }
                "--takes" => o.takes = Some(value("a takes folder")?.into()),
                "--start-finetune" => o.start_finetune = true,
                "--screenshot-wait-frames" => {
                    o.screenshot_wait_frames = value("a number")?
                        .parse()
                        .map_err(|_| "--screenshot-wait-frames needs a number".to_string())?
                }
                "--screenshot" => o.screenshot = Some(value("an output .png")?.into()),
                "--screenshot-after-frames" => {
                    o.screenshot_after_frames = value("a number")?
                        .parse()
                        .map_err(|_| "--screenshot-after-frames needs a number".to_string())?
                }
                "--screenshot-after-epochs" => {
                    o.screenshot_after_epochs = value("a number")?
                        .parse()
                        .map_err(|_| "--screenshot-after-epochs needs a number".to_string())?
                }
                "--frame-log" => o.frame_log = Some(value("a file")?.into()),
                "--theme" => {
                    o.dark = match value("light or dark")?.as_str() {
                        "dark" => Some(true),
                        "light" => Some(false),
                        v => return Err(format!("unknown theme {v:?}; expected light or dark")),
                    }
                }
                "--fresh" => o.fresh = true,
                "--help" | "-h" => o.help = true,
                "--version" | "-V" => o.version = true,
                other => return Err(format!("unknown option {other:?}\n\n{USAGE}")),
            }
        }
        if o.screenshot.is_some() {
            // Screenshots show the defaults, not whatever the last session left behind.
            o.fresh = true;
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<LaunchOptions, String> {
        LaunchOptions::parse(s.split_whitespace().map(String::from))
    }

    #[test]
    fn parses_the_screenshot_options() {
        let o = parse("--panel train --screenshot out.png --screenshot-after-frames=30 --demo-train-run a --demo-train-run b").unwrap();
        assert_eq!(o.panel, Some(PanelId::Train));
        assert_eq!(o.screenshot, Some(PathBuf::from("out.png")));
        assert_eq!(o.screenshot_after_frames, 30);
        assert_eq!(o.demo_train_runs.len(), 2);
        assert!(o.fresh);
        assert_eq!(o.screenshot_wait_frames, 2000);
        let o = parse("--takes my-voice --start-finetune --screenshot-wait-frames 400").unwrap();
        assert_eq!(o.takes, Some(PathBuf::from("my-voice")));
        assert!(o.start_finetune);
        assert_eq!(o.screenshot_wait_frames, 400);
        assert!(parse("--screenshot-wait-frames soon").is_err());
        assert!(parse("--takes").is_err());
    }

    #[test]
    fn parses_help_and_version() {
        assert!(parse("--version").unwrap().version);
        assert!(parse("-V").unwrap().version);
        assert!(parse("--help").unwrap().help);
    }

    #[test]
    fn rejects_unknown_options_and_values() {
        assert!(parse("--panel settings").is_err());
        assert!(parse("--test-view matrix").is_err());
        assert_eq!(
            parse("--test-view confusion").unwrap().test_view,
            Some(crate::panels::test::TestView::Confusion)
        );
        assert_eq!(
            parse("--panel deploy").unwrap().panel,
            Some(PanelId::Deploy)
        );
        assert!(parse("--bogus").is_err());
        assert!(parse("--dataset").is_err());
        assert!(parse("--screenshot-after-frames x").is_err());
    }
}
