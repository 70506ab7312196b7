//! `bifsmn bench --batch N --threads T`: clips per second, not only the latency of one clip.
//!
//! A call classifies a batch of `N` clips (distinct precomputed features, as in the latency
//! table). On the bit kernels (binary paths, FP32 kernels) the batch is split into contiguous
//! shares for `T` workers, each with its own [`Session`](bifsmn_kernels::infer::Session) over
//! the shared `Arc<Engine>`; the workers are started once per column and wait on a barrier, so
//! a timed call is: release every worker, each runs its share, wait for the last one. burn flex
//! runs the batch as one `[N, 1, mels, frames]` tensor, parallelised as burn sees fit on its
//! rayon pool (every core).
//! Calls are timed with the latency table's interleaving (columns take turns in blocks), and
//! the median call gives clips per second.

use std::num::NonZeroUsize;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};

use bifsmn_kernels::infer::Engine;
use burn::tensor::Device;
use serde::Serialize;

use crate::model::Dfsmn;

use super::{BLOCK, Timed, interleaved_medians};

/// Threads for a request: 0 means every core this process may use.
pub fn resolve_threads(requested: usize) -> usize {
    match requested {
        0 => std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
        t => t,
    }
}

/// What `--batch` and `--threads` ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchOptions {
    /// Clips per call (at least 1).
    pub batch: usize,
    /// Worker threads (0 = every core).
    pub threads: usize,
}

/// One column of the throughput table.
#[derive(Clone, Debug, Serialize)]
pub struct ThroughputColumn {
    pub name: String,
    /// Worker threads that ran the column (burn flex: its rayon pool, which burn uses as it
    /// sees fit inside one call).
    pub threads: usize,
    /// Timed calls (batches).
    pub runs: usize,
    /// Median wall time of one call of `batch` clips, microseconds.
    pub batch_us: f64,
    pub clips_per_sec: f64,
}

/// The throughput table of `bifsmn bench`.
#[derive(Clone, Debug, Serialize)]
pub struct Throughput {
    /// Clips per call.
    pub batch: usize,
    /// Worker threads of the kernels columns (after resolving 0 and capping at `batch`).
    pub threads: usize,
    pub columns: Vec<ThroughputColumn>,
}

/// A worker's share of one call: the clips `range` of the batch.
type Worker<'a> = Box<dyn FnMut(Range<usize>) + Send + 'a>;

/// The share of worker `w` of `workers` in a batch of `batch` clips (contiguous, sizes differ
/// by at most one).
fn share(batch: usize, workers: usize, w: usize) -> Range<usize> {
    batch * w / workers..batch * (w + 1) / workers
}

/// A session per worker running `path` of `engine` on its share of `features`.
fn session_workers<'a>(
    engine: &Arc<Engine>,
    path: usize,
    features: &'a [Vec<f32>],
    workers: usize,
) -> Vec<Worker<'a>> {
    (0..workers)
        .map(|_| {
            let mut session = engine.session();
            Box::new(move |clips: Range<usize>| {
                for f in &features[clips] {
                    // The path comes from the engine's own count: it exists.
                    if let Ok(logits) = session.forward(path, f) {
                        std::hint::black_box(logits);
                    }
                }
            }) as Worker<'a>
        })
        .collect()
}

/// Releases a column's parked workers for one call, and for good at the end.
struct Gate {
    barrier: Barrier,
    done: AtomicBool,
}

/// Start workers `1..` of a column on scoped threads, parked on the column's gate; returns the
/// calling thread's forward for [`interleaved_medians`], which opens the gate, runs worker 0's
/// share and waits for the others.
fn start_column<'scope, 'env: 'scope>(
    s: &'scope std::thread::Scope<'scope, 'env>,
    gate: &'env Gate,
    mut workers: Vec<Worker<'env>>,
    batch: usize,
) -> Box<dyn FnMut() + 'env> {
    let n = workers.len().max(1);
    let rest = workers.split_off(workers.len().min(1));
    for (w, mut worker) in rest.into_iter().enumerate() {
        let clips = share(batch, n, w + 1);
        s.spawn(move || {
            loop {
                gate.barrier.wait();
                if gate.done.load(Ordering::Acquire) {
                    break;
                }
                worker(clips.clone());
                gate.barrier.wait();
            }
        });
    }
    let mut first = workers.pop();
    let clips = share(batch, n, 0);
    Box::new(move || {
        gate.barrier.wait();
        if let Some(first) = first.as_mut() {
            first(clips.clone());
        }
        gate.barrier.wait();
    })
}

/// burn flex gets at most this many timed calls (a call of 64 clips takes tens of ms).
const BURN_RUNS: usize = 200;

/// The throughput table: every thin path of `student`, the FP32 `teacher` on the kernels and
/// the teacher on burn flex (`flex_model` on `flex`), `runs` calls each after `warmup`.
pub(super) fn run(
    student: &Arc<Engine>,
    teacher: &Arc<Engine>,
    (flex_model, flex): (&Dfsmn, &Device),
    opts: BatchOptions,
    warmup: usize,
    runs: usize,
) -> anyhow::Result<Throughput> {
    let batch = opts.batch.max(1);
    let threads = resolve_threads(opts.threads).min(batch);
    let features: Vec<Vec<f32>> = (0..batch as u64)
        .map(|i| bifsmn_kernels::synth::random_features(student.feature_params(), 7 + i))
        .collect();
    let flat = features.concat();
    let mut kernels = Vec::new();
    for p in 0..student.num_paths() {
        let name = format!("binary {}L", student.path_layers(p)?.len());
        kernels.push(KernelsColumn::new(name, student, p, &features, threads));
    }
    kernels.push(KernelsColumn::new(
        "FP32 kernels".into(),
        teacher,
        0,
        &features,
        threads,
    ));
    let burn = (
        "burn flex".to_string(),
        super::burn_forward(flex_model, flex, &flat, batch),
    );
    Ok(measure(
        kernels,
        burn,
        batch,
        warmup,
        runs,
        runs.min(BURN_RUNS),
    ))
}

/// A kernels column: a name and its workers.
pub(super) struct KernelsColumn<'a> {
    pub name: String,
    pub workers: Vec<Worker<'a>>,
}

impl<'a> KernelsColumn<'a> {
    pub fn new(
        name: String,
        engine: &Arc<Engine>,
        path: usize,
        features: &'a [Vec<f32>],
        threads: usize,
    ) -> Self {
        Self {
            name,
            workers: session_workers(engine, path, features, threads),
        }
    }
}

/// Median call times of the kernels columns (`runs` calls each) and of the burn column
/// (`burn_runs` calls of `burn`), interleaved as in the latency table; then the table.
pub(super) fn measure(
    kernels: Vec<KernelsColumn<'_>>,
    burn: (String, Box<dyn FnMut() + '_>),
    batch: usize,
    warmup: usize,
    runs: usize,
    burn_runs: usize,
) -> Throughput {
    let batch = batch.max(1);
    let threads = kernels.first().map_or(1, |c| c.workers.len().max(1));
    let names: Vec<String> = kernels.iter().map(|c| c.name.clone()).collect();
    let gates: Vec<Gate> = kernels
        .iter()
        .map(|c| Gate {
            barrier: Barrier::new(c.workers.len().max(1)),
            done: AtomicBool::new(false),
        })
        .collect();
    let (burn_name, burn_forward) = burn;
    let medians = std::thread::scope(|s| {
        let mut timed: Vec<Timed> = kernels
            .into_iter()
            .zip(&gates)
            .map(|(c, gate)| Timed {
                runs,
                forward: start_column(s, gate, c.workers, batch),
            })
            .collect();
        timed.push(Timed {
            runs: burn_runs,
            forward: burn_forward,
        });
        let medians = interleaved_medians(warmup, BLOCK, &mut timed);
        drop(timed);
        for gate in &gates {
            gate.done.store(true, Ordering::Release);
            gate.barrier.wait();
        }
        medians
    });
    let column = |name: String, threads, runs, batch_us: f64| ThroughputColumn {
        name,
        threads,
        runs,
        batch_us,
        clips_per_sec: batch as f64 / (batch_us * 1e-6),
    };
    let mut columns: Vec<ThroughputColumn> = names
        .into_iter()
        .zip(&medians)
        .map(|(name, &us)| column(name, threads, runs, us))
        .collect();
    if let Some(&us) = medians.last() {
        columns.push(column(
            burn_name,
            rayon::current_num_threads(),
            burn_runs,
            us,
        ));
    }
    Throughput {
        batch,
        threads,
        columns,
    }
}

impl Throughput {
    /// The human-readable table (appended to the latency table).
    pub fn table(&self) -> String {
        let mut s = format!(
            "throughput: {} clips per call, {} worker thread(s) with a session each (burn flex: the batch as one tensor, on burn's rayon pool); median call\n\n",
            self.batch, self.threads
        );
        s.push_str(&format!(
            "{:<14}{:>9}{:>8}{:>14}{:>12}{:>12}\n",
            "column", "threads", "runs", "us per call", "clips/s", "vs FP32 k."
        ));
        let fp32 = self
            .columns
            .iter()
            .find(|c| c.name == "FP32 kernels")
            .map(|c| c.clips_per_sec);
        for c in &self.columns {
            let ratio = fp32.map_or(String::from("—"), |f| {
                format!("{:.1}x", c.clips_per_sec / f)
            });
            s.push_str(&format!(
                "{:<14}{:>9}{:>8}{:>14.1}{:>12.0}{:>12}\n",
                c.name, c.threads, c.runs, c.batch_us, c.clips_per_sec, ratio
            ));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn shares_cover_the_batch_once() {
        for (batch, workers) in [(4, 2), (5, 3), (7, 7), (64, 3)] {
            let all: Vec<usize> = (0..workers)
                .flat_map(|w| share(batch, workers, w))
                .collect();
            assert_eq!(all, (0..batch).collect::<Vec<_>>(), "{batch}/{workers}");
        }
        assert!(resolve_threads(0) >= 1);
        assert_eq!(resolve_threads(3), 3);
    }

    #[test]
    fn every_worker_runs_its_share_in_every_call() {
        let seen = Mutex::new(Vec::new());
        let workers: Vec<Worker> = (0..3)
            .map(|_| Box::new(|r: Range<usize>| seen.lock().unwrap().extend(r)) as Worker)
            .collect();
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let t = measure(
            vec![KernelsColumn {
                name: "k".into(),
                workers,
            }],
            (
                "burn".into(),
                Box::new(|| {
                    calls.fetch_add(1, Ordering::Relaxed);
                }),
            ),
            5,
            1,
            4,
            2,
        );
        // One warm-up, one untimed call per round (4 runs in one block of 10), 4 timed.
        let mut seen = seen.into_inner().unwrap();
        seen.sort_unstable();
        let want: Vec<usize> = (0..5).flat_map(|c| [c; 6]).collect();
        assert_eq!(seen, want);
        assert_eq!(calls.into_inner(), 1 + 1 + 2);
        assert_eq!((t.batch, t.threads, t.columns.len()), (5, 3, 2));
        assert!(t.columns.iter().all(|c| c.clips_per_sec > 0.0));
        assert_eq!(t.columns[1].threads, rayon::current_num_threads());
    }
}
