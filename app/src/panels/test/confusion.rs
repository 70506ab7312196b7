//! The confusion matrix of the loaded model on the dataset's test split, computed on a worker
//! with the packed model (the kernels' log-mel front end and forward pass), drawn as a
//! clickable grid: a cell lists its clips, a clip plays.

use std::sync::Arc;

use bifsmn_engine::data::{Dataset, Split};
use egui::{Align2, Color32, FontId, RichText, Sense, Stroke, Ui, pos2, vec2};

use crate::models::InferenceModel;
use crate::task::Progress;
use crate::widgets::colormap;

/// What a matrix was computed for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Key {
    pub model: u64,
    pub dataset: u64,
    pub path: usize,
}

/// One test clip's outcome.
#[derive(Clone, Debug)]
pub(crate) struct Outcome {
    /// Index into `dataset.clips`.
    pub clip: usize,
    /// The model's probability of its prediction.
    pub confidence: f32,
}

/// The matrix: rows are the dataset's classes (truth), columns the model's (prediction).
pub(crate) struct Confusion {
    pub key: Key,
    pub rows: Vec<String>,
    pub cols: Vec<String>,
    /// `cells[row][col]`: the clips in that cell.
    pub cells: Vec<Vec<Vec<Outcome>>>,
    /// Clips that could not be read: `(name, error)`.
    pub unreadable: Vec<(String, String)>,
    pub seconds: f32,
}

impl Confusion {
    pub(crate) fn count(&self, r: usize, c: usize) -> usize {
        self.cells[r][c].len()
    }

    pub(crate) fn row_total(&self, r: usize) -> usize {
        self.cells[r].iter().map(Vec::len).sum()
    }

    /// The column of row `r`'s class in the model's labels.
    pub(crate) fn diagonal(&self, r: usize) -> Option<usize> {
        self.cols.iter().position(|c| *c == self.rows[r])
    }

    /// Fraction of row `r` classified as its own class.
    pub(crate) fn recall(&self, r: usize) -> Option<f32> {
        let total = self.row_total(r);
        (total > 0).then(|| self.diagonal(r).map_or(0, |c| self.count(r, c)) as f32 / total as f32)
    }

    pub(crate) fn total(&self) -> usize {
        (0..self.rows.len()).map(|r| self.row_total(r)).sum()
    }

    pub(crate) fn accuracy(&self) -> Option<f32> {
        let total = self.total();
        let correct: usize = (0..self.rows.len())
            .filter_map(|r| self.diagonal(r).map(|c| self.count(r, c)))
            .sum();
        (total > 0).then(|| correct as f32 / total as f32)
    }

    /// Dataset classes the model does not have (their clips can never be right).
    pub(crate) fn missing_classes(&self) -> Vec<&str> {
        (0..self.rows.len())
            .filter(|&r| self.diagonal(r).is_none() && self.row_total(r) > 0)
            .map(|r| self.rows[r].as_str())
            .collect()
    }
}

/// The error of a computation the user cancelled.
pub(crate) const CANCELLED: &str = "cancelled";

/// Classify every test clip (blocking; worker thread).
pub(crate) fn compute(
    model: &InferenceModel,
    ds: &Dataset,
    key: Key,
    progress: &Progress,
) -> Result<Confusion, String> {
    let started = std::time::Instant::now();
    let test = ds.indices_in(Split::Test);
    if test.is_empty() {
        return Err(format!("{} has no test clips", ds.root.display()));
    }
    let rows = ds.labels.clone();
    let cols = model.packed.labels.clone();
    let mut cells = vec![vec![Vec::new(); cols.len()]; rows.len()];
    let mut unreadable = Vec::new();
    let mut session = model.engine.session();
    progress.set(0, Some(test.len() as u64));
    for (n, &i) in test.iter().enumerate() {
        if progress.is_cancelled() {
            return Err(CANCELLED.into());
        }
        let clip = &ds.clips[i];
        let outcome = ds
            .load(clip)
            .map_err(|e| e.to_string())
            .and_then(|s| session.classify(key.path, &s).map_err(|e| e.to_string()));
        match outcome {
            Ok(c) => {
                if let Some(row) = cells.get_mut(clip.label) {
                    row[c.index].push(Outcome {
                        clip: i,
                        confidence: c.probabilities.get(c.index).copied().unwrap_or(0.0),
                    });
                }
            }
            Err(e) => unreadable.push((ds.relative_name(clip), e)),
        }
        progress.set(n as u64 + 1, Some(test.len() as u64));
    }
    Ok(Confusion {
        key,
        rows,
        cols,
        cells,
        unreadable,
        seconds: started.elapsed().as_secs_f32(),
    })
}

/// Draw the grid. Returns the cell clicked this frame.
pub(crate) fn grid(
    ui: &mut Ui,
    m: &Confusion,
    selected: Option<(usize, usize)>,
) -> Option<(usize, usize)> {
    let n_rows = m.rows.len();
    let n_cols = m.cols.len();
    let font = FontId::proportional(11.0);
    let label_w = m
        .rows
        .iter()
        .map(|r| {
            ui.painter()
                .layout_no_wrap(r.clone(), font.clone(), Color32::WHITE)
                .size()
                .x
        })
        .fold(40.0f32, f32::max)
        + 10.0;
    let acc_w = 56.0;
    let avail = ui.available_width() - label_w - acc_w - 8.0;
    let cell = (avail / n_cols.max(1) as f32).clamp(26.0, 48.0);
    let header_h = 48.0;
    let size = vec2(
        label_w + cell * n_cols as f32 + acc_w,
        header_h + cell * n_rows as f32 + 18.0,
    );
    let (rect, _) = ui.allocate_exact_size(size, Sense::hover());
    let painter = ui.painter_at(rect.expand(2.0));
    let grid = GridLayout {
        origin: rect.min + vec2(label_w, header_h),
        cell,
        acc_w,
        font,
        text: ui.visuals().text_color(),
        weak: ui.visuals().weak_text_color(),
    };
    grid.headers(&painter, m, rect);
    let mut clicked = None;
    for r in 0..n_rows {
        let y = grid.origin.y + r as f32 * cell;
        painter.text(
            pos2(grid.origin.x - 6.0, y + cell * 0.5),
            Align2::RIGHT_CENTER,
            &m.rows[r],
            grid.font.clone(),
            grid.text,
        );
        for c in 0..n_cols {
            if grid.cell(ui, &painter, m, (r, c), selected) {
                clicked = Some((r, c));
            }
        }
        let recall = m.recall(r);
        painter.text(
            pos2(
                grid.origin.x + n_cols as f32 * cell + acc_w * 0.5,
                y + cell * 0.5,
            ),
            Align2::CENTER_CENTER,
            recall.map_or("—".into(), |a| format!("{:.0} %", 100.0 * a)),
            grid.font.clone(),
            recall.map_or(grid.weak, |a| accuracy_color(ui, a)),
        );
    }
    painter.text(
        pos2(grid.origin.x, grid.origin.y + n_rows as f32 * cell + 4.0),
        Align2::LEFT_TOP,
        "colour: share of the row (true class); outlined: correct",
        FontId::proportional(10.0),
        grid.weak,
    );
    clicked
}

/// Where the matrix's parts go, and the font and colours it is drawn with.
struct GridLayout {
    /// Top-left corner of the first cell.
    origin: egui::Pos2,
    /// Side of a cell.
    cell: f32,
    /// Width of the recall column.
    acc_w: f32,
    font: FontId,
    text: Color32,
    weak: Color32,
}

impl GridLayout {
    /// Column headers (the model's predictions, alternating heights so long names fit) and
    /// the axis titles.
    fn headers(&self, painter: &egui::Painter, m: &Confusion, rect: egui::Rect) {
        let (origin, cell, font) = (self.origin, self.cell, &self.font);
        painter.text(
            pos2(origin.x, rect.top()),
            Align2::LEFT_TOP,
            "predicted class",
            font.clone(),
            self.weak,
        );
        for (c, name) in m.cols.iter().enumerate() {
            let x = origin.x + (c as f32 + 0.5) * cell;
            let y = origin.y - if c % 2 == 0 { 4.0 } else { 16.0 };
            painter.text(
                pos2(x, y),
                Align2::CENTER_BOTTOM,
                name,
                font.clone(),
                self.text,
            );
        }
        painter.text(
            pos2(
                origin.x + m.cols.len() as f32 * cell + self.acc_w * 0.5,
                origin.y - 4.0,
            ),
            Align2::CENTER_BOTTOM,
            "recall",
            font.clone(),
            self.weak,
        );
        painter.text(
            pos2(rect.left(), origin.y - 4.0),
            Align2::LEFT_BOTTOM,
            "true class",
            font.clone(),
            self.weak,
        );
    }

    /// One clickable cell (`r`, `c`): its colour, count, outline and accessible label; true
    /// when it was clicked.
    fn cell(
        &self,
        ui: &Ui,
        painter: &egui::Painter,
        m: &Confusion,
        (r, c): (usize, usize),
        selected: Option<(usize, usize)>,
    ) -> bool {
        let cell = self.cell;
        let total = m.row_total(r);
        let count = m.count(r, c);
        let cr = egui::Rect::from_min_size(
            pos2(
                self.origin.x + c as f32 * cell,
                self.origin.y + r as f32 * cell,
            ),
            vec2(cell, cell),
        );
        let frac = if total > 0 {
            count as f32 / total as f32
        } else {
            0.0
        };
        let fill = if count == 0 {
            ui.visuals().extreme_bg_color
        } else {
            colormap::viridis(0.15 + 0.85 * frac)
        };
        painter.rect_filled(cr.shrink(1.0), 2.0, fill);
        if m.diagonal(r) == Some(c) {
            painter.rect_stroke(
                cr.shrink(1.0),
                2.0,
                Stroke::new(1.0, self.weak),
                egui::StrokeKind::Inside,
            );
        }
        if count > 0 {
            let luma =
                0.2126 * fill.r() as f32 + 0.7152 * fill.g() as f32 + 0.0722 * fill.b() as f32;
            let tc = if luma > 140.0 {
                Color32::BLACK
            } else {
                Color32::WHITE
            };
            painter.text(
                cr.center(),
                Align2::CENTER_CENTER,
                count.to_string(),
                self.font.clone(),
                tc,
            );
        }
        let id = ui.scope_id().with(("confusion-cell", r, c));
        let resp = ui.interact(cr, id, Sense::click());
        let label = format!(
            "true {}, predicted {}: {count} clip{}",
            m.rows[r],
            m.cols[c],
            if count == 1 { "" } else { "s" }
        );
        resp.widget_info(|| egui::WidgetInfo::labeled(egui::accesskit::Role::Button, true, &label));
        if resp.hovered() {
            painter.rect_stroke(
                cr,
                2.0,
                Stroke::new(2.0, ui.visuals().hyperlink_color),
                egui::StrokeKind::Inside,
            );
        }
        let resp = resp.on_hover_text(format!("{label} (click to list them)"));
        if selected == Some((r, c)) {
            painter.rect_stroke(
                cr,
                2.0,
                Stroke::new(2.5, self.text),
                egui::StrokeKind::Inside,
            );
        }
        resp.clicked()
    }
}

/// Green for good, amber for middling, red for bad; readable in both themes.
pub(crate) fn accuracy_color(ui: &Ui, a: f32) -> Color32 {
    let dark = ui.visuals().dark_mode;
    match (a >= 0.8, a >= 0.5, dark) {
        (true, _, true) => Color32::from_rgb(120, 210, 120),
        (true, _, false) => Color32::from_rgb(20, 120, 30),
        (false, true, true) => Color32::from_rgb(240, 190, 90),
        (false, true, false) => Color32::from_rgb(150, 95, 0),
        (false, false, true) => Color32::from_rgb(255, 120, 110),
        (false, false, false) => Color32::from_rgb(180, 30, 20),
    }
}

/// Heading line: accuracy, clip count and time.
pub(crate) fn summary(ui: &mut Ui, m: &Confusion, ds: &Arc<Dataset>) {
    ui.horizontal_wrapped(|ui| {
        if let Some(a) = m.accuracy() {
            ui.label(
                RichText::new(format!("Accuracy {:.1} %", 100.0 * a))
                    .strong()
                    .size(16.0)
                    .color(accuracy_color(ui, a)),
            );
        }
        ui.weak(format!(
            "{} test clips of {} · {:.1} s",
            m.total(),
            ds.root.display(),
            m.seconds
        ));
    });
}
