//! Live activation bits: the planes every binary layer of the student produces for the run's
//! fixed validation clip, per thin path, with the teacher agreement.

use std::collections::BTreeMap;

use bifsmn_engine::train::BitsSnapshot;
use egui::Ui;

use crate::widgets::layer_bits::{self, LayerBitsView};

#[derive(Default)]
pub(super) struct BitsView {
    latest: BTreeMap<usize, BitsSnapshot>,
    seq: u64,
    pub path: usize,
    cards: Option<(u64, usize, Vec<LayerBitsView>)>,
}

impl BitsView {
    pub(super) fn clear(&mut self) {
        let path = self.path;
        *self = Self::default();
        self.path = path;
    }

    pub(super) fn push(&mut self, s: BitsSnapshot) {
        self.seq += 1;
        self.latest.insert(s.path, s);
    }

    pub(super) fn ui(&mut self, ui: &mut Ui) {
        if self.latest.is_empty() {
            ui.label(
                "Activation bits of the fixed validation clip arrive every few seconds while a \
                 binary student trains.",
            );
            return;
        }
        if !self.latest.contains_key(&self.path) {
            self.path = *self.latest.keys().next().expect("non-empty");
        }
        let paths: Vec<usize> = self.latest.keys().copied().collect();
        ui.horizontal(|ui| {
            ui.label("Thin path");
            for p in paths {
                ui.selectable_value(&mut self.path, p, format!("{p}"));
            }
            if let Some(s) = self.latest.get(&self.path) {
                ui.weak(format!("· epoch {}", s.epoch));
            }
        });
        layer_bits::legend(ui);
        let fresh = self
            .cards
            .as_ref()
            .is_some_and(|(seq, path, _)| *seq == self.seq && *path == self.path);
        if !fresh && let Some(s) = self.latest.get(&self.path) {
            let ctx = ui.ctx().clone();
            let cards = s
                .layers
                .iter()
                .map(|l| LayerBitsView::from_engine(&ctx, l, &format!("train-bits-{}", self.path)))
                .collect();
            self.cards = Some((self.seq, self.path, cards));
        }
        if let Some((_, _, cards)) = &self.cards {
            egui::ScrollArea::vertical()
                .id_salt("train-bits-scroll")
                .show(ui, |ui| layer_bits::cards(ui, cards));
        }
    }
}
