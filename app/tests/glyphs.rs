//! Every non-ASCII character the UI code prints must exist in egui's built-in fonts; otherwise
//! it shows as an empty box on screen (and egui_kittest panics on it).

#![allow(clippy::unwrap_used, clippy::print_stdout)] // Test code: a failed unwrap is a failed test.

use std::collections::BTreeSet;
use std::path::Path;

/// Non-ASCII characters outside comments in the Rust files under `dir`.
fn ui_characters(dir: &Path, out: &mut BTreeSet<char>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            ui_characters(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            for line in text.lines() {
                let code = match line.find("//") {
                    // A `//` inside a string literal (e.g. a URL) is rare here; being strict
                    // about comments is what matters.
                    Some(i) if !line[..i].contains('"') => &line[..i],
                    _ => line,
                };
                out.extend(code.chars().filter(|c| !c.is_ascii()));
            }
        }
    }
}

#[test]
fn every_symbol_in_the_ui_has_a_glyph() {
    let mut chars = BTreeSet::new();
    ui_characters(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut chars,
    );
    let ctx = egui::Context::default();
    // The fonts are loaded by the first pass.
    let mut output = ctx.run_ui(Default::default(), |_| {});
    // Nothing renders here; drop the font atlas upload explicitly.
    output.textures_delta.clear();
    let missing: Vec<String> = chars
        .into_iter()
        .filter(|&c| !ctx.fonts_mut(|f| f.has_glyph(&egui::FontId::proportional(14.0), c)))
        .map(|c| format!("{c:?} (U+{:04X})", c as u32))
        .collect();
    assert!(missing.is_empty(), "no glyph for: {}", missing.join(", "));
}
