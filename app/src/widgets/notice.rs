//! Inline messages shown where the user is looking: what went wrong and what to do next.

use egui::{Color32, RichText, Ui};

/// A problem with a suggested next step.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub kind: NoticeKind,
    /// What happened (usually the engine's error text, which names the file and the reason).
    pub message: String,
    /// What the user can do about it.
    pub hint: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoticeKind {
    Error,
    Warning,
    Info,
}

impl Notice {
    pub fn error(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            kind: NoticeKind::Error,
            message: message.into(),
            hint: hint.into(),
        }
    }

    pub fn warning(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self {
            kind: NoticeKind::Warning,
            message: message.into(),
            hint: hint.into(),
        }
    }

    pub fn info(message: impl Into<String>) -> Self {
        Self {
            kind: NoticeKind::Info,
            message: message.into(),
            hint: String::new(),
        }
    }

    /// Draw as a framed box. Returns true when the user dismissed it.
    pub fn show(&self, ui: &mut Ui) -> bool {
        let dark = ui.visuals().dark_mode;
        let (accent, icon) = match self.kind {
            NoticeKind::Error => (
                if dark {
                    Color32::from_rgb(255, 120, 110)
                } else {
                    Color32::from_rgb(180, 30, 20)
                },
                "!",
            ),
            NoticeKind::Warning => (
                if dark {
                    Color32::from_rgb(240, 190, 90)
                } else {
                    Color32::from_rgb(150, 95, 0)
                },
                "!",
            ),
            NoticeKind::Info => (ui.visuals().hyperlink_color, "i"),
        };
        let mut dismissed = false;
        egui::Frame::new()
            .stroke(egui::Stroke::new(1.0, accent))
            .corner_radius(4.0)
            .inner_margin(6.0)
            .show(ui, |ui| {
                ui.horizontal_top(|ui| {
                    ui.label(RichText::new(icon).color(accent).strong());
                    ui.vertical(|ui| {
                        ui.add(egui::Label::new(RichText::new(&self.message).color(accent)).wrap());
                        if !self.hint.is_empty() {
                            ui.add(egui::Label::new(&self.hint).wrap());
                        }
                    });
                    if ui.small_button("×").on_hover_text("Dismiss").clicked() {
                        dismissed = true;
                    }
                });
            });
        dismissed
    }
}

/// Show an optional notice and clear it when dismissed.
pub(crate) fn show_slot(ui: &mut Ui, slot: &mut Option<Notice>) {
    if let Some(n) = slot
        && n.show(ui)
    {
        *slot = None;
    }
}
