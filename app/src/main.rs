//! `bifsmn-workbench`: the eframe window around [`bifsmn_app::Workbench`], plus the
//! screenshot and frame-timing options used by `packaging/screenshots.sh`.

// The launcher answers --help, --version and --screenshot on stdout, like any command.
#![allow(clippy::print_stdout)]

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;

use bifsmn_app::{LaunchOptions, Settings, Workbench, launch};

/// Screenshot progress shared with the screenshot callback.
const SHOT_NONE: u8 = 0;
const SHOT_PENDING: u8 = 1;
const SHOT_SAVED: u8 = 2;
const SHOT_FAILED: u8 = 3;

struct App {
    wb: Workbench,
    launch: LaunchOptions,
    frames: u64,
    shot: Arc<AtomicU8>,
    frame_log: Option<std::io::BufWriter<std::fs::File>>,
    last_frame: Option<Instant>,
    started: Instant,
}

impl eframe::App for App {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let t0 = Instant::now();
        let interval = self.last_frame.map(|t| t.elapsed());
        self.last_frame = Some(t0);
        self.wb.ui(ui);
        self.frames += 1;
        let ctx = ui.ctx().clone();
        if let Some(log) = &mut self.frame_log {
            let _ = writeln!(
                log,
                "{},{:.3},{:.3},{:.3},{},{}",
                self.frames,
                self.started.elapsed().as_secs_f64(),
                t0.elapsed().as_secs_f64() * 1e3,
                interval.map_or(0.0, |d| d.as_secs_f64() * 1e3),
                self.wb.train.is_active() as u8,
                self.wb.train.live_epochs()
            );
            // Measure the achievable rate, not the idle one: keep frames coming.
            ctx.request_repaint();
        }
        self.screenshot(&ctx);
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        if !self.launch.fresh {
            eframe::set_value(storage, eframe::APP_KEY, &self.wb.settings());
        }
    }
}

impl App {
    fn screenshot(&mut self, ctx: &egui::Context) {
        let Some(out) = self.launch.screenshot.clone() else {
            return;
        };
        match self.shot.load(Ordering::Acquire) {
            SHOT_NONE => {
                let ready = self.frames >= self.launch.screenshot_after_frames
                    && self.wb.train.live_epochs() >= self.launch.screenshot_after_epochs
                    // Wait for loads to finish, but never forever.
                    && (!self.wb.loading() || self.frames > self.launch.screenshot_after_frames + self.launch.screenshot_wait_frames);
                if ready {
                    self.shot.store(SHOT_PENDING, Ordering::Release);
                    let state = self.shot.clone();
                    ctx.request_screenshot(move |image| {
                        let ok = save_png(&out, &image);
                        state.store(if ok { SHOT_SAVED } else { SHOT_FAILED }, Ordering::Release);
                    });
                }
                ctx.request_repaint();
            }
            SHOT_PENDING => ctx.request_repaint(),
            SHOT_SAVED | SHOT_FAILED => {
                if let Some(log) = &mut self.frame_log {
                    let _ = log.flush();
                }
                ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            }
            _ => {}
        }
    }
}

fn save_png(out: &PathBuf, image: &egui::ColorImage) -> bool {
    let [w, h] = image.size;
    let bytes: Vec<u8> = image.pixels.iter().flat_map(|c| c.to_array()).collect();
    let Some(img) = image::RgbaImage::from_raw(w as u32, h as u32, bytes) else {
        eprintln!("bifsmn-workbench: screenshot has an unexpected size {w}x{h}");
        return false;
    };
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        let _ = std::fs::create_dir_all(dir);
    }
    match img.save(out) {
        Ok(()) => {
            println!("screenshot saved to {}", out.display());
            true
        }
        Err(e) => {
            eprintln!("bifsmn-workbench: cannot write {}: {e}", out.display());
            false
        }
    }
}

/// A 32x32 window icon: a bit plane in the app's colours.
fn icon() -> egui::IconData {
    let n = 32usize;
    let mut rgba = Vec::with_capacity(n * n * 4);
    for y in 0..n {
        for x in 0..n {
            // A fixed pseudo-random pattern (an LCG of the position), framed.
            let edge = x == 0 || y == 0 || x == n - 1 || y == n - 1;
            let h = (x as u32 * 73_856_093) ^ (y as u32 * 19_349_663);
            let plus = (h >> 7) & 1 == 1;
            let c = if edge {
                egui::Color32::from_rgb(30, 30, 40)
            } else {
                bifsmn_app::colormap::bit(plus)
            };
            rgba.extend_from_slice(&c.to_array());
        }
    }
    egui::IconData {
        rgba,
        width: n as u32,
        height: n as u32,
    }
}

/// Leave one core to the UI: burn's CPU backends use rayon's global pool, which by default
/// takes every core and starves the window while a model trains. Measured on 2 cores (debug
/// build, Xvfb): with one rayon thread training was faster too (46 instead of 30 clips/s, less
/// contention) and frames came 1.6x as often.
fn reserve_a_core_for_the_ui() {
    if std::env::var_os("RAYON_NUM_THREADS").is_some() {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // SAFETY: called first thing in `main`, before any other thread exists.
    unsafe {
        std::env::set_var(
            "RAYON_NUM_THREADS",
            cores.saturating_sub(1).max(1).to_string(),
        )
    };
}

fn main() -> std::process::ExitCode {
    reserve_a_core_for_the_ui();
    let launch = match LaunchOptions::parse(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("bifsmn-workbench: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    if launch.help {
        print!("{}", launch::USAGE);
        return std::process::ExitCode::SUCCESS;
    }
    if launch.version {
        println!("bifsmn-workbench {}", bifsmn_engine::version::LONG);
        return std::process::ExitCode::SUCCESS;
    }
    let frame_log = match &launch.frame_log {
        Some(p) => match std::fs::File::create(p) {
            Ok(f) => {
                let mut w = std::io::BufWriter::new(f);
                let _ = writeln!(w, "frame,t_s,ui_ms,interval_ms,training,epochs_done");
                Some(w)
            }
            Err(e) => {
                eprintln!("bifsmn-workbench: cannot write {}: {e}", p.display());
                return std::process::ExitCode::from(2);
            }
        },
        None => None,
    };
    // A fresh start must neither read nor overwrite the user's remembered state, including
    // egui's own (panel sizes, scroll positions): give eframe a throwaway file.
    let throwaway = launch.fresh.then(|| {
        std::env::temp_dir().join(format!("bifsmn-workbench-fresh-{}.ron", std::process::id()))
    });
    let options = eframe::NativeOptions {
        renderer: eframe::Renderer::Glow,
        persistence_path: throwaway.clone(),
        viewport: egui::ViewportBuilder::default()
            .with_title("BiFSMN Workbench")
            .with_app_id("bifsmn-workbench")
            .with_inner_size([1360.0, 860.0])
            .with_min_inner_size([900.0, 600.0])
            .with_icon(icon()),
        ..Default::default()
    };
    let result = eframe::run_native(
        "bifsmn-workbench",
        options,
        Box::new(move |cc| {
            let stored: Option<Settings> = if launch.fresh {
                None
            } else {
                cc.storage
                    .and_then(|s| eframe::get_value(s, eframe::APP_KEY))
            };
            let wb = Workbench::new(&cc.egui_ctx, stored, &launch);
            Ok(Box::new(App {
                wb,
                launch,
                frames: 0,
                shot: Arc::new(AtomicU8::new(SHOT_NONE)),
                frame_log,
                last_frame: None,
                started: Instant::now(),
            }))
        }),
    );
    if let Some(f) = throwaway {
        let _ = std::fs::remove_file(f);
    }
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!(
                "bifsmn-workbench: cannot open the window: {e}\n\
                 (a desktop session with OpenGL is needed; on a server, run under xvfb-run)"
            );
            std::process::ExitCode::FAILURE
        }
    }
}
