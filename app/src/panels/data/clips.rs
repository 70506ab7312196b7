//! The clip list: text, class and split filters, sortable columns, virtual scrolling (only the
//! visible rows are laid out, so 100 000 clips scroll as fast as 100).

use bifsmn_engine::data::{Dataset, Split};
use egui::{RichText, Ui};

/// Sort column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(super) enum SortBy {
    Name,
    Class,
    Split,
    Speaker,
}

/// Filter and sort state, plus the cached row order.
pub(super) struct ClipList {
    pub text: String,
    pub class: Option<usize>,
    pub split: Option<Split>,
    pub sort: SortBy,
    pub ascending: bool,
    /// Indices into `dataset.clips` in display order.
    rows: Vec<usize>,
    /// Dataset generation and filter signature the rows were computed for.
    key: Option<(u64, String)>,
}

impl Default for ClipList {
    fn default() -> Self {
        Self {
            text: String::new(),
            class: None,
            split: None,
            sort: SortBy::Name,
            ascending: true,
            rows: Vec::new(),
            key: None,
        }
    }
}

const ROW_HEIGHT: f32 = 20.0;

impl ClipList {
    /// Rows in display order (call [`ClipList::refresh`] first).
    pub(super) fn rows(&self) -> &[usize] {
        &self.rows
    }

    fn signature(&self) -> String {
        format!(
            "{}|{:?}|{:?}|{:?}|{}",
            self.text, self.class, self.split, self.sort, self.ascending
        )
    }

    /// Recompute the rows when the dataset (`generation`) or the filters changed.
    pub(super) fn refresh(&mut self, dataset: &Dataset, generation: u64) {
        let key = (generation, self.signature());
        if self.key.as_ref() == Some(&key) {
            return;
        }
        let needle = self.text.trim().to_lowercase();
        let names: Vec<String> = dataset
            .clips
            .iter()
            .map(|c| dataset.relative_name(c))
            .collect();
        let mut rows: Vec<usize> = (0..dataset.clips.len())
            .filter(|&i| {
                let c = &dataset.clips[i];
                self.class.is_none_or(|k| c.label == k)
                    && self.split.is_none_or(|s| c.split == s)
                    && (needle.is_empty()
                        || names[i].to_lowercase().contains(&needle)
                        || dataset.labels[c.label].contains(&needle))
            })
            .collect();
        let clips = &dataset.clips;
        match self.sort {
            SortBy::Name => rows.sort_by(|&a, &b| names[a].cmp(&names[b])),
            SortBy::Class => rows.sort_by_key(|&i| (clips[i].label, names[i].clone())),
            SortBy::Split => rows.sort_by_key(|&i| (clips[i].split, names[i].clone())),
            SortBy::Speaker => rows.sort_by(|&a, &b| {
                (&clips[a].speaker, &names[a]).cmp(&(&clips[b].speaker, &names[b]))
            }),
        }
        if !self.ascending {
            rows.reverse();
        }
        self.rows = rows;
        self.key = Some(key);
    }

    /// Filter controls.
    pub(super) fn filters_ui(&mut self, ui: &mut Ui, dataset: &Dataset) {
        ui.horizontal_wrapped(|ui| {
            let l = ui.label("Filter");
            ui.add(
                egui::TextEdit::singleline(&mut self.text)
                    .hint_text("name, speaker or class")
                    .desired_width(150.0),
            )
            .labelled_by(l.id);
            egui::ComboBox::from_id_salt("clip-class-filter")
                .selected_text(
                    self.class
                        .and_then(|k| dataset.labels.get(k).cloned())
                        .unwrap_or_else(|| "all classes".into()),
                )
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.class, None, "all classes");
                    for (k, name) in dataset.labels.iter().enumerate() {
                        ui.selectable_value(&mut self.class, Some(k), name);
                    }
                })
                .response
                .accessible_name("class filter");
            egui::ComboBox::from_id_salt("clip-split-filter")
                .selected_text(self.split.map_or("all splits", Split::name))
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.split, None, "all splits");
                    for s in Split::ALL {
                        ui.selectable_value(&mut self.split, Some(s), s.name());
                    }
                })
                .response
                .accessible_name("split filter");
        });
    }

    /// The list; returns the clip index the user clicked.
    pub(super) fn list_ui(
        &mut self,
        ui: &mut Ui,
        dataset: &Dataset,
        selected: Option<usize>,
    ) -> Option<usize> {
        let widths = [0.52, 0.18, 0.14, 0.16];
        // Room for the scroll bar and the gaps between the four cells: the cells must not
        // add up to more than the panel, or a resizable panel grows every frame.
        let total = ui.available_width() - 16.0 - 3.0 * ui.spacing().item_spacing.x;
        let col = |i: usize| (total * widths[i]).max(40.0);
        // A left-aligned cell of a fixed width.
        let cell = |ui: &mut Ui, i: usize, add: &mut dyn FnMut(&mut Ui) -> egui::Response| {
            ui.allocate_ui_with_layout(
                egui::vec2(col(i), ROW_HEIGHT),
                egui::Layout::left_to_right(egui::Align::Center),
                |ui| {
                    ui.set_min_size(egui::vec2(col(i), ROW_HEIGHT));
                    add(ui)
                },
            )
            .inner
        };
        let mut clicked = None;
        ui.horizontal(|ui| {
            for (i, (label, by)) in [
                ("Clip", SortBy::Name),
                ("Class", SortBy::Class),
                ("Split", SortBy::Split),
                ("Speaker", SortBy::Speaker),
            ]
            .into_iter()
            .enumerate()
            {
                let arrow = if self.sort == by {
                    if self.ascending { " (asc)" } else { " (desc)" }
                } else {
                    ""
                };
                let text = RichText::new(format!("{label}{arrow}")).strong();
                let r = cell(ui, i, &mut |ui| {
                    ui.add(egui::Button::new(text.clone()).frame(false))
                        .on_hover_text(format!("Sort by {}", label.to_lowercase()))
                });
                if r.clicked() {
                    if self.sort == by {
                        self.ascending = !self.ascending;
                    } else {
                        self.sort = by;
                        self.ascending = true;
                    }
                }
            }
        });
        ui.separator();
        let rows = &self.rows;
        egui::ScrollArea::vertical()
            .id_salt("clip-list")
            .auto_shrink([false, false])
            .show_rows(ui, ROW_HEIGHT, rows.len(), |ui, range| {
                for &i in &rows[range] {
                    let c = &dataset.clips[i];
                    ui.horizontal(|ui| {
                        let name = dataset.relative_name(c);
                        let r = cell(ui, 0, &mut |ui| {
                            ui.add(
                                egui::Button::selectable(selected == Some(i), name.as_str())
                                    .truncate(),
                            )
                        });
                        if r.clicked() {
                            clicked = Some(i);
                        }
                        cell(ui, 1, &mut |ui| {
                            ui.add(egui::Label::new(&dataset.labels[c.label]).truncate())
                        });
                        cell(ui, 2, &mut |ui| ui.label(c.split.name()));
                        cell(ui, 3, &mut |ui| {
                            ui.add(egui::Label::new(&c.speaker).truncate())
                        });
                    });
                }
            });
        clicked
    }
}
