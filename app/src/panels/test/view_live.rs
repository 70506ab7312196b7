//! The Live detection view: source, start/stop, decision settings, the keyword firing now,
//! per-class score traces over the last 10 s and the event list.

use egui::{Color32, RichText, Ui};
use egui_plot::{HLine, Line, LineStyle, Plot, VLine};

use super::TestPanel;
use super::live::{LiveRun, SourceKind, TRACE_SECONDS};
use super::view_side::level_meter;

/// Distinct line colours (Okabe-Ito, then a few more), readable on both themes.
const PALETTE: [Color32; 12] = [
    Color32::from_rgb(230, 159, 0),
    Color32::from_rgb(86, 180, 233),
    Color32::from_rgb(0, 158, 115),
    Color32::from_rgb(240, 228, 66),
    Color32::from_rgb(0, 114, 178),
    Color32::from_rgb(213, 94, 0),
    Color32::from_rgb(204, 121, 167),
    Color32::from_rgb(160, 120, 240),
    Color32::from_rgb(120, 200, 120),
    Color32::from_rgb(250, 120, 120),
    Color32::from_rgb(150, 150, 150),
    Color32::from_rgb(100, 220, 220),
];

/// The colour of class `i` (darker on the light theme, where the light ones would fade).
pub(super) fn class_color(ui: &Ui, i: usize) -> Color32 {
    let c = PALETTE[i % PALETTE.len()];
    if ui.visuals().dark_mode {
        c
    } else {
        let d = |v: u8| (v as f32 * 0.72) as u8;
        Color32::from_rgb(d(c.r()), d(c.g()), d(c.b()))
    }
}

impl TestPanel {
    pub(super) fn live_ui(&mut self, ui: &mut Ui, ctx: &egui::Context) {
        let running = self.detecting() || self.pending_detect || self.live_task.is_some();
        ui.horizontal_wrapped(|ui| {
            ui.label("Source");
            ui.add_enabled_ui(!running, |ui| {
                ui.selectable_value(&mut self.source, SourceKind::Microphone, "Microphone");
                ui.selectable_value(&mut self.source, SourceKind::AudioFile, "Audio file");
            });
        });
        if self.source == SourceKind::AudioFile {
            ui.horizontal_wrapped(|ui| {
                ui.add_enabled_ui(!running, |ui| {
                    self.file_field
                        .ui(ui, "File", "WAV, FLAC, Ogg or MP3 to stream", 320.0);
                    egui::ComboBox::from_id_salt("test-speed")
                        .selected_text(if self.real_time {
                            "real time"
                        } else {
                            "as fast as possible"
                        })
                        .show_ui(ui, |ui| {
                            ui.selectable_value(&mut self.real_time, true, "real time");
                            ui.selectable_value(&mut self.real_time, false, "as fast as possible");
                        })
                        .response
                        .accessible_name("speed");
                });
            });
        }
        ui.horizontal_wrapped(|ui| {
            if running {
                if ui
                    .button(RichText::new("Stop detection").size(14.0))
                    .clicked()
                {
                    self.stop_live();
                }
            } else {
                let can = self.slot.model.is_some() && self.recording.is_none();
                let r = ui.add_enabled(
                    can,
                    egui::Button::new(RichText::new("Start detection").size(14.0)),
                );
                if r.clicked() {
                    self.start_live(ctx);
                }
                if self.slot.model.is_none() {
                    ui.weak("Load a model at the top first.");
                } else if self.recording.is_some() {
                    ui.weak("Recording is using the microphone.");
                }
            }
            if self.pending_detect || self.live_task.is_some() {
                ui.spinner();
            }
            ui.separator();
            let l = ui.label("Threshold");
            let r = ui
                .add(egui::Slider::new(&mut self.threshold, 0.0..=1.0).fixed_decimals(2))
                .labelled_by(l.id);
            if r.changed()
                && let Some(run) = &self.live
            {
                run.set_threshold(self.threshold);
            }
            ui.separator();
            let l = ui.label("Smoothing");
            ui.add(
                egui::DragValue::new(&mut self.smoothing)
                    .range(1..=20)
                    .suffix(" windows"),
            )
            .labelled_by(l.id)
            .on_hover_text("Moving average of the last N posteriors (100 ms apart). Applies at the next start.");
            let l = ui.label("Refractory");
            ui.add(
                egui::DragValue::new(&mut self.refractory_ms)
                    .range(0.0..=5000.0)
                    .speed(10.0)
                    .suffix(" ms"),
            )
            .labelled_by(l.id)
            .on_hover_text("Quiet time after each detection. Applies at the next start.");
        });
        super::notice_slot(ui, &mut self.live_notice);
        ui.add_space(4.0);
        let idle;
        let run = match &self.live {
            Some(run) => run,
            None => {
                ui.add_space(8.0);
                ui.label(
                    "Start detection to see the smoothed score of every class over the last 10 s; \
                     a keyword fires when its score crosses the threshold.",
                );
                if self.source == SourceKind::Microphone {
                    ui.weak("Without a microphone, choose Source › Audio file to stream a recording through the detector.");
                }
                ui.add_space(8.0);
                let Some(model) = &self.slot.model else {
                    return;
                };
                idle = LiveRun::idle(model.packed.labels.clone());
                &idle
            }
        };
        // Status line and the keyword firing now.
        if self.live.is_some() {
            self.status_row(ui, run);
        }
        ui.add_space(4.0);
        class_key(ui, run);
        let events_w = 250.0;
        let plot_h = (ui.available_height() - 8.0).max(180.0);
        ui.horizontal_top(|ui| {
            let plot_w = (ui.available_width() - events_w - 12.0).max(300.0);
            ui.vertical(|ui| {
                ui.set_width(plot_w);
                trace_plot(ui, run, self.threshold, plot_h);
            });
            ui.vertical(|ui| {
                ui.set_width(events_w);
                event_list(ui, run, plot_h);
            });
        });
    }

    fn status_row(&self, ui: &mut Ui, run: &LiveRun) {
        ui.horizontal(|ui| {
            let (text, color) = match run.firing() {
                Some(ev) => (
                    format!("{}  {:.2}", ev.label.to_uppercase(), ev.score),
                    class_color(ui, ev.class),
                ),
                None if run.is_running() => {
                    ("listening…".to_string(), ui.visuals().weak_text_color())
                }
                None => ("stopped".to_string(), ui.visuals().weak_text_color()),
            };
            egui::Frame::new()
                .fill(ui.visuals().extreme_bg_color)
                .corner_radius(6.0)
                .inner_margin(egui::Margin::symmetric(14, 6))
                .show(ui, |ui| {
                    ui.set_min_width(240.0);
                    ui.set_min_height(44.0);
                    ui.label(RichText::new(text).size(30.0).strong().color(color))
                        .on_hover_text("The keyword detected in the last 1.5 s");
                });
            ui.vertical(|ui| {
                ui.label(format!(
                    "{} {}",
                    if run.is_running() {
                        "Listening to"
                    } else {
                        "Listened to"
                    },
                    run.source
                ));
                let mut facts = vec![format!("{:.1} s", run.now_s())];
                if let Some(d) = &run.detector {
                    facts.push(format!(
                        "compute {:.1} % of real time ({:.2} ms per window)",
                        100.0 * d.real_time_factor,
                        d.mean_window_ms
                    ));
                }
                facts.push(format!(
                    "{} event{}",
                    run.events.len(),
                    if run.events.len() == 1 { "" } else { "s" }
                ));
                ui.weak(facts.join(" · "));
                level_meter(ui, run.level, 300.0);
            });
        });
    }
}

fn trace_plot(ui: &mut Ui, run: &LiveRun, threshold: f32, height: f32) {
    let now = run.now_s().max(TRACE_SECONDS);
    let dark = ui.visuals().dark_mode;
    let threshold = threshold as f64;
    let threshold_color = ui.visuals().text_color().gamma_multiply(0.6);
    let colors: Vec<Color32> = (0..run.labels.len().max(1))
        .map(|c| class_color(ui, c))
        .collect();
    let color_of = |c: usize| colors[c % colors.len()];
    Plot::new("test-traces")
        .height(height)
        .x_axis_label("stream time (s)")
        .y_axis_label("smoothed score")
        .default_x_bounds(now - TRACE_SECONDS, now)
        .default_y_bounds(0.0, 1.02)
        .allow_drag(false)
        .allow_zoom(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .show(ui, |plot| {
            for (c, label) in run.labels.iter().enumerate() {
                let pts: Vec<[f64; 2]> = run
                    .points
                    .iter()
                    .filter(|(t, _)| *t >= now - TRACE_SECONDS - 0.2)
                    .map(|(t, s)| [*t, s.get(c).copied().unwrap_or(0.0) as f64])
                    .collect();
                let keyword = run.keywords.get(c).copied().unwrap_or(true);
                let color = if keyword {
                    color_of(c)
                } else {
                    color_of(c).gamma_multiply(if dark { 0.45 } else { 0.6 })
                };
                let mut line = Line::new(label.clone(), pts)
                    .color(color)
                    .width(if keyword { 1.8 } else { 1.0 });
                if !keyword {
                    line = line.style(LineStyle::dashed_dense());
                }
                plot.line(line);
            }
            plot.hline(
                HLine::new("threshold", threshold)
                    .color(threshold_color)
                    .style(LineStyle::dashed_loose())
                    .width(1.0),
            );
            for ev in run.events.iter().take(50) {
                if ev.time_s >= now - TRACE_SECONDS {
                    plot.vline(
                        VLine::new("", ev.time_s)
                            .color(color_of(ev.class).gamma_multiply(0.8))
                            .width(1.0),
                    );
                }
            }
        });
}

/// The colour of every class (keywords first; the others are dashed in the plot).
fn class_key(ui: &mut Ui, run: &LiveRun) {
    let dark = ui.visuals().dark_mode;
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing.x = 4.0;
        let order = (0..run.labels.len())
            .filter(|&c| run.keywords.get(c).copied().unwrap_or(true))
            .chain(
                (0..run.labels.len()).filter(|&c| !run.keywords.get(c).copied().unwrap_or(true)),
            );
        for c in order {
            let keyword = run.keywords.get(c).copied().unwrap_or(true);
            let color = if keyword {
                class_color(ui, c)
            } else {
                class_color(ui, c).gamma_multiply(if dark { 0.45 } else { 0.6 })
            };
            crate::panels::train::charts::swatch(ui, color);
            let text = RichText::new(&run.labels[c]).small();
            if keyword {
                ui.label(text);
            } else {
                ui.label(text.weak())
                    .on_hover_text("not a keyword: never fires (dashed in the plot)");
            }
            ui.add_space(8.0);
        }
        ui.label(RichText::new("- - threshold").small().weak());
    });
}

fn event_list(ui: &mut Ui, run: &LiveRun, height: f32) {
    ui.label(RichText::new("Events (newest first)").strong());
    egui::ScrollArea::vertical()
        .id_salt("test-events")
        .max_height(height - 24.0)
        .auto_shrink([false, false])
        .show(ui, |ui| {
            if run.events.is_empty() {
                ui.weak("No keyword yet.");
                return;
            }
            egui::Grid::new("test-event-grid")
                .striped(true)
                .num_columns(3)
                .spacing([12.0, 3.0])
                .show(ui, |ui| {
                    ui.weak("time");
                    ui.weak("keyword");
                    ui.weak("score");
                    ui.end_row();
                    for ev in &run.events {
                        ui.label(RichText::new(format_time(ev.time_s)).monospace());
                        ui.label(
                            RichText::new(&ev.label)
                                .strong()
                                .color(class_color(ui, ev.class)),
                        );
                        ui.label(format!("{:.2}", ev.score));
                        ui.end_row();
                    }
                });
        });
}

/// `m:ss.s`.
fn format_time(s: f64) -> String {
    let m = (s / 60.0).floor();
    format!("{}:{:04.1}", m as u64, s - 60.0 * m)
}
