//! `bifsmn-runner`: the small static program that runs a packed BiFSMNv2 model on a board.
//!
//! Subcommands `info`, `bench`, `classify`, `selftest` and `synth`; reports are JSON on stdout
//! (the types of `bifsmn_kernels::report`, which the workbench reads back), errors go to stderr
//! with distinct exit codes. The schema and the exit codes are documented in `docs/RUNNER.md`.
//! Arguments are parsed by hand to keep the binary small.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use bifsmn_kernels::board::{BoardInfo, memory_kib};
use bifsmn_kernels::features::FeatureParams;
use bifsmn_kernels::format::{FloatDtype, PackedModel, Storage, model_hash};
use bifsmn_kernels::infer::{Engine, EngineOptions, InferError, Session};
use bifsmn_kernels::isa::Isa;
use bifsmn_kernels::network::LayerId;
use bifsmn_kernels::reference;
use bifsmn_kernels::report::{
    BENCH_SCHEMA, BenchReport, ClassifyModel, ClassifyReport, InfoReport, Latency, LayerTiming,
    Memory, ModelStorage, ReportModel, ReportPath, RunnerBoard, SELFTEST_SCHEMA, SelftestPath,
    SelftestReport, count, precision_name,
};
use bifsmn_kernels::synth::{SynthSpec, random_clip, random_features};
use bifsmn_kernels::wav;
use bifsmn_kernels::weights::{NetworkWeights, Precision};
use serde::Serialize;

const VERSION: &str = env!("CARGO_PKG_VERSION");
/// `0.1.0 (abc1234 2026-11-25)`; the commit is "unknown" when built outside a git checkout.
const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("BIFSMN_GIT_COMMIT"),
    ")"
);

/// Exit codes (docs/RUNNER.md).
mod code {
    pub const RUNTIME: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const MODEL: u8 = 3;
    pub const INPUT: u8 = 4;
    pub const SELFTEST: u8 = 5;
}

struct Failure {
    code: u8,
    msg: String,
}

fn fail(code: u8, msg: impl Into<String>) -> Failure {
    Failure {
        code,
        msg: msg.into(),
    }
}

type Res<T> = Result<T, Failure>;

const USAGE: &str = "\
bifsmn-runner: run a packed BiFSMNv2 keyword-spotting model (.bkw) on this machine

usage: bifsmn-runner <command> [options]

commands:
  info       machine facts, chosen kernels, and a model summary with --model
  bench      latency report (JSON) of one thin path: per layer and end to end
  classify   classify a WAV clip
  selftest   check every kernel ISA and (for a generated model) the reference forward
  synth      write a random model of the paper's shape (for trying the runner and for tests)

  bifsmn-runner <command> --help   shows the options of a command
  bifsmn-runner --version          prints the version and the git commit

exit codes: 0 ok, 1 runtime error, 2 bad arguments, 3 bad model file, 4 bad input clip,
            5 self-test mismatch";

const INFO_USAGE: &str = "\
usage: bifsmn-runner info [--model M.bkw] [--json]

  --model M   also summarise this model (layers, bits, parameters, bytes, paths)
  --json      one JSON object instead of text";

const BENCH_USAGE: &str = "\
usage: bifsmn-runner bench --model M.bkw [--path P] [--runs N] [--warmup W] [--threads T]
                           [--isa NAME] [--clip C.wav] [--seed S] [--frontend]

  --model M    packed model (required)
  --path P     thin path index (default 0)
  --runs N     timed runs (default 100)
  --warmup W   untimed runs first (default 10)
  --threads T  threads for the large matrix products (default 1)
  --isa NAME   force a kernel ISA: scalar, avx2, avx512bw, avx512vpopcntdq, neon
  --clip C     input clip (else random features from --seed, default 1); also classified
  --frontend   also time the log-mel front end
Prints one JSON report on stdout (schema in docs/RUNNER.md).";

const CLASSIFY_USAGE: &str = "\
usage: bifsmn-runner classify --model M.bkw [--path P] [--isa NAME] [--json] CLIP.wav

  prints the best label and every class score (softmax); --json for one JSON object";

const SELFTEST_USAGE: &str = "\
usage: bifsmn-runner selftest [--model M.bkw] [--seed S] [--json]

  Runs every thin path with every kernel ISA this CPU supports on random features (from
  --seed, default 1) and checks the logits are bit-identical. Without --model it generates the
  paper's 8-layer binary student from the seed and also checks it against the f64 reference.
  The logits' bit patterns in the JSON output let two machines be compared exactly.";

const SYNTH_USAGE: &str = "\
usage: bifsmn-runner synth --out M.bkw [--seed S] [--float] [--tiny] [--f16 | --q8]

  Writes a random (untrained) model: the paper's 8-layer, 12-class binary student, or with
  --float its FP32 teacher, or with --tiny a very small network. --f16 stores float sections
  as binary16, --q8 as 8-bit codes on per-group grids (docs/FORMAT.md). Prints the file's
  size and hash.";

/// Parsed `--name value` / `--name=value` options, flags and positional arguments.
struct Args {
    values: BTreeMap<String, String>,
    flags: BTreeSet<String>,
    positional: Vec<String>,
}

impl Args {
    fn parse(args: &[String], values: &[&str], flags: &[&str]) -> Res<Args> {
        let mut a = Args {
            values: BTreeMap::new(),
            flags: BTreeSet::new(),
            positional: Vec::new(),
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let Some(opt) = arg.strip_prefix("--") else {
                a.positional.push(arg.clone());
                continue;
            };
            let (name, inline) = match opt.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (opt, None),
            };
            if values.contains(&name) {
                let v = match inline {
                    Some(v) => v,
                    None => it.next().cloned().ok_or_else(|| {
                        fail(code::USAGE, format!("option --{name} needs a value"))
                    })?,
                };
                if a.values.insert(name.to_owned(), v).is_some() {
                    return Err(fail(code::USAGE, format!("option --{name} given twice")));
                }
            } else if flags.contains(&name) && inline.is_none() {
                a.flags.insert(name.to_owned());
            } else {
                return Err(fail(code::USAGE, format!("unknown option --{name}")));
            }
        }
        Ok(a)
    }

    fn no_positional(&self) -> Res<()> {
        match self.positional.first() {
            Some(p) => Err(fail(code::USAGE, format!("unexpected argument '{p}'"))),
            None => Ok(()),
        }
    }

    fn flag(&self, name: &str) -> bool {
        self.flags.contains(name)
    }

    fn num(&self, name: &str, default: usize) -> Res<usize> {
        match self.values.get(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| {
                fail(
                    code::USAGE,
                    format!("--{name} wants a non-negative integer, got '{v}'"),
                )
            }),
        }
    }

    fn isa(&self) -> Res<Isa> {
        match self.values.get("isa") {
            None => Ok(Isa::best()),
            Some(n) => {
                let isa = Isa::from_name(n)
                    .ok_or_else(|| fail(code::USAGE, format!("unknown ISA '{n}'")))?;
                if !isa.is_supported() {
                    let av: Vec<&str> = Isa::available().iter().map(|i| i.name()).collect();
                    return Err(fail(
                        code::USAGE,
                        format!("this CPU cannot run {n} (available: {})", av.join(", ")),
                    ));
                }
                Ok(isa)
            }
        }
    }
}

/// A model file read from disk: size and hash of its bytes, parsed model.
struct Loaded {
    path: String,
    bytes: usize,
    hash: String,
    model: PackedModel,
}

fn load(path: &str) -> Res<Loaded> {
    let bytes = std::fs::read(path)
        .map_err(|e| fail(code::MODEL, format!("cannot read model {path}: {e}")))?;
    let model = PackedModel::from_bytes(&bytes)
        .map_err(|e| fail(code::MODEL, format!("invalid model {path}: {e}")))?;
    Ok(Loaded {
        path: path.to_owned(),
        bytes: bytes.len(),
        hash: model_hash(&bytes),
        model,
    })
}

fn engine(model: &PackedModel, isa: Isa, threads: usize) -> Res<Arc<Engine>> {
    Engine::with_options(model, EngineOptions { isa, threads })
        .map(Arc::new)
        .map_err(|e| fail(code::MODEL, e.to_string()))
}

fn runtime(e: InferError) -> Failure {
    fail(code::RUNTIME, e.to_string())
}

fn report_model(l: &Loaded) -> ReportModel {
    ReportModel {
        file: l.path.clone(),
        hash: l.hash.clone(),
        file_bytes: l.bytes as u64,
        precision: precision_name(l.model.precision()).to_owned(),
        classes: count(l.model.labels.len()),
        labels: l.model.labels.clone(),
        paths: l
            .model
            .paths
            .iter()
            .map(|p| p.iter().map(|&i| count(i)).collect())
            .collect(),
        storage: Some(ModelStorage::from(l.model.storage)),
    }
}

/// Write to stdout. A closed pipe (`bifsmn-runner info | head`) is not an error: the reader
/// has what it wanted. Other write errors are runtime failures, never panics.
fn emit(text: &str) -> Res<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(fail(code::RUNTIME, format!("cannot write output: {e}")))
        }
        _ => Ok(()),
    }
}

macro_rules! outln {
    ($($arg:tt)*) => { emit(&format!("{}\n", format_args!($($arg)*)))? };
}

/// Print a report as pretty JSON. It goes through `serde_json::Value` on purpose: a `Value`'s
/// object keys are sorted, which is the key order every runner version has printed.
fn print_json(report: &impl Serialize) -> Res<()> {
    let json = |e: serde_json::Error| fail(code::RUNTIME, e.to_string());
    let v = serde_json::to_value(report).map_err(json)?;
    let s = serde_json::to_string_pretty(&v).map_err(json)?;
    emit(&format!("{s}\n"))
}

fn info(args: &[String]) -> Res<()> {
    let a = Args::parse(args, &["model"], &["json"])?;
    a.no_positional()?;
    let board = BoardInfo::detect();
    let loaded = a.values.get("model").map(|m| load(m)).transpose()?;
    if a.flag("json") {
        return print_json(&InfoReport {
            runner_version: VERSION.to_owned(),
            board: RunnerBoard::from(&board),
            model: loaded.as_ref().map(report_model),
            summary: loaded.as_ref().map(|l| l.model.summary()),
        });
    }
    outln!("bifsmn-runner {LONG_VERSION}");
    outln!("arch:        {} ({})", board.arch, board.os);
    outln!(
        "cpu:         {}",
        board.cpu_model.as_deref().unwrap_or("unknown")
    );
    outln!("cpus:        {}", board.logical_cpus);
    outln!("features:    {}", board.cpu_features.join(" "));
    let av: Vec<&str> = board.isa_available.iter().map(|i| i.name()).collect();
    outln!("kernels:     {} (available: {})", board.isa, av.join(", "));
    if let Some(l) = loaded {
        outln!("model:       {} ({} bytes, {})", l.path, l.bytes, l.hash);
        emit(&l.model.summary().to_string())?;
    }
    Ok(())
}

/// The bench input: a clip's features (`--clip`) or random features (`--seed`).
fn input_features(
    a: &Args,
    session: &mut Session,
    params: &FeatureParams,
) -> Res<(Vec<f32>, Option<Vec<f32>>)> {
    match a.values.get("clip") {
        Some(c) => {
            let clip = wav::read_mono(Path::new(c), params.sample_rate)
                .map_err(|e| fail(code::INPUT, e.to_string()))?;
            Ok((session.features(&clip).to_vec(), Some(clip)))
        }
        None => Ok((random_features(params, a.num("seed", 1)? as u64), None)),
    }
}

fn micros(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn bench(args: &[String]) -> Res<()> {
    let a = Args::parse(
        args,
        &[
            "model", "path", "runs", "warmup", "threads", "isa", "clip", "seed",
        ],
        &["frontend"],
    )?;
    a.no_positional()?;
    let model_path = a
        .values
        .get("model")
        .ok_or_else(|| fail(code::USAGE, "bench needs --model"))?;
    let path = a.num("path", 0)?;
    let runs = a.num("runs", 100)?;
    let warmup = a.num("warmup", 10)?;
    let threads = a.num("threads", 1)?;
    if runs == 0 || threads == 0 {
        return Err(fail(code::USAGE, "--runs and --threads must be at least 1"));
    }
    let isa = a.isa()?;
    let l = load(model_path)?;
    let e = engine(&l.model, isa, threads)?;
    let layer_ids = e
        .layer_ids(path)
        .map_err(|err| fail(code::USAGE, err.to_string()))?;
    let mut s = e.session();
    let (feats, clip) = input_features(&a, &mut s, &l.model.features)?;
    for _ in 0..warmup {
        s.forward(path, &feats).map_err(runtime)?;
    }
    // End to end without the per-layer clock reads, then per layer with them.
    let mut total = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t0 = Instant::now();
        std::hint::black_box(
            s.forward(path, std::hint::black_box(&feats))
                .map_err(runtime)?,
        );
        total.push(micros(t0.elapsed()));
    }
    let mut per: Vec<Vec<f64>> = vec![Vec::with_capacity(runs); layer_ids.len()];
    let mut times: Vec<(LayerId, std::time::Duration)> = Vec::with_capacity(layer_ids.len());
    for _ in 0..runs {
        times.clear();
        s.forward_hooked(path, &feats, &mut times)
            .map_err(runtime)?;
        for (i, (_, d)) in times.iter().enumerate() {
            per[i].push(micros(*d));
        }
    }
    let summary = l.model.summary();
    let layers: Vec<LayerTiming> = layer_ids
        .iter()
        .zip(&per)
        .map(|(id, t)| {
            let ls = summary.layers.iter().find(|x| x.layer == *id);
            LayerTiming {
                layer: id.to_string(),
                op: ls.map(|x| x.op.clone()),
                weight_bits: ls.map(|x| x.weight_bits),
                macs: ls.map(|x| x.macs as u64),
                us: Latency::from_micros(t),
            }
        })
        .collect();
    let layer_sum: f64 = per
        .iter()
        .map(|t| t.iter().sum::<f64>() / t.len() as f64)
        .sum();
    let frontend = if a.flag("frontend") {
        let audio = clip
            .clone()
            .unwrap_or_else(|| random_clip(&l.model.features, 1));
        let t: Vec<f64> = (0..runs)
            .map(|_| {
                let t0 = Instant::now();
                std::hint::black_box(s.features(&audio));
                micros(t0.elapsed())
            })
            .collect();
        Latency::from_micros(&t)
    } else {
        None
    };
    let classification = match &clip {
        Some(c) => Some(s.classify(path, c).map_err(runtime)?),
        None => None,
    };
    let (vm_hwm_kib, vm_rss_kib) = memory_kib();
    let path_layers = e.path_layers(path).map_err(runtime)?;
    let end_to_end_us =
        Latency::from_micros(&total).ok_or_else(|| fail(code::RUNTIME, "no timed runs"))?;
    print_json(&BenchReport {
        schema: BENCH_SCHEMA.to_owned(),
        runner_version: VERSION.to_owned(),
        board: RunnerBoard::from(&BoardInfo::detect()),
        isa: e.isa().name().to_owned(),
        threads: count(e.threads()),
        model: report_model(&l),
        path: ReportPath {
            index: count(path),
            layers: path_layers.iter().map(|&i| count(i)).collect(),
        },
        runs: runs as u64,
        warmup: warmup as u64,
        input: if clip.is_some() {
            "clip"
        } else {
            "random-features"
        }
        .to_owned(),
        end_to_end_us,
        layers,
        layer_sum_mean_us: Some(layer_sum),
        frontend_us: frontend,
        classification: classification.map(Into::into),
        memory: Memory {
            vm_hwm_kib,
            vm_rss_kib,
        },
    })
}

fn classify(args: &[String]) -> Res<()> {
    let a = Args::parse(args, &["model", "path", "isa"], &["json"])?;
    let model_path = a
        .values
        .get("model")
        .ok_or_else(|| fail(code::USAGE, "classify needs --model"))?;
    let clip_path = match a.positional.as_slice() {
        [c] => c,
        [] => return Err(fail(code::USAGE, "classify needs a WAV clip")),
        _ => return Err(fail(code::USAGE, "classify takes exactly one clip")),
    };
    let path = a.num("path", 0)?;
    let isa = a.isa()?;
    let l = load(model_path)?;
    let e = engine(&l.model, isa, 1)?;
    e.path_layers(path)
        .map_err(|err| fail(code::USAGE, err.to_string()))?;
    let clip = wav::read_mono(Path::new(clip_path), l.model.features.sample_rate)
        .map_err(|err| fail(code::INPUT, err.to_string()))?;
    let c = e.session().classify(path, &clip).map_err(runtime)?;
    if a.flag("json") {
        return print_json(&ClassifyReport {
            runner_version: VERSION.to_owned(),
            model: ClassifyModel {
                file: l.path,
                hash: l.hash,
            },
            clip: clip_path.clone(),
            path: count(path),
            isa: e.isa().name().to_owned(),
            label: c.label,
            index: count(c.index),
            labels: l.model.labels,
            logits: c.logits,
            probabilities: c.probabilities,
        });
    }
    outln!("{}\t{:.4}", c.label, c.probabilities[c.index]);
    let mut order: Vec<usize> = (0..c.logits.len()).collect();
    order.sort_by(|&x, &y| c.probabilities[y].total_cmp(&c.probabilities[x]));
    for i in order {
        outln!(
            "  {:<16} p={:.4} logit={:.4}",
            l.model.labels[i],
            c.probabilities[i],
            c.logits[i]
        );
    }
    Ok(())
}

fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .max_by(|x, y| x.1.total_cmp(y.1))
        .map_or(0, |(i, _)| i)
}

fn selftest(args: &[String]) -> Res<()> {
    let a = Args::parse(args, &["model", "seed"], &["json"])?;
    a.no_positional()?;
    let seed = a.num("seed", 1)? as u64;
    let (model, hash, weights): (PackedModel, String, Option<NetworkWeights>) =
        match a.values.get("model") {
            Some(m) => {
                let l = load(m)?;
                (l.model, l.hash, None)
            }
            None => {
                let w = SynthSpec::paper(Precision::Binary).weights(seed);
                let m = PackedModel::from_weights(&w)
                    .map_err(|e| fail(code::RUNTIME, e.to_string()))?;
                let bytes = m
                    .to_bytes()
                    .map_err(|e| fail(code::RUNTIME, e.to_string()))?;
                (m, model_hash(&bytes), Some(w))
            }
        };
    let feats = random_features(&model.features, seed);
    let isas = Isa::available();
    let engines: Vec<Arc<Engine>> = isas
        .iter()
        .map(|&isa| engine(&model, isa, 1))
        .collect::<Res<_>>()?;
    let mut problems = Vec::new();
    let mut paths = Vec::new();
    for path in 0..model.paths.len() {
        let mut first: Option<Vec<f32>> = None;
        for (e, isa) in engines.iter().zip(&isas) {
            let got = e.session().forward(path, &feats).map_err(runtime)?.to_vec();
            match &first {
                None => first = Some(got),
                Some(f) if f.iter().zip(&got).all(|(x, y)| x.to_bits() == y.to_bits()) => {}
                Some(_) => problems.push(format!("path {path}: {isa} differs from {}", isas[0])),
            }
        }
        let logits = first.unwrap_or_default();
        let best = argmax(&logits);
        let reference_err = match &weights {
            Some(w) => {
                let r = reference::forward(w, path, &feats).map_err(runtime)?;
                let scale = 1.0 + r.iter().fold(0f32, |m, v| m.max(v.abs()));
                let err = logits
                    .iter()
                    .zip(&r)
                    .fold(0f32, |m, (x, y)| m.max((x - y).abs()))
                    / scale;
                if err.is_nan() || err >= 1e-5 || argmax(&r) != best {
                    problems.push(format!(
                        "path {path}: reference differs (relative error {err:e}, argmax {} vs {best})",
                        argmax(&r)
                    ));
                }
                Some(err)
            }
            None => None,
        };
        paths.push(SelftestPath {
            path: count(path),
            argmax: count(best),
            logits_bits: logits
                .iter()
                .map(|v| format!("{:08x}", v.to_bits()))
                .collect(),
            logits,
            reference_relative_error: reference_err,
        });
    }
    let ok = problems.is_empty();
    if a.flag("json") {
        print_json(&SelftestReport {
            schema: SELFTEST_SCHEMA.to_owned(),
            runner_version: VERSION.to_owned(),
            arch: std::env::consts::ARCH.to_owned(),
            isas: isas.iter().map(|i| i.name().to_owned()).collect(),
            model_hash: hash,
            generated_model: weights.is_some(),
            seed,
            paths,
            ok,
            problems: problems.clone(),
        })?;
    } else {
        let names: Vec<&str> = isas.iter().map(|i| i.name()).collect();
        outln!(
            "selftest {} on {} ({})",
            if ok { "passed" } else { "FAILED" },
            std::env::consts::ARCH,
            names.join(", ")
        );
        for p in &problems {
            outln!("  {p}");
        }
    }
    if ok {
        Ok(())
    } else {
        Err(fail(
            code::SELFTEST,
            format!("self-test failed: {}", problems.join("; ")),
        ))
    }
}

fn synth(args: &[String]) -> Res<()> {
    let a = Args::parse(args, &["out", "seed"], &["float", "tiny", "f16", "q8"])?;
    a.no_positional()?;
    let out = a
        .values
        .get("out")
        .ok_or_else(|| fail(code::USAGE, "synth needs --out"))?;
    let precision = if a.flag("float") {
        Precision::Float
    } else {
        Precision::Binary
    };
    let spec = if a.flag("tiny") {
        SynthSpec::tiny(precision)
    } else {
        SynthSpec::paper(precision)
    };
    if a.flag("f16") && a.flag("q8") {
        return Err(fail(code::USAGE, "--f16 and --q8 exclude each other"));
    }
    let dt = if a.flag("f16") {
        FloatDtype::F16
    } else if a.flag("q8") {
        FloatDtype::Q8
    } else {
        FloatDtype::F32
    };
    let m = PackedModel::from_weights(&spec.weights(a.num("seed", 1)? as u64))
        .map_err(|e| fail(code::RUNTIME, e.to_string()))?
        .with_storage(Storage {
            fp_weights: dt,
            per_channel: dt,
        });
    let bytes = m
        .to_bytes()
        .map_err(|e| fail(code::RUNTIME, e.to_string()))?;
    m.save(out)
        .map_err(|e| fail(code::RUNTIME, e.to_string()))?;
    outln!("{out}: {} bytes, {}", bytes.len(), model_hash(&bytes));
    Ok(())
}

fn run(args: &[String]) -> Res<()> {
    let Some((cmd, rest)) = args.split_first() else {
        return Err(fail(code::USAGE, format!("missing command\n\n{USAGE}")));
    };
    let usage = match cmd.as_str() {
        "info" => INFO_USAGE,
        "bench" => BENCH_USAGE,
        "classify" => CLASSIFY_USAGE,
        "selftest" => SELFTEST_USAGE,
        "synth" => SYNTH_USAGE,
        _ => USAGE,
    };
    if rest.iter().any(|a| a == "--help" || a == "-h") {
        outln!("{usage}");
        return Ok(());
    }
    match cmd.as_str() {
        "--version" | "-V" | "version" => {
            outln!("bifsmn-runner {LONG_VERSION}");
            Ok(())
        }
        "--help" | "-h" | "help" => {
            outln!("{USAGE}");
            Ok(())
        }
        "info" => info(rest),
        "bench" => bench(rest),
        "classify" => classify(rest),
        "selftest" => selftest(rest),
        "synth" => synth(rest),
        other => Err(fail(code::USAGE, format!("unknown command '{other}'"))),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            use std::io::Write;
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "bifsmn-runner: {}", f.msg);
            if f.code == code::USAGE {
                let _ = writeln!(err, "(see 'bifsmn-runner --help')");
            }
            ExitCode::from(f.code)
        }
    }
}
