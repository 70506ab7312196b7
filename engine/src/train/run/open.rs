//! Opening a run: the dataset, the teacher, and the model and optimiser either new (from
//! scratch, from the teacher or from another run) or resumed from the run's last checkpoint;
//! then the run's start (its `run.json`, the Started event, augmentation, internals).

use std::sync::Arc;

use anyhow::{Context, bail};
use burn::optim::ModuleOptimizer;
use burn::prelude::*;

use super::split::PathSplit;
use super::state::TrainLoop;
use crate::data::{Augmenter, Dataset, Protocol, Split};
use crate::model::{Dfsmn, DfsmnConfig};
use crate::train::checkpoint::CheckpointWriter;
use crate::train::config::TrainConfig;
use crate::train::control::Commands;
use crate::train::events::{EpochMetrics, EventSink, TrainEvent};
use crate::train::internals::Internals;
use crate::train::optim::build_optimizer;
use crate::train::teacher::{init_from_teacher, load_teacher};
use crate::train::warm_start::warm_start;

/// Training recordings kept in memory for babble noise (a few MB).
const BABBLE_SOURCES: usize = 200;

/// Where a run starts: its last checkpoint, or a new model at epoch 0.
struct StartingPoint {
    model: Dfsmn,
    optimizer: ModuleOptimizer,
    /// Epochs done.
    epoch: usize,
    history: Vec<EpochMetrics>,
    best: Option<(usize, f32)>,
    model_cfg: DfsmnConfig,
}

/// Open the run `config` describes, resuming it when `resume` and its directory has a
/// checkpoint. `None` when the resumed run had already done all its epochs (the Finished event
/// is sent).
pub(super) fn open(
    config: TrainConfig,
    resume: bool,
    commands: Commands,
    sink: EventSink,
) -> anyhow::Result<Option<TrainLoop>> {
    config.validate().map_err(anyhow::Error::msg)?;
    let protocol: Protocol = config.protocol.parse()?;
    let dataset = Arc::new(
        Dataset::open(&config.dataset, protocol)
            .with_context(|| format!("opening dataset {}", config.dataset.display()))?,
    );
    let labels = dataset.labels.clone();
    let device = config.device()?;
    let ad = device.clone().autodiff();
    // Model initialisation and dropout draw from burn's generator: seed it so a run is
    // reproducible (data order and augmentation are seeded separately by the loader).
    ad.seed(config.seed);
    let model_cfg = config.model_config(labels.len());
    let writer = CheckpointWriter::new(&config.run_dir)?;
    let optimizer = build_optimizer(
        config.momentum,
        config.weight_decay,
        config.quant_lr_factor,
        config.grad_clip_norm,
    );
    let teacher = load_teacher(&config, &labels, &device)?;

    let sidecar_path = config.run_dir.join("checkpoint.json");
    let from = if resume && sidecar_path.exists() {
        resume_run(&config, &dataset, &writer, optimizer, model_cfg, &ad, &sink)?
    } else {
        if sidecar_path.exists() {
            bail!(
                "{} already has a checkpoint; pass --resume to continue it or choose another run directory",
                config.run_dir.display()
            );
        }
        new_run(
            &config,
            model_cfg,
            &labels,
            teacher.as_ref(),
            optimizer,
            &ad,
        )?
    };
    if from.epoch >= config.epochs {
        sink.send(TrainEvent::Finished {
            epochs_done: from.epoch,
            best_epoch: from.best.map(|b| b.0),
            best_validation: from.best.map(|b| b.1),
            checkpoint: sidecar_path.display().to_string(),
        });
        return Ok(None);
    }
    let opened = Opened {
        config,
        dataset,
        device,
        ad,
        teacher,
        writer,
    };
    start(opened, from, commands, sink).map(Some)
}

/// A new run's model: another run's weights (`init_from`), or a fresh initialisation, from
/// the teacher's weights when asked.
fn new_run(
    config: &TrainConfig,
    model_cfg: DfsmnConfig,
    labels: &[String],
    teacher: Option<&Dfsmn>,
    optimizer: ModuleOptimizer,
    ad: &Device,
) -> anyhow::Result<StartingPoint> {
    let model = match &config.init_from {
        Some(from) => warm_start(from, &model_cfg, labels, ad)?,
        None => {
            let mut m = model_cfg.init(ad);
            if config.init_from_teacher
                && let Some(t) = teacher
            {
                m = init_from_teacher(m, t, ad);
            }
            m
        }
    };
    Ok(StartingPoint {
        model,
        optimizer,
        epoch: 0,
        history: Vec::new(),
        best: None,
        model_cfg,
    })
}

/// The run's last checkpoint, checked against what this run trains.
fn resume_run(
    config: &TrainConfig,
    dataset: &Dataset,
    writer: &CheckpointWriter,
    optimizer: ModuleOptimizer,
    model_cfg: DfsmnConfig,
    ad: &Device,
    sink: &EventSink,
) -> anyhow::Result<StartingPoint> {
    let sidecar_path = writer.dir().join("checkpoint.json");
    let (model, optimizer, sc) = writer
        .load_last(optimizer, ad)
        .with_context(|| format!("resuming from {}", sidecar_path.display()))?;
    if sc.config.role != config.role || sc.model != model_cfg {
        bail!(
            "{} holds a different model ({:?} {:?}); start a new run directory",
            sidecar_path.display(),
            sc.config.role,
            sc.model.binarizer
        );
    }
    if sc.dataset_fingerprint != dataset.fingerprint() {
        sink.send(TrainEvent::Log(format!(
            "warning: the dataset changed since {} was written",
            sidecar_path.display()
        )));
    }
    Ok(StartingPoint {
        model,
        optimizer,
        epoch: sc.epoch,
        history: sc.history,
        best: sc.best_epoch.zip(sc.best_validation),
        model_cfg: sc.model,
    })
}

/// What [`open`] read besides the model: handed on to [`start`].
struct Opened {
    config: TrainConfig,
    dataset: Arc<Dataset>,
    device: Device,
    ad: Device,
    teacher: Option<Dfsmn>,
    writer: CheckpointWriter,
}

/// Record the run's settings, announce it, and build what its epochs share.
fn start(
    opened: Opened,
    from: StartingPoint,
    commands: Commands,
    sink: EventSink,
) -> anyhow::Result<TrainLoop> {
    let (config, dataset) = (&opened.config, &opened.dataset);
    write_run_json(config)?;
    let paths = from.model_cfg.paths();
    let train_paths = config.path_weights.len().min(paths.len());
    let path_layers: Vec<usize> = paths.iter().map(|p| p.len()).collect();
    let train_clips = dataset.indices_in(Split::Train).len();
    let val_clips = dataset.indices_in(Split::Validation).len();
    let epoch_clips = config
        .max_train_clips
        .map_or(train_clips, |m| m.min(train_clips));
    sink.send(TrainEvent::Started {
        run_dir: config.run_dir.display().to_string(),
        role: format!("{:?}", config.role).to_lowercase(),
        epochs: config.epochs,
        train_clips: epoch_clips,
        validation_clips: val_clips,
        paths: path_layers[..train_paths].to_vec(),
        resumed_from: (from.epoch > 0).then_some(from.epoch),
        history: from.history.clone(),
    });

    let augmenter = if config.augment {
        let mut augmenter = Augmenter::new(config.augmentation.clone(), dataset.load_background()?);
        if config.augmentation.noise_snr.enabled {
            augmenter = augmenter.with_babble(dataset.babble_sources(BABBLE_SOURCES)?);
        }
        Some(Arc::new(augmenter))
    } else {
        None
    };
    let internals = if config.internals {
        Some(Internals::new(dataset, config.fixed_clip, &opened.device)?)
    } else {
        None
    };
    // Only the CPU backends gain from a second thread of ops: a GPU queues both on one device.
    let split = (!config.backend.is_gpu())
        .then(|| PathSplit::plan(&from.model, &paths, train_paths))
        .flatten();
    Ok(TrainLoop {
        split,
        base_lr: config.lr,
        global_step: from.epoch * epoch_clips.div_ceil(config.batch_size),
        config: opened.config,
        dataset: opened.dataset,
        device: opened.device,
        ad: opened.ad,
        model_cfg: from.model_cfg,
        model: from.model,
        optimizer: from.optimizer,
        teacher: opened.teacher,
        writer: opened.writer,
        history: from.history,
        best: from.best,
        start_epoch: from.epoch,
        paths,
        train_paths,
        path_layers,
        augmenter,
        internals,
        commands,
        sink,
    })
}

/// The run's settings beside its checkpoints.
fn write_run_json(config: &TrainConfig) -> anyhow::Result<()> {
    crate::fsutil::write_atomic(
        &config.run_dir.join("run.json"),
        &serde_json::to_vec_pretty(config)?,
    )?;
    Ok(())
}
