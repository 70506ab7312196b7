//! The "Teach it my voice" view: the mode, the takes folder (and, for new keywords, the words
//! and their corpus), the keywords with their takes, Fine-tune and the before/after table.

use bifsmn_engine::train::finetune::FinetuneReport;
use egui::{RichText, Ui};

use super::logic::{file_name, per_path, take_id};
use super::new_words::TeachMode;
use super::run::{NEW_WORDS_EPOCHS, PHASE_PREPARE, PHASE_TRAIN};
use super::{
    MIN_TAKES, count, finetune_blocker, foreign_words, next_incomplete, next_keyword, summary,
};
use crate::panels::test::mic::MicCmd;
use crate::panels::test::view_side::{level_meter, recording_status};
use crate::panels::test::{TestPanel, notice_slot};

/// What the view does, in the mode's words.
fn intro(mode: TeachMode) -> &'static str {
    match mode {
        TeachMode::ModelKeywords => {
            "Record or import a few takes of each keyword in your own voice, then fine-tune the \
             loaded model on them. The last take of each keyword is held back to show the \
             difference before and after; the loaded model itself is not changed."
        }
        TeachMode::NewKeywords => {
            "Type words of your own and make a synthetic corpus of them, then record or import \
             a few takes of each in your own voice and fine-tune: the loaded model's network \
             learns the new words with a new classifier. The last take of each keyword is held \
             back to compare; the loaded model itself is not changed."
        }
    }
}

/// The rows of the before/after table under the keywords: what, before, after. For new
/// keywords the replayed corpus is the user's (the base model has no accuracy on it: "—").
fn report_rows(r: &FinetuneReport, mode: TeachMode) -> [(&'static str, String, String); 4] {
    let corpus = match mode {
        TeachMode::ModelKeywords => "Base corpus test split per thin path",
        TeachMode::NewKeywords => "Corpus test split per thin path",
    };
    [
        (
            "Held-back accuracy per thin path",
            per_path(&r.held_back.before),
            per_path(&r.held_back.after),
        ),
        (
            corpus,
            per_path(&r.base_test.before),
            per_path(&r.base_test.after),
        ),
        (
            "False accepts per hour (stream)",
            format!("{:.1}", r.stream.fa_per_hour.0),
            format!("{:.1}", r.stream.fa_per_hour.1),
        ),
        (
            "False-reject rate (stream)",
            format!("{:.1}%", 100.0 * r.stream.frr.0),
            format!("{:.1}%", 100.0 * r.stream.frr.1),
        ),
    ]
}

impl TestPanel {
    /// Start the fine-tune as the Fine-tune button would, if it could be pressed now (the
    /// model loaded, every keyword with enough takes, nothing else running). For
    /// `--start-finetune`; returns whether it started.
    pub(crate) fn start_finetune_if_ready(&mut self, ctx: &egui::Context) -> bool {
        let Some(model) = self.slot.model.clone() else {
            return false;
        };
        let keywords = self.teach_keywords();
        let ready = !keywords.is_empty()
            && self.teach.finetune_task.is_none()
            && !self.teach.busy()
            && !self.slot.loading
            && finetune_blocker(&keywords, &self.teach.takes).is_none();
        if ready {
            self.teach.start_finetune(ctx, &model);
        }
        ready
    }

    /// The "Teach it my voice" view.
    pub(in crate::panels::test) fn teach_ui(&mut self, ui: &mut Ui, ctx: &egui::Context) {
        egui::ScrollArea::vertical()
            .id_salt("teach")
            .auto_shrink([false, false])
            .show(ui, |ui| {
                self.teach_setup_ui(ui);
                let Some(keywords) = self.teach_ready_keywords(ui) else {
                    return;
                };
                self.teach_keyword_list(ui, &keywords);
                self.teach_foreign_takes(ui, &keywords);
                ui.separator();
                self.teach_selected_ui(ui, ctx, &keywords);
                ui.separator();
                self.teach_finetune_ui(ui, ctx, &keywords);
                if self.teach.report.is_some() {
                    ui.separator();
                    self.teach_report_ui(ui);
                }
            });
    }

    /// The intro, the mode, the takes folder and, for new keywords, the words and their
    /// corpus.
    fn teach_setup_ui(&mut self, ui: &mut Ui) {
        ui.label(intro(self.teach.mode));
        ui.add_space(4.0);
        // The keywords change with the mode: not while takes are written or a fine-tune runs.
        let idle = !self.teach.editing() && self.teach.finetune_task.is_none();
        ui.add_enabled_ui(idle && !self.teach.new_words.making(), |ui| {
            ui.horizontal(|ui| {
                for mode in TeachMode::ALL {
                    ui.radio_value(&mut self.teach.mode, mode, mode.label())
                        .on_hover_text(mode.hover());
                }
            });
        });
        let takes_before = self.teach.takes_field.text.clone();
        ui.add_enabled_ui(!self.teach.editing(), |ui| {
            self.teach
                .takes_field
                .ui(ui, "Takes folder", "folder for your takes", 360.0);
            ui.horizontal(|ui| {
                let l = ui.label("Takes per keyword");
                ui.add(egui::DragValue::new(&mut self.teach.per_keyword).range(MIN_TAKES..=50))
                    .labelled_by(l.id);
            });
        });
        let t = &mut self.teach;
        t.new_words.follow_takes(&takes_before, &t.takes_field.text);
        if self.teach.mode == TeachMode::NewKeywords {
            ui.add_space(4.0);
            self.teach.new_words.ui(ui, idle);
        }
        notice_slot(ui, &mut self.teach.notice);
    }

    /// The keywords to record, or why there are none yet (said in the view).
    fn teach_ready_keywords(&self, ui: &mut Ui) -> Option<Vec<String>> {
        let new_words = self.teach.mode == TeachMode::NewKeywords;
        if self.slot.model.is_none() {
            ui.label(if new_words {
                "Load a keyword model in the row above first: its network learns your words."
            } else {
                "Load a keyword model in the row above first: its keywords are what you teach."
            });
            return None;
        }
        let keywords = self.teach_keywords();
        if keywords.is_empty() {
            ui.label(if new_words {
                "Make the corpus of your words first: its keywords are what you record."
            } else {
                "This model has no keywords besides unknown and silence."
            });
            return None;
        }
        Some(keywords)
    }

    /// A warning when the takes folder holds words that are not the current keywords: the
    /// fine-tune would refuse them.
    fn teach_foreign_takes(&self, ui: &mut Ui, keywords: &[String]) {
        let foreign = foreign_words(keywords, &self.teach.takes);
        if foreign.is_empty() {
            return;
        }
        ui.label(
            RichText::new(format!(
                "The takes folder also holds takes of {}, which are not among these keywords: \
                 Fine-tune will refuse them. Use another takes folder for other words.",
                foreign.join(", ")
            ))
            .color(ui.visuals().warn_fg_color),
        );
    }

    /// One button per keyword with its number of takes.
    fn teach_keyword_list(&mut self, ui: &mut Ui, keywords: &[String]) {
        let t = &mut self.teach;
        let valid = t.selected.as_ref().is_some_and(|s| keywords.contains(s));
        if !valid {
            t.selected = next_incomplete(keywords, "", &t.takes, t.per_keyword)
                .or_else(|| keywords.first().cloned());
        }
        ui.horizontal_wrapped(|ui| {
            ui.label("Keywords");
            // A running session records the keyword it started with: keep the view on it.
            ui.add_enabled_ui(!t.recording, |ui| {
                for k in keywords {
                    let n = count(&t.takes, k);
                    let done = if n >= t.per_keyword { " · done" } else { "" };
                    let text = format!("{k} · {n}/{}{done}", t.per_keyword);
                    let selected = t.selected.as_deref() == Some(k.as_str());
                    if ui
                        .selectable_label(selected, text)
                        .on_hover_text(format!("Record or import takes of “{k}”"))
                        .clicked()
                    {
                        t.selected = Some(k.clone());
                    }
                }
            });
        });
    }

    /// The selected keyword: record, import, next, and its takes with play and discard.
    fn teach_selected_ui(&mut self, ui: &mut Ui, ctx: &egui::Context, keywords: &[String]) {
        let Some(keyword) = self.teach.selected.clone() else {
            return;
        };
        let n = self.teach.take_count(&keyword);
        let wanted = self.teach.per_keyword;
        ui.label(
            RichText::new(format!("“{keyword}”: {n} of {wanted} takes"))
                .strong()
                .size(15.0),
        );
        self.teach_record_row(ui, ctx, &keyword, wanted.saturating_sub(n), keywords);
        if let Some(r) = &self.recording
            && self.teach.recording
        {
            recording_status(ui, r);
            level_meter(ui, self.meter.as_ref().map(|m| m.level()), 330.0);
        } else if self.recording.is_some() {
            ui.weak(
                "The microphone is recording clips for the dataset (left); wait for it to finish.",
            );
        } else if self.mic_used_by_detection() {
            ui.weak("Stop live detection to record (it is using the microphone).");
        }
        if let Some(t) = &self.teach.import_task {
            let p = t.progress();
            let fraction = p.fraction().unwrap_or(0.0);
            p.bar_with_cancel(ui, fraction, "importing takes…".into());
        }
        notice_slot(ui, &mut self.player_notice);
        self.teach_take_rows(ui, ctx, &keyword);
    }

    fn teach_record_row(
        &mut self,
        ui: &mut Ui,
        ctx: &egui::Context,
        keyword: &str,
        missing: usize,
        keywords: &[String],
    ) {
        let root = self.teach.takes_root();
        let fine_tuning = self.teach.finetune_task.is_some();
        ui.horizontal_wrapped(|ui| {
            if self.teach.recording {
                if ui.button("Stop recording").clicked()
                    && let Some(m) = &self.mic
                {
                    m.send(MicCmd::CancelRecording);
                }
            } else {
                let can = root.is_some()
                    && self.recording.is_none()
                    && !self.mic_used_by_detection()
                    && !self.teach.importing()
                    && !fine_tuning;
                let count = missing.max(1);
                let text = if missing == 0 {
                    "Record one more take".to_string()
                } else {
                    format!("Record {count} take{}", if count == 1 { "" } else { "s" })
                };
                if ui
                    .add_enabled(can, egui::Button::new(text))
                    .on_hover_text(
                        "Say the word when asked: 2 s per take, trimmed to the spoken second",
                    )
                    .clicked()
                    && let Some(root) = root.clone()
                {
                    self.start_teach_recording(ctx, root, keyword.to_string(), count);
                }
            }
            let can_import = root.is_some() && !self.teach.recording && !fine_tuning;
            if ui
                .add_enabled(
                    can_import && self.teach.dialog.is_none(),
                    egui::Button::new("Import takes…"),
                )
                .on_hover_text(
                    "Add recordings made elsewhere (WAV, FLAC, Ogg, MP3): no microphone needed",
                )
                .clicked()
            {
                self.teach.open_import_dialog(ctx, keyword.to_string());
            }
            if ui
                .add_enabled(!self.teach.recording, egui::Button::new("Next keyword"))
                .clicked()
            {
                self.teach.selected = next_keyword(keywords, keyword);
            }
        });
    }

    fn teach_take_rows(&mut self, ui: &mut Ui, ctx: &egui::Context, keyword: &str) {
        let files = self.teach.takes.get(keyword).cloned().unwrap_or_default();
        if files.is_empty() {
            ui.weak("No takes yet.");
            return;
        }
        let (mut play, mut discard) = (None, None);
        let can_discard = !self.teach.editing() && self.teach.finetune_task.is_none();
        egui::Grid::new("teach-takes")
            .num_columns(3)
            .spacing([10.0, 4.0])
            .show(ui, |ui| {
                for f in &files {
                    ui.label(file_name(f));
                    let playing = self.player.is_playing(take_id(f));
                    if ui
                        .button(if playing { "Stop" } else { "Play" })
                        .on_hover_text(if playing { "Stop" } else { "Play this take" })
                        .clicked()
                    {
                        play = Some(f.clone());
                    }
                    if ui
                        .add_enabled(can_discard, egui::Button::new("Discard"))
                        .on_hover_text("Move it to the .trash folder inside the takes folder")
                        .clicked()
                    {
                        discard = Some(f.clone());
                    }
                    ui.end_row();
                }
            });
        if let Some(p) = play {
            self.play_take(ctx, p);
        }
        if let Some(p) = discard {
            self.discard_take(ctx, p);
        }
    }

    /// The Fine-tune button, or the running fine-tune's progress.
    fn teach_finetune_ui(&mut self, ui: &mut Ui, ctx: &egui::Context, keywords: &[String]) {
        ui.label(RichText::new("Fine-tune on your takes").strong().size(15.0));
        match &self.teach.finetune_task {
            None => {
                let blocker = finetune_blocker(keywords, &self.teach.takes);
                let ready = blocker.is_none()
                    && !self.teach.editing()
                    && !self.teach.new_words.making()
                    && self.slot.model.is_some()
                    && !self.slot.loading;
                let new_words = self.teach.mode == TeachMode::NewKeywords;
                let hover = if new_words {
                    format!(
                        "Train the loaded model's network with a new classifier for these words \
                         on your takes and the whole corpus ({NEW_WORDS_EPOCHS} epochs), then \
                         compare it with the loaded one"
                    )
                } else {
                    "Train a copy of the loaded model on your takes and a replay sample of the \
                     demo set (a few minutes), then compare it with the loaded one"
                        .to_string()
                };
                let clicked = ui
                    .add_enabled(ready, egui::Button::new("Fine-tune"))
                    .on_hover_text(hover)
                    .clicked();
                if clicked && let Some(model) = self.slot.model.clone() {
                    self.teach.start_finetune(ctx, &model);
                }
                if let Some(b) = blocker {
                    ui.weak(b);
                } else if new_words {
                    ui.weak(format!(
                        "New words take longer than a new voice: about 5 minutes on 2 cores \
                         ({NEW_WORDS_EPOCHS} epochs over your takes and the corpus, then the \
                         comparison)."
                    ));
                }
            }
            Some(t) => {
                let p = t.progress();
                match p.phase() {
                    PHASE_PREPARE => {
                        p.bar_with_cancel(ui, 0.0, "preparing the takes and the replay set…".into())
                    }
                    PHASE_TRAIN => {
                        let f = p.fraction().unwrap_or(0.0);
                        p.bar_with_cancel(ui, f, format!("training: {:.0} %", 100.0 * f));
                    }
                    _ => {
                        ui.horizontal(|ui| {
                            ui.spinner();
                            ui.label("comparing before and after (your takes, the test split, a 10-minute stream)…");
                        });
                    }
                }
            }
        }
        notice_slot(ui, &mut self.teach.finetune_notice);
    }

    /// The before/after table, the summary and what to do with the new model.
    fn teach_report_ui(&mut self, ui: &mut Ui) {
        let Some(r) = self.teach.report.clone() else {
            return;
        };
        let heading = ui.label(RichText::new("Before and after").strong().size(15.0));
        if std::mem::take(&mut self.teach.scroll_to_report) {
            heading.scroll_to_me(Some(egui::Align::Min));
        }
        ui.label(summary(&r));
        // The actions sit under the verdict, not under the table: the heading is scrolled to
        // the top when the report arrives, and the table can be taller than the view.
        ui.horizontal(|ui| {
            if ui
                .button("Use the new model")
                .on_hover_text("Load it in this panel, as if chosen in the model row")
                .clicked()
            {
                self.request_load(r.model.clone());
            }
            if ui
                .button("Deploy it…")
                .on_hover_text("Open the Deploy panel with this model selected")
                .clicked()
            {
                self.teach.deploy_request = Some(r.model.clone());
            }
        });
        egui::Grid::new("teach-before-after")
            .num_columns(3)
            .striped(true)
            .spacing([16.0, 4.0])
            .show(ui, |ui| {
                ui.label(RichText::new("Held-back takes recognised").strong());
                ui.label(RichText::new("Before").strong());
                ui.label(RichText::new("After").strong());
                ui.end_row();
                for k in &r.per_keyword {
                    ui.label(&k.keyword);
                    ui.label(format!("{} of {}", k.before, k.takes));
                    ui.label(format!("{} of {}", k.after, k.takes));
                    ui.end_row();
                }
                let rows = report_rows(&r, self.teach.report_mode);
                for (what, before, after) in rows {
                    ui.label(what);
                    ui.label(before);
                    ui.label(after);
                    ui.end_row();
                }
            });
        let replayed = match self.teach.report_mode {
            TeachMode::ModelKeywords => "the demo set's",
            TeachMode::NewKeywords => "the corpus's",
        };
        ui.weak(format!(
            "Thin paths: 8 layers first. Stream: {:.0} min of {replayed} test words at \
             threshold {}. {} takes trained with {} replay clips in {:.0} s. New model: {}",
            r.stream.minutes,
            r.stream.threshold,
            r.train_takes,
            r.replay_clips,
            r.seconds_training,
            r.model.display()
        ));
    }
}
