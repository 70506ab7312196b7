//! The Confusion matrix view: the grid, and the clips of the clicked cell with playback.

use egui::{RichText, Ui};

use super::TestPanel;
use super::confusion;

impl TestPanel {
    pub(super) fn confusion_ui(&mut self, ui: &mut Ui, ctx: &egui::Context) {
        let Some(ds) = self.dataset.clone() else {
            ui.label("Open a dataset in the Data panel (Ctrl+1): the matrix uses its test split.");
            return;
        };
        if self.slot.model.is_none() {
            ui.label(
                "Load a model at the top to classify the test split of the open dataset with it.",
            );
            return;
        }
        ui.horizontal(|ui| match &self.confusion_task {
            Some(t) => {
                let f = t.progress().fraction().unwrap_or(0.0);
                ui.add(
                    egui::ProgressBar::new(f)
                        .desired_width(220.0)
                        .text(format!("classifying test clips {:.0} %", 100.0 * f)),
                );
                if ui.button("Cancel").clicked() {
                    t.progress().cancel();
                }
            }
            None => {
                if ui
                    .button("Recompute")
                    .on_hover_text("Classify the test split again (e.g. after recording)")
                    .clicked()
                {
                    self.confusion_requested = None;
                    self.request_confusion(ctx);
                }
            }
        });
        super::notice_slot(ui, &mut self.confusion_notice);
        let Some(m) = &self.confusion else {
            return;
        };
        let stale = self.slot.model.is_some()
            && (m.key.model != self.slot.generation
                || m.key.path != self.path
                || m.key.dataset != self.dataset_gen);
        confusion::summary(ui, m, &ds);
        if stale {
            ui.weak("(computed for another model, path or dataset scan; updating)");
        }
        let missing = m.missing_classes();
        if !missing.is_empty() {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!(
                    "The model has no class {}: those clips are always wrong.",
                    missing.join(", ")
                ),
            );
        }
        if !m.unreadable.is_empty() {
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!(
                    "{} clip(s) could not be read and are left out (first: {}: {}).",
                    m.unreadable.len(),
                    m.unreadable[0].0,
                    m.unreadable[0].1
                ),
            );
        }
        ui.add_space(6.0);
        let mut clicked = None;
        let mut play = None;
        ui.horizontal_top(|ui| {
            let grid_w = (ui.available_width() * 0.62).max(420.0);
            ui.vertical(|ui| {
                ui.set_width(grid_w);
                clicked = confusion::grid(ui, m, self.selected_cell);
            });
            ui.separator();
            ui.vertical(|ui| {
                let Some((r, c)) = self.selected_cell else {
                    ui.weak("Click a cell to list its clips, then click a clip to play it.");
                    return;
                };
                let outcomes = &m.cells[r][c];
                ui.label(
                    RichText::new(format!(
                        "true {}, predicted {} · {} clip{}",
                        m.rows[r],
                        m.cols[c],
                        outcomes.len(),
                        if outcomes.len() == 1 { "" } else { "s" }
                    ))
                    .strong(),
                );
                super::notice_slot(ui, &mut self.player_notice);
                egui::ScrollArea::vertical()
                    .id_salt("test-cell-clips")
                    .auto_shrink([false, false])
                    .show(ui, |ui| {
                        if outcomes.is_empty() {
                            ui.weak("No clip here.");
                        }
                        for o in outcomes {
                            let Some(clip) = ds.clips.get(o.clip) else {
                                continue;
                            };
                            let name = ds.relative_name(clip);
                            let playing = self.player.is_playing(o.clip as u64);
                            ui.horizontal(|ui| {
                                if ui
                                    .selectable_label(playing, &name)
                                    .on_hover_text(if playing {
                                        "Playing: click to stop"
                                    } else {
                                        "Click to play"
                                    })
                                    .clicked()
                                {
                                    play = Some(o.clip);
                                }
                                ui.weak(format!("{:.0} %", 100.0 * o.confidence))
                                    .on_hover_text("the model's probability of its prediction");
                            });
                        }
                    });
            });
        });
        if let Some(cell) = clicked {
            self.selected_cell = Some(cell);
            self.player_notice = None;
        }
        if let Some(clip) = play {
            self.play_clip(ctx, clip);
        }
    }
}
