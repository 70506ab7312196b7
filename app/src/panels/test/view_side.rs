//! The side column: the microphone (device, start/stop, level, overruns) and recording.

use bifsmn_engine::capture::Level;
use egui::{Align2, Color32, FontId, RichText, Sense, Stroke, Ui, pos2, vec2};

use super::mic::{MicCmd, RecordJob, RecordPhase};
use super::{Recording, TestPanel};

/// Lowest level the meter shows.
const METER_FLOOR_DB: f32 = -60.0;

impl TestPanel {
    pub(super) fn mic_ui(&mut self, ui: &mut Ui, ctx: &egui::Context) {
        ui.label(RichText::new("Microphone").strong().size(15.0));
        ui.horizontal(|ui| {
            let l = ui.label("Device");
            let selected = if self.device.is_empty() {
                "System default".to_string()
            } else {
                self.devices
                    .as_ref()
                    .and_then(|ds| {
                        ds.iter()
                            .find(|d| d.id == self.device || d.name == self.device)
                            .map(|d| d.label())
                    })
                    .unwrap_or_else(|| format!("{} (not found)", self.device))
            };
            let before = self.device.clone();
            let running = self.mic.is_some() || self.detecting_from_mic();
            ui.add_enabled_ui(!running, |ui| {
                egui::ComboBox::from_id_salt("test-device")
                    .width(220.0)
                    .selected_text(selected)
                    .show_ui(ui, |ui| {
                        ui.selectable_value(&mut self.device, String::new(), "System default");
                        for d in self.devices.iter().flatten() {
                            let mut text = d.label();
                            if d.is_default {
                                text += " · default";
                            }
                            let r = match (&d.default_config, &d.config_error) {
                                (Some(c), _) => ui
                                    .selectable_value(&mut self.device, d.id.clone(), text)
                                    .on_hover_text(c.to_string()),
                                (None, Some(e)) => ui
                                    .selectable_value(
                                        &mut self.device,
                                        d.id.clone(),
                                        format!("{text} (unavailable)"),
                                    )
                                    .on_hover_text(e),
                                (None, None) => {
                                    ui.selectable_value(&mut self.device, d.id.clone(), text)
                                }
                            };
                            let _ = r;
                        }
                    })
                    .response
                    .labelled_by(l.id);
            });
            if before != self.device {
                self.mic_notice = self
                    .devices
                    .as_ref()
                    .and_then(|list| super::device_problem(list, self.device.trim()));
            }
            if ui
                .add_enabled(self.devices_task.is_none(), egui::Button::new("Refresh"))
                .on_hover_text("List the input devices again (after plugging one in)")
                .clicked()
            {
                self.refresh_devices(ctx);
            }
            if self.devices_task.is_some() {
                ui.spinner();
            }
        });
        ui.horizontal(|ui| {
            if self.detecting_from_mic() {
                ui.weak("In use by live detection");
            } else if self.mic.is_some() {
                if ui.button("Stop microphone").clicked() {
                    self.stop_mic();
                }
            } else if ui
                .button("Start microphone")
                .on_hover_text("Open the device and show its level")
                .clicked()
            {
                self.start_mic(ctx);
            }
            match &self.mic_info {
                Some(info) => {
                    ui.weak(format!("{} · {}", info.device, info.native));
                }
                None if self.mic.is_some() => {
                    ui.spinner();
                    ui.weak("opening…");
                }
                None => {}
            }
        });
        let (level, stats) = match (&self.meter, &self.live) {
            (Some(m), _) => (Some(m.level()), Some(m.stats())),
            (None, Some(run)) if run.is_running() && run.kind == super::SourceKind::Microphone => {
                (run.level, run.capture)
            }
            _ => (None, None),
        };
        level_meter(ui, level, 330.0);
        if let Some(s) = stats {
            let dropped = s.overrun_frames + s.device_xruns;
            let text = format!(
                "{} overrun{} ({} frames dropped)",
                s.overrun_blocks + s.device_xruns,
                if s.overrun_blocks + s.device_xruns == 1 {
                    ""
                } else {
                    "s"
                },
                dropped
            );
            if dropped > 0 {
                ui.colored_label(ui.visuals().warn_fg_color, text)
                    .on_hover_text(
                        "Audio was lost: the reader fell behind or the device reported an overrun.",
                    );
            } else {
                ui.weak(text);
            }
        }
        super::notice_slot(ui, &mut self.mic_notice);
    }

    fn detecting_from_mic(&self) -> bool {
        self.pending_detect
            || self
                .live
                .as_ref()
                .is_some_and(|r| r.is_running() && r.kind == super::SourceKind::Microphone)
    }

    pub(super) fn record_ui(&mut self, ui: &mut Ui, ctx: &egui::Context) {
        ui.label(RichText::new("Record clips").strong().size(15.0));
        let Some(ds) = self.dataset.clone() else {
            ui.label("Open a dataset in the Data panel (Ctrl+1): recordings are added to it.");
            return;
        };
        ui.weak(format!("into {}", ds.root.display()));
        if self.is_demo {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                "This is the bundled demo set (read-only once installed). Record into a copy: Data panel (Ctrl+1) › Make an editable copy, or open your own folder there.",
            );
        }
        let idle = self.recording.is_none();
        ui.add_enabled_ui(idle, |ui| {
            egui::Grid::new("test-record-form")
                .num_columns(2)
                .spacing([10.0, 6.0])
                .show(ui, |ui| {
                    let l = ui.label("Word");
                    ui.horizontal(|ui| {
                        ui.add(
                            egui::TextEdit::singleline(&mut self.rec_label)
                                .hint_text("existing or new word")
                                .desired_width(130.0),
                        )
                        .labelled_by(l.id);
                        let mut words: Vec<&str> = ds
                            .clips
                            .iter()
                            .filter(|c| c.path().is_some())
                            .map(|c| c.word.as_str())
                            .collect();
                        words.sort_unstable();
                        words.dedup();
                        egui::ComboBox::from_id_salt("test-record-words")
                            .width(90.0)
                            .selected_text("existing")
                            .show_ui(ui, |ui| {
                                for w in words {
                                    if ui.selectable_label(self.rec_label == w, w).clicked() {
                                        self.rec_label = w.to_string();
                                    }
                                }
                            })
                            .response
                            .accessible_name("existing words");
                    });
                    ui.end_row();
                    let l = ui.label("Speaker");
                    ui.add(
                        egui::TextEdit::singleline(&mut self.rec_speaker)
                            .hint_text("your name (any text)")
                            .desired_width(224.0),
                    )
                    .labelled_by(l.id)
                    .on_hover_text("Files carry an id derived from it; all clips of one speaker stay in one split.");
                    ui.end_row();
                    let l = ui.label("Clip length");
                    ui.add(
                        egui::Slider::new(&mut self.rec_seconds, 0.5..=5.0)
                            .step_by(0.25)
                            .suffix(" s"),
                    )
                    .labelled_by(l.id);
                    ui.end_row();
                    ui.label("");
                    ui.checkbox(&mut self.rec_trim, "Auto-trim to the spoken part (1 s clip)")
                        .on_hover_text("Energy-based speech detection; the speech is centred in a 1 s clip. Recordings without speech are not saved.");
                    ui.end_row();
                    let l = ui.label("Clips");
                    ui.add(egui::DragValue::new(&mut self.rec_count).range(1..=100))
                        .labelled_by(l.id);
                    ui.end_row();
                });
        });
        let label_error = if self.rec_label.trim().is_empty() {
            Some("Type the word to record (or pick an existing one).".to_string())
        } else {
            bifsmn_engine::capture::record::validate_label(self.rec_label.trim())
                .err()
                .map(|e| e.to_string())
        };
        let speaker_error = self
            .rec_speaker
            .trim()
            .is_empty()
            .then(|| "Type a speaker name.".to_string());
        ui.horizontal(|ui| {
            if idle {
                let ok =
                    label_error.is_none() && speaker_error.is_none() && !self.detecting_from_mic();
                let text = format!(
                    "Record {} clip{}",
                    self.rec_count,
                    if self.rec_count == 1 { "" } else { "s" }
                );
                if ui.add_enabled(ok, egui::Button::new(text)).clicked() {
                    self.start_recording(ctx, ds.root.clone());
                }
            } else if ui.button("Stop recording").clicked()
                && let Some(m) = &self.mic
            {
                m.send(MicCmd::CancelRecording);
            }
        });
        if idle {
            if let Some(e) = label_error.or(speaker_error) {
                ui.weak(e);
            } else if self.detecting_from_mic() {
                ui.weak("Stop live detection to record (it is using the microphone).");
            }
        }
        if let Some(r) = &self.recording {
            recording_status(ui, r);
        }
        super::notice_slot(ui, &mut self.record_notice);
        if !self.record_log.is_empty() {
            ui.add_space(4.0);
            let start = self.record_log.len().saturating_sub(12);
            for (ok, line) in self.record_log[start..].iter().rev() {
                if *ok {
                    ui.label(RichText::new(line).small());
                } else {
                    ui.label(
                        RichText::new(line)
                            .small()
                            .color(ui.visuals().warn_fg_color),
                    );
                }
            }
            if self.dataset_changed {
                ui.weak("The Data panel shows the new clips after its next scan.");
            }
        }
    }

    fn start_recording(&mut self, ctx: &egui::Context, root: std::path::PathBuf) {
        self.record_notice = None;
        self.start_mic(ctx);
        let job = RecordJob {
            root,
            label: self.rec_label.trim().to_string(),
            speaker: self.rec_speaker.trim().to_string(),
            seconds: self.rec_seconds,
            trim: self.rec_trim,
            count: self.rec_count,
            pause: std::time::Duration::from_secs(1),
        };
        self.recording = Some(Recording {
            phase: None,
            plan: None,
            label: job.label.clone(),
        });
        if let Some(m) = &self.mic {
            m.send(MicCmd::Record(job));
        }
    }
}

/// Big status of a recording session: get ready / speak now, with a countdown bar.
pub(super) fn recording_status(ui: &mut Ui, r: &Recording) {
    egui::Frame::new()
        .fill(ui.visuals().faint_bg_color)
        .corner_radius(4.0)
        .inner_margin(8.0)
        .show(ui, |ui| {
            match r.phase {
                None => {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label("Opening the microphone…");
                    });
                }
                Some(RecordPhase::GetReady { clip, count, until }) => {
                    ui.label(
                        RichText::new(format!("Clip {clip} of {count}: get ready…")).size(18.0),
                    );
                    let left = until.saturating_duration_since(std::time::Instant::now());
                    ui.weak(format!("recording starts in {:.1} s", left.as_secs_f32()));
                }
                Some(RecordPhase::Speak { clip, count, until }) => {
                    ui.label(
                        RichText::new(format!("Clip {clip} of {count}: say “{}” now", r.label))
                            .size(18.0)
                            .strong()
                            .color(Color32::from_rgb(230, 70, 60)),
                    );
                    let left = until.saturating_duration_since(std::time::Instant::now());
                    ui.weak(format!("{:.1} s left", left.as_secs_f32()));
                }
            }
            if let Some(p) = &r.plan {
                ui.weak(format!(
                    "speaker id {}: {} split, from index {}",
                    p.speaker_id,
                    p.split.name(),
                    p.next_index
                ));
            }
        });
}

/// A horizontal dBFS bar from -60 to 0: RMS filled, peak as a tick, with the value.
pub(super) fn level_meter(ui: &mut Ui, level: Option<Level>, width: f32) {
    let (rect, resp) = ui.allocate_exact_size(vec2(width, 18.0), Sense::hover());
    let text = match level {
        Some(l) if l.peak_dbfs.is_finite() => format!("{:.0} dBFS peak", l.peak_dbfs),
        Some(_) => "silence".to_string(),
        None => "no input".to_string(),
    };
    resp.widget_info(|| {
        egui::WidgetInfo::labeled(
            egui::accesskit::Role::Meter,
            true,
            format!("input level: {text}"),
        )
    });
    let painter = ui.painter_at(rect);
    let bar = egui::Rect::from_min_size(rect.min, vec2(width - 96.0, rect.height()));
    painter.rect_filled(bar, 3.0, ui.visuals().extreme_bg_color);
    let frac = |db: f32| {
        if db.is_finite() {
            ((db - METER_FLOOR_DB) / -METER_FLOOR_DB).clamp(0.0, 1.0)
        } else {
            0.0
        }
    };
    if let Some(l) = level {
        let color = |db: f32| {
            if db >= -3.0 {
                Color32::from_rgb(230, 70, 60)
            } else if db >= -12.0 {
                Color32::from_rgb(235, 190, 60)
            } else {
                Color32::from_rgb(80, 190, 100)
            }
        };
        let rms = frac(l.rms_dbfs);
        if rms > 0.0 {
            let r = egui::Rect::from_min_size(bar.min, vec2(bar.width() * rms, bar.height()));
            painter.rect_filled(r, 3.0, color(l.rms_dbfs));
        }
        let peak = frac(l.peak_dbfs);
        if peak > 0.0 {
            let x = bar.left() + bar.width() * peak;
            painter.line_segment(
                [pos2(x, bar.top()), pos2(x, bar.bottom())],
                Stroke::new(2.0, color(l.peak_dbfs)),
            );
        }
    }
    // Ticks every 12 dB.
    let weak = ui.visuals().weak_text_color();
    for db in [-48.0, -36.0, -24.0, -12.0] {
        let x = bar.left() + bar.width() * frac(db);
        painter.line_segment(
            [pos2(x, bar.bottom() - 4.0), pos2(x, bar.bottom())],
            Stroke::new(1.0, weak),
        );
    }
    painter.text(
        pos2(bar.right() + 6.0, rect.center().y),
        Align2::LEFT_CENTER,
        text,
        FontId::proportional(11.0),
        if level.is_some() {
            ui.visuals().text_color()
        } else {
            weak
        },
    );
}
