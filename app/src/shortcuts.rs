//! Keyboard shortcuts: one table drives both the handler and the help window.

use egui::{Key, KeyboardShortcut, Modifiers};

/// What a shortcut does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    ShowData,
    ShowTrain,
    ShowInspect,
    ShowTest,
    ShowDeploy,
    PlayStop,
    PreviousClip,
    NextClip,
    DeleteClip,
    Undo,
    OpenAudioFile,
    StartTraining,
    PauseTraining,
    ToggleTheme,
    Help,
}

/// A shortcut and whether it needs the keyboard free (keys that also type text).
pub(crate) struct Binding {
    pub shortcut: KeyboardShortcut,
    pub action: Action,
    pub description: &'static str,
    /// Only when no text field has focus (Space, arrows, Delete).
    pub plain: bool,
}

const fn b(
    modifiers: Modifiers,
    key: Key,
    action: Action,
    description: &'static str,
    plain: bool,
) -> Binding {
    Binding {
        shortcut: KeyboardShortcut::new(modifiers, key),
        action,
        description,
        plain,
    }
}

/// Every shortcut.
pub(crate) const BINDINGS: &[Binding] = &[
    b(
        Modifiers::COMMAND,
        Key::Num1,
        Action::ShowData,
        "Data panel",
        false,
    ),
    b(
        Modifiers::COMMAND,
        Key::Num2,
        Action::ShowTrain,
        "Train panel",
        false,
    ),
    b(
        Modifiers::COMMAND,
        Key::Num3,
        Action::ShowInspect,
        "Inspect panel",
        false,
    ),
    b(
        Modifiers::COMMAND,
        Key::Num4,
        Action::ShowTest,
        "Test panel",
        false,
    ),
    b(
        Modifiers::COMMAND,
        Key::Num5,
        Action::ShowDeploy,
        "Deploy panel",
        false,
    ),
    b(
        Modifiers::NONE,
        Key::Space,
        Action::PlayStop,
        "Play / stop the selected clip",
        true,
    ),
    b(
        Modifiers::NONE,
        Key::ArrowUp,
        Action::PreviousClip,
        "Previous clip in the list",
        true,
    ),
    b(
        Modifiers::NONE,
        Key::ArrowDown,
        Action::NextClip,
        "Next clip in the list",
        true,
    ),
    b(
        Modifiers::NONE,
        Key::Delete,
        Action::DeleteClip,
        "Delete the selected clip (to .trash)",
        true,
    ),
    b(
        Modifiers::COMMAND,
        Key::Z,
        Action::Undo,
        "Undo the last relabel or delete",
        true,
    ),
    b(
        Modifiers::COMMAND,
        Key::O,
        Action::OpenAudioFile,
        "Open an audio file",
        false,
    ),
    b(
        Modifiers::COMMAND,
        Key::Enter,
        Action::StartTraining,
        "Start training",
        false,
    ),
    b(
        Modifiers::COMMAND,
        Key::P,
        Action::PauseTraining,
        "Pause / resume training",
        false,
    ),
    b(
        Modifiers::COMMAND,
        Key::T,
        Action::ToggleTheme,
        "Light / dark theme",
        false,
    ),
    b(Modifiers::NONE, Key::F1, Action::Help, "This help", false),
];

/// Consume the pressed shortcuts; `typing` is true while a text field has the keyboard.
pub(crate) fn pressed(ctx: &egui::Context, typing: bool) -> Vec<Action> {
    ctx.input_mut(|i| {
        BINDINGS
            .iter()
            .filter(|b| !(b.plain && typing))
            .filter(|b| i.consume_shortcut(&b.shortcut))
            .map(|b| b.action)
            .collect()
    })
}

/// The help window's table.
pub(crate) fn help_ui(ui: &mut egui::Ui) {
    egui::Grid::new("shortcut-help")
        .striped(true)
        .num_columns(2)
        .show(ui, |ui| {
            for b in BINDINGS {
                ui.label(egui::RichText::new(ui.ctx().format_shortcut(&b.shortcut)).monospace());
                ui.label(b.description);
                ui.end_row();
            }
        });
}
