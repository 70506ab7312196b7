//! Training on another machine over SSH, against a throwaway sshd on 127.0.0.1: the real
//! `bifsmn` binary is uploaded and trains a short teacher run on the demo set there, detached.
//!
//! Needs the `bifsmn` binary next to this test binary (`cargo test --workspace` builds it);
//! skipped with a note otherwise, as are all tests when sshd is not installed.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // Test code: a failed unwrap is a failed test.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use bifsmn_deploy::train_follow::{FollowRequest, LinkEvent, StartRequest, spawn_follow};
use bifsmn_deploy::train_link::{self, Follow, RemoteRun};
use bifsmn_deploy::{Connection, Credentials, DeployError, HostKeyPolicy, SshConfig, Target};
use bifsmn_engine::train::TrainEvent;
use bifsmn_tests::deploy_fixtures::{bifsmn_bin, run_isolated_cli};
use bifsmn_tests::sshd::TestBoard;

fn demo() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../assets/demo")
        .canonicalize()
        .unwrap()
        .display()
        .to_string()
}

/// A short teacher run on the demo set (seconds per epoch in a debug build).
fn train_args(run: &str, epochs: usize) -> Vec<String> {
    [
        "teacher",
        "--root",
        &demo(),
        "--run-dir",
        run,
        "--epochs",
        &epochs.to_string(),
        "--batch-size",
        "8",
        "--max-train-clips",
        "48",
        "--no-augment",
    ]
    .map(String::from)
    .to_vec()
}

fn target(board: &TestBoard) -> Target {
    Target::new(
        board.profile("trainer"),
        &SshConfig::empty(),
        Credentials::default(),
    )
    .unwrap()
}

fn connect(board: &TestBoard) -> Connection {
    train_link::connect_target(&target(board), HostKeyPolicy::Ask).unwrap()
}

/// Upload bifsmn and start a run in `<board temp>/remote runs/<name>`.
fn start(board: &TestBoard, bin: &Path, name: &str, epochs: usize) -> (Connection, RemoteRun) {
    let conn = connect(board);
    let cancel = AtomicBool::new(false);
    let workdir = board.profile("trainer").remote_workdir();
    let (remote_bin, uploaded) =
        train_link::install_trainer(&conn, &workdir, bin, &cancel, &mut |_, _| {}).unwrap();
    assert!(Path::new(&remote_bin).is_file());
    // A second install finds the same binary there and sends nothing.
    let (_, again) =
        train_link::install_trainer(&conn, &workdir, bin, &cancel, &mut |_, _| {}).unwrap();
    assert!(
        !again,
        "an identical binary was uploaded again (first upload: {uploaded})"
    );
    let dir = board.dir.path().join("remote runs").join(name);
    let run = RemoteRun::new(dir.display().to_string());
    train_link::start_training(
        &conn,
        &remote_bin,
        &run,
        &train_args(&run.dir, epochs),
        Some(&demo()),
        &cancel,
    )
    .unwrap();
    (conn, run)
}

/// Ends a remote trainer a failed test left running (by the pid it recorded).
struct KillOnDrop(String);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(Path::new(&self.0).join(train_link::PID_FILE)) {
            let _ = std::process::Command::new("kill")
                .arg(pid.trim())
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

/// Wait until the trainer recorded in `run`'s pid file has exited (at most 30 s).
fn wait_for_exit(run: &Path) {
    let pid = std::fs::read_to_string(run.join(train_link::PID_FILE)).unwrap();
    let start = Instant::now();
    while std::process::Command::new("kill")
        .args(["-0", pid.trim()])
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success()
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the trainer {} is still running 30 s after its last event",
            pid.trim()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What a follower saw.
#[derive(Default)]
struct Seen {
    epochs: Vec<usize>,
    checkpoints: usize,
    end: Option<TrainEvent>,
}

/// Follow from `offset` until the end (or `until` says stop early: returns `Continue`).
fn follow(
    conn: &Connection,
    run: &RemoteRun,
    offset: &mut u64,
    local: &Path,
    seen: &mut Seen,
    until: &mut dyn FnMut(&TrainEvent) -> bool,
) -> Result<Follow, DeployError> {
    let cancel = AtomicBool::new(false);
    let deadline = Instant::now() + Duration::from_secs(240);
    train_link::follow_training(
        conn,
        run,
        offset,
        &cancel,
        &mut |c, line| {
            let event: TrainEvent = serde_json::from_str(line).unwrap();
            assert!(Instant::now() < deadline, "the remote run takes too long");
            match &event {
                TrainEvent::Epoch(m) => seen.epochs.push(m.epoch),
                TrainEvent::Checkpoint { path, .. } => {
                    let name = path.rsplit('/').next().unwrap();
                    train_link::mirror_checkpoint(c, run, name, local)?;
                    seen.checkpoints += 1;
                }
                TrainEvent::Finished { .. }
                | TrainEvent::Cancelled { .. }
                | TrainEvent::Error(_) => {
                    seen.end = Some(event.clone());
                    return Ok(Follow::Done);
                }
                _ => {}
            }
            Ok(if until(&event) {
                Follow::Done
            } else {
                Follow::Continue
            })
        },
        &mut |_| Ok(()),
    )
}

fn first_epoch(e: &TrainEvent) -> bool {
    matches!(e, TrainEvent::Epoch(_))
}

#[test]
fn a_killed_connection_reattaches_and_the_final_checkpoint_matches() {
    let Some(bin) = bifsmn_bin() else { return };
    let Some(mut board) = TestBoard::start().unwrap() else {
        return;
    };
    let local = tempfile::tempdir().unwrap();
    let (conn, run) = start(&board, &bin, "killed link", 3);
    let _guard = KillOnDrop(run.dir.clone());
    let mut offset = 0;
    let mut seen = Seen::default();
    // Follow to the first epoch, then kill sshd with every session it runs (a dropped link).
    follow(
        &conn,
        &run,
        &mut offset,
        local.path(),
        &mut seen,
        &mut first_epoch,
    )
    .unwrap();
    assert_eq!(seen.epochs, [1]);
    board.kill();
    let cancel = AtomicBool::new(false);
    let lost = train_link::is_running(&conn, &run, &cancel);
    assert!(lost.is_err(), "the connection should be gone");
    drop(conn);
    // The run goes on without us; give it time to write events we have not read.
    std::thread::sleep(Duration::from_secs(3));
    // Events were written while nobody was connected: the reattach has to catch up on them.
    let log_len = std::fs::metadata(run.path(train_link::EVENTS_LOG))
        .unwrap()
        .len();
    assert!(log_len > offset, "nothing happened while disconnected");
    board.restart().unwrap();
    let conn = connect(&board);
    let result = follow(
        &conn,
        &run,
        &mut offset,
        local.path(),
        &mut seen,
        &mut |_| false,
    );
    assert_eq!(result.unwrap(), Follow::Done);
    assert_eq!(
        seen.epochs,
        [1, 2, 3],
        "every epoch exactly once across the reattach"
    );
    assert!(
        matches!(seen.end, Some(TrainEvent::Finished { epochs_done: 3, .. })),
        "{:?}",
        seen.end
    );
    assert!(seen.checkpoints >= 3);
    let checked = train_link::verify_final_checkpoint(&conn, &run, local.path(), &cancel).unwrap();
    let remote_bytes = std::fs::read(Path::new(&run.dir).join(&checked.name)).unwrap();
    let local_bytes = std::fs::read(local.path().join(&checked.name)).unwrap();
    assert_eq!(remote_bytes, local_bytes);
    assert_eq!(checked.name, "model-e0003.bpk");
    // The local copy is a loadable run directory with one weights file per kind.
    let sidecar: serde_json::Value =
        serde_json::from_slice(&std::fs::read(local.path().join("checkpoint.json")).unwrap())
            .unwrap();
    assert_eq!(sidecar["epoch"], 3);
    assert!(local.path().join("best.json").is_file());
    assert!(!local.path().join("model-e0001.bpk").exists());
    // Replaying from the start (a restarted GUI) sees the whole run again, in order.
    let mut replay = Seen::default();
    let mut from_start = 0;
    follow(
        &conn,
        &run,
        &mut from_start,
        local.path(),
        &mut replay,
        &mut |_| false,
    )
    .unwrap();
    assert_eq!(replay.epochs, [1, 2, 3]);
    assert_eq!(from_start, offset);
}

#[test]
fn stop_over_the_link_ends_the_run_after_saving() {
    let Some(bin) = bifsmn_bin() else { return };
    let Some(board) = TestBoard::start().unwrap() else {
        return;
    };
    let local = tempfile::tempdir().unwrap();
    let (conn, run) = start(&board, &bin, "stopped", 50);
    let _guard = KillOnDrop(run.dir.clone());
    let cancel = AtomicBool::new(false);
    // A second start in the same run dir is refused while the first one runs.
    let again = train_link::start_training(&conn, "bifsmn", &run, &[], None, &cancel).unwrap_err();
    assert!(again.to_string().contains("already running"), "{again}");
    let mut offset = 0;
    let mut seen = Seen::default();
    follow(
        &conn,
        &run,
        &mut offset,
        local.path(),
        &mut seen,
        &mut first_epoch,
    )
    .unwrap();
    train_link::send_control(&conn, &run, "stop", &cancel).unwrap();
    follow(
        &conn,
        &run,
        &mut offset,
        local.path(),
        &mut seen,
        &mut |_| false,
    )
    .unwrap();
    let Some(TrainEvent::Finished { epochs_done, .. }) = seen.end else {
        panic!("the run did not finish after stop: {:?}", seen.end);
    };
    assert!(epochs_done < 50, "stop did not end the run early");
    assert_eq!(seen.epochs, (1..=epochs_done).collect::<Vec<_>>());
    let checked = train_link::verify_final_checkpoint(&conn, &run, local.path(), &cancel).unwrap();
    assert_eq!(checked.name, format!("model-e{epochs_done:04}.bpk"));
    let bad = train_link::send_control(&conn, &run, "halt", &cancel).unwrap_err();
    assert!(bad.to_string().contains("halt"), "{bad}");
}

#[test]
fn missing_dataset_and_bad_host_are_named() {
    let Some(board) = TestBoard::start().unwrap() else {
        return;
    };
    let conn = connect(&board);
    let cancel = AtomicBool::new(false);
    let run = RemoteRun::new(board.dir.path().join("runs/none").display().to_string());
    let e = train_link::start_training(
        &conn,
        "bifsmn",
        &run,
        &[],
        Some("/no/such/speech commands"),
        &cancel,
    )
    .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("127.0.0.1") && text.contains("/no/such/speech commands"),
        "{text}"
    );
    let mut p = board.profile("nowhere");
    p.host = "no-such-host.invalid".into();
    let t = Target::new(p, &SshConfig::empty(), Credentials::default()).unwrap();
    let e = train_link::connect_target(&t, HostKeyPolicy::Ask).unwrap_err();
    assert!(e.to_string().contains("no-such-host.invalid"), "{e}");
}

#[test]
fn cli_trains_on_a_saved_host_attaches_and_checks_the_checkpoint() {
    let Some(bin) = bifsmn_bin() else { return };
    let Some(board) = TestBoard::start().unwrap() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    // Everything the CLI reads or writes stays in the temp dir (and never ~/.ssh).
    let cli = |args: &[&str]| run_isolated_cli(&bin, tmp.path(), Some(tmp.path()), args);
    for help in [
        ["train", "teacher", "--help"],
        ["train", "attach", "--help"],
    ] {
        let (code, out, _) = cli(&help);
        assert_eq!(code, Some(0));
        assert!(
            out.contains("--on <HOST>") && out.contains("on that host"),
            "{out}"
        );
    }
    let profile = board.profile("gpu");
    let (port, key) = (
        board.port.to_string(),
        board.client_key.display().to_string(),
    );
    let user = profile.user.clone().unwrap();
    let (code, _, err) = cli(&[
        "boards",
        "add",
        "gpu",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--user",
        &user,
        "--key",
        &key,
        "--workdir",
        &profile.workdir,
    ]);
    assert_eq!(code, Some(0), "{err}");

    let run = board.dir.path().join("remote runs/cli run");
    let run_s = run.display().to_string();
    let mut args = vec!["train", "--on", "gpu", "--accept-new-host-key", "--json"];
    let train: Vec<String> = train_args(&run_s, 2);
    args.splice(1..1, train.iter().map(String::as_str));
    // The role comes first after `train`.
    assert_eq!(args[1], "teacher");
    let _guard = KillOnDrop(run_s.clone());
    let (code, out, err) = cli(&args);
    assert_eq!(code, Some(0), "{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let epochs: Vec<u64> = lines
        .iter()
        .filter_map(|v| v.get("clips_per_sec").and(v["epoch"].as_u64()))
        .collect();
    assert_eq!(epochs, [1, 2], "{out}");
    let copied = lines.last().unwrap();
    assert_eq!(copied["model_file"], "model-e0002.bpk");
    let local = tmp.path().join("cli run");
    let local_bytes = std::fs::read(local.join("model-e0002.bpk")).unwrap();
    assert_eq!(
        local_bytes,
        std::fs::read(run.join("model-e0002.bpk")).unwrap()
    );
    assert_eq!(
        copied["sha256"].as_str().unwrap(),
        bifsmn_deploy::LocalArtifact::hash(&run.join("model-e0002.bpk"))
            .unwrap()
            .sha256
    );

    // After a restart: attach replays the finished run into a fresh local dir.
    let (code, out, err) = cli(&[
        "train",
        "attach",
        "--on",
        "gpu",
        "--run-dir",
        &run_s,
        "--local-dir",
        "again",
        "--json",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let replayed: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(replayed["sha256"], copied["sha256"]);
    assert_eq!(replayed["local_dir"], "again");
    assert!(tmp.path().join("again/checkpoint.json").is_file());

    // Nothing to control once it ended; a missing dataset is named with the host. The trainer
    // writes its last event before its process exits, so wait for the exit first.
    wait_for_exit(&run);
    let (code, _, err) = cli(&[
        "train",
        "control",
        "--on",
        "gpu",
        "--run-dir",
        &run_s,
        "stop",
    ]);
    assert_eq!(code, Some(1));
    assert!(err.contains("no training is running"), "{err}");
    let (code, _, err) = cli(&[
        "train",
        "teacher",
        "--on",
        "gpu",
        "--root",
        "/no/such/set",
        "--run-dir",
        &run_s,
    ]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("127.0.0.1") && err.contains("/no/such/set"),
        "{err}"
    );
}

#[test]
fn the_follower_thread_reattaches_by_itself_and_forwards_pause() {
    let Some(bin) = bifsmn_bin() else { return };
    let Some(mut board) = TestBoard::start().unwrap() else {
        return;
    };
    let local = tempfile::tempdir().unwrap();
    let dir = board.dir.path().join("remote runs/followed");
    let run = RemoteRun::new(dir.display().to_string());
    let _guard = KillOnDrop(run.dir.clone());
    let handle = spawn_follow(FollowRequest {
        target: target(&board),
        host_keys: HostKeyPolicy::Ask,
        run: run.clone(),
        local_dir: local.path().to_path_buf(),
        start: Some(StartRequest {
            local_binary: bin,
            // Enough epochs that the pause lands well before the end.
            args: train_args(&run.dir, 6),
            dataset: Some(demo()),
        }),
        reattach_for: Duration::from_secs(60),
    });
    let deadline = Instant::now() + Duration::from_secs(240);
    let (mut epochs, mut lost, mut reattached, mut verified) = (vec![], 0, 0, None);
    let (mut paused, mut resumed) = (false, false);
    while let Ok(event) = handle.events().recv_timeout(Duration::from_secs(60)) {
        assert!(Instant::now() < deadline, "the remote run takes too long");
        match event {
            LinkEvent::Line(line) => match serde_json::from_str(&line).unwrap() {
                TrainEvent::Epoch(m) => {
                    epochs.push(m.epoch);
                    if m.epoch == 1 {
                        // Pause over the link, then drop the link while paused.
                        handle.send_control("pause");
                    }
                }
                TrainEvent::Paused => {
                    paused = true;
                    board.kill();
                    std::thread::sleep(Duration::from_secs(1));
                    board.restart().unwrap();
                }
                TrainEvent::Resumed => resumed = true,
                _ => {}
            },
            LinkEvent::Lost(e) => {
                println!("lost: {e}");
                lost += 1;
            }
            LinkEvent::Reattached { .. } => {
                reattached += 1;
                handle.send_control("resume");
            }
            LinkEvent::Verified(c) => verified = Some(c),
            LinkEvent::Failed(e) => panic!("the follower gave up: {e}"),
            LinkEvent::Status(_)
            | LinkEvent::Started
            | LinkEvent::Upload { .. }
            | LinkEvent::Copied(_) => {}
        }
    }
    assert!(handle.is_finished() || handle.events().is_empty());
    assert_eq!(
        epochs,
        [1, 2, 3, 4, 5, 6],
        "every epoch once across the reattach"
    );
    assert!(
        paused && resumed,
        "pause/resume did not go over the link; control file: {:?}",
        std::fs::read_to_string(run.path(train_link::CONTROL_FILE))
    );
    assert!(
        lost >= 1 && reattached >= 1,
        "lost {lost}, reattached {reattached}"
    );
    let verified = verified.expect("the final checkpoint was not verified");
    assert_eq!(
        std::fs::read(local.path().join(&verified.name)).unwrap(),
        std::fs::read(dir.join(&verified.name)).unwrap()
    );
}
