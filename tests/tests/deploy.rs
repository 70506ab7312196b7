//! Deploy end to end against throwaway sshd "boards" on 127.0.0.1 (see docs/DEPLOY_TESTING.md).
//!
//! The emulated aarch64 board runs the real static aarch64 runner through the profile's
//! execution prefix `qemu-aarch64 -cpu cortex-a53`; tests that need it are skipped with a note
//! when `packaging/build-runner-aarch64.sh` has not been run. Failure tests use fake runner
//! scripts on the host instead. Timing is only ever checked as a generous upper bound on how
//! long a failure takes to be reported.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // Test code: a failed unwrap is a failed test.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bifsmn_deploy::{
    self as deploy, Action, BenchOptions, BoardOutcome, BoardProfile, Credentials, DeployError,
    DeployEvent, DeployRequest, EventKind, HostKeyPolicy, RemoteFile, RunnerLocator, RunnerReport,
    SshConfig, Target,
};
use bifsmn_kernels::format::model_hash;
use bifsmn_tests::deploy_fixtures::{
    aarch64_runner, bifsmn_bin, fake_runner_dir, large_model, qemu_available, run_isolated_cli,
    synth_model, write_wav,
};
use bifsmn_tests::sshd::{TestBoard, free_port, keygen, openssh_fingerprint};

const QEMU_PREFIX: &str = "qemu-aarch64 -cpu cortex-a53";

fn target(profile: BoardProfile) -> Target {
    Target::new(profile, &SshConfig::empty(), Credentials::default()).expect("valid profile")
}

fn emulated(board: &TestBoard, name: &str) -> BoardProfile {
    let mut p = board.profile(name);
    p.exec_prefix = Some(QEMU_PREFIX.into());
    p
}

fn request(model: &Path, runners: RunnerLocator, action: Action) -> DeployRequest {
    DeployRequest {
        model: model.to_path_buf(),
        action,
        paths: vec![0],
        runners,
        history: None,
        host_keys: HostKeyPolicy::Ask,
    }
}

fn quick_bench() -> Action {
    Action::Bench(BenchOptions {
        runs: 3,
        warmup: 1,
        threads: 1,
    })
}

/// Deploy to one board and collect every event and the outcome.
fn deploy_one(t: Target, req: DeployRequest) -> (Vec<DeployEvent>, BoardOutcome) {
    let h = deploy::spawn_deploy(vec![t], req);
    let events: Vec<DeployEvent> = h.events().iter().collect();
    let mut summary = h.wait();
    assert_eq!(summary.boards.len(), 1);
    (events, summary.boards.remove(0))
}

fn ok(outcome: BoardOutcome, board: &TestBoard) -> deploy::BoardSuccess {
    match outcome.result {
        Ok(s) => *s,
        Err(e) => panic!(
            "deploy to {} failed: {e}\nsshd log:\n{}",
            outcome.board,
            board.log_text()
        ),
    }
}

fn err(outcome: BoardOutcome) -> DeployError {
    match outcome.result {
        Ok(_) => panic!("deploy to {} unexpectedly succeeded", outcome.board),
        Err(e) => e,
    }
}

fn skipped(events: &[DeployEvent]) -> Vec<RemoteFile> {
    events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::UploadSkipped { file } => Some(file),
            _ => None,
        })
        .collect()
}

fn part_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "part"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn deploy_and_bench_on_an_emulated_aarch64_board() {
    let (Some(runners), true) = (aarch64_runner(), qemu_available()) else {
        return;
    };
    let Some(board) = TestBoard::start().unwrap() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let model = synth_model(&tmp.path().join("student.bkw"), false, 11);
    let hash = model_hash(&std::fs::read(&model).unwrap());
    let history = tmp.path().join("data/bench-history.jsonl");

    let mut req = request(&model, runners.clone(), quick_bench());
    req.paths = vec![0, 2];
    req.history = Some(history.clone());
    let (events, outcome) = deploy_one(target(emulated(&board, "pi3-emu")), req.clone());
    let s = ok(outcome, &board);

    assert_eq!(s.facts.runner_arch, deploy::Arch::Aarch64);
    assert!(s.facts.emulated);
    assert_eq!(s.uploaded, [RemoteFile::Runner, RemoteFile::Model]);
    assert_eq!(s.model_hash, hash);
    assert_eq!(s.reports.len(), 2);
    for (report, path) in s.reports.iter().zip([0u32, 2]) {
        let RunnerReport::Bench(b) = report else {
            panic!("not a bench report")
        };
        assert_eq!(b.schema, "bifsmn-runner-bench/1");
        assert_eq!(
            b.board.arch, "aarch64",
            "the runner ran as aarch64 under qemu"
        );
        assert_eq!(b.board.isa, "neon");
        assert_eq!(b.model.hash, hash);
        assert_eq!(b.path.index, path);
        assert_eq!(b.runs, 3);
        assert!(!b.layers.is_empty());
        assert!(b.end_to_end_us.p50.is_finite());
    }
    assert_eq!(
        s.p50_by_path().iter().map(|p| p.0).collect::<Vec<_>>(),
        [0, 2]
    );
    // The events tell the story in order, and stream the runner's output.
    assert!(matches!(
        events[0].kind,
        EventKind::Stage(deploy::Stage::Connecting)
    ));
    assert!(
        events
            .iter()
            .any(|e| matches!(e.kind, EventKind::Output { .. }))
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Report(_)))
            .count(),
        2
    );
    assert!(matches!(
        events.last().unwrap().kind,
        EventKind::Finished(Ok(_))
    ));
    // What arrived on the "board" is byte for byte what was sent, under the final names.
    assert_eq!(
        std::fs::read(board.workdir.join("model.bkw")).unwrap(),
        std::fs::read(&model).unwrap()
    );
    assert_eq!(
        std::fs::read(board.workdir.join("bifsmn-runner")).unwrap(),
        std::fs::read(runners.find(deploy::Arch::Aarch64).unwrap()).unwrap()
    );
    assert!(part_files(&board.workdir).is_empty());
    // One history line per report.
    let (entries, bad) = deploy::history::read(&history).unwrap();
    assert_eq!((entries.len(), bad), (2, 0));
    assert!(
        entries
            .iter()
            .all(|e| e.board == "pi3-emu" && e.model_hash == hash && e.kind == "bench")
    );
    assert_eq!(entries[1].path, 2);

    // A second deploy of the same model sends nothing.
    let (events, outcome) = deploy_one(target(emulated(&board, "pi3-emu")), req);
    let s = ok(outcome, &board);
    assert!(s.uploaded.is_empty());
    assert_eq!(skipped(&events), [RemoteFile::Runner, RemoteFile::Model]);

    // Classify a clip on the board.
    let clip = write_wav(&tmp.path().join("clip one.wav"), 16_000, 1.0);
    let req = request(&model, runners, Action::Classify { clip });
    let (_, outcome) = deploy_one(target(emulated(&board, "pi3-emu")), req);
    let s = ok(outcome, &board);
    assert_eq!(s.uploaded, [RemoteFile::Clip]);
    let RunnerReport::Classify(c) = &s.reports[0] else {
        panic!("not a classify report")
    };
    assert_eq!(c.labels.len(), 12);
    assert_eq!(c.labels[c.index as usize], c.label);
    assert_eq!(c.model.hash, hash);
}

#[test]
fn board_check_reports_arch_and_installed_runner() {
    let Some(board) = TestBoard::start().unwrap() else {
        return;
    };
    let t = target(board.profile("plain"));
    let check = deploy::spawn_check(t, HostKeyPolicy::Ask).wait().unwrap();
    assert_eq!(check.facts.uname_machine, std::env::consts::ARCH);
    assert!(!check.facts.emulated);
    assert_eq!(
        check.host_key_fingerprint,
        openssh_fingerprint(&board.host_key_pub).unwrap()
    );
    assert!(check.runner_info.is_none());
    assert!(
        check.runner_problem.unwrap().contains("no runner"),
        "no runner uploaded yet"
    );
}

#[test]
fn host_key_mismatch_is_refused_with_both_fingerprints() {
    let Some(board) = TestBoard::start().unwrap() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let impostor = tmp.path().join("impostor");
    let line = keygen(&impostor).unwrap();
    let mut fields = line.split_whitespace();
    let known = tmp.path().join("known_hosts");
    std::fs::write(
        &known,
        format!("# other hosts\nexample.org ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINHi7nhhDexgZ+zz0zt09wfZcTiQoliwFqJZUStQbi6e\n[127.0.0.1]:{} {} {}\n", board.port, fields.next().unwrap(), fields.next().unwrap()),
    )
    .unwrap();
    let mut p = board.profile("mitm");
    p.known_hosts = Some(known.clone());
    let e = deploy::spawn_check(target(p), HostKeyPolicy::AcceptNew)
        .wait()
        .unwrap_err();
    let msg = e.to_string();
    let expected = openssh_fingerprint(&impostor.with_extension("pub")).unwrap();
    let presented = openssh_fingerprint(&board.host_key_pub).unwrap();
    assert!(
        matches!(&e, DeployError::HostKeyMismatch(m) if m.line == 3),
        "{msg}"
    );
    assert!(
        msg.contains(&expected),
        "expected fingerprint missing: {msg}"
    );
    assert!(
        msg.contains(&presented),
        "presented fingerprint missing: {msg}"
    );
    // Even AcceptNew never overwrites a changed key.
    assert_eq!(std::fs::read_to_string(&known).unwrap().lines().count(), 3);
}

#[test]
fn unknown_host_key_needs_explicit_acceptance() {
    let Some(board) = TestBoard::start().unwrap() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let known = tmp.path().join("ssh/known_hosts");
    let mut p = board.profile("new");
    p.known_hosts = Some(known.clone());

    let e = deploy::spawn_check(target(p.clone()), HostKeyPolicy::Ask)
        .wait()
        .unwrap_err();
    let u = e
        .unknown_host()
        .unwrap_or_else(|| panic!("not an unknown-host error: {e}"))
        .clone();
    assert_eq!(
        u.fingerprint,
        openssh_fingerprint(&board.host_key_pub).unwrap()
    );
    assert_eq!(
        (u.host.as_str(), u.port, u.key_type.as_str()),
        ("127.0.0.1", board.port, "ssh-ed25519")
    );
    assert!(!known.exists(), "nothing is recorded without acceptance");

    deploy::accept_host_key(&u).unwrap();
    let check = deploy::spawn_check(target(p.clone()), HostKeyPolicy::Ask)
        .wait()
        .unwrap();
    assert!(!check.host_key_newly_accepted);

    // The CLI's --accept-new-host-key path: recorded and reported in one go.
    std::fs::remove_file(&known).unwrap();
    let h = deploy::spawn_check(target(p), HostKeyPolicy::AcceptNew);
    let events: Vec<_> = h.events().iter().collect();
    assert!(h.wait().unwrap().host_key_newly_accepted);
    assert!(
        events
            .iter()
            .any(|e| matches!(e.kind, EventKind::HostKeyAccepted { .. }))
    );
    assert!(
        std::fs::read_to_string(&known)
            .unwrap()
            .starts_with(&format!("[127.0.0.1]:{} ssh-ed25519 ", board.port))
    );
}

/// Failures must arrive within the configured timeout (plus slack for a loaded machine).
fn assert_quick(started: Instant, timeout_secs: u64) {
    let limit = Duration::from_secs(timeout_secs + 5);
    assert!(
        started.elapsed() < limit,
        "took {:?}, limit {limit:?}",
        started.elapsed()
    );
}

#[test]
fn authentication_failure_is_reported_clearly() {
    let Some(board) = TestBoard::start().unwrap() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let stranger = tmp.path().join("stranger");
    keygen(&stranger).unwrap();
    let mut p = board.profile("auth");
    p.auth = deploy::Auth::Key {
        path: stranger.clone(),
    };
    p.connect_timeout_secs = 3;
    let started = Instant::now();
    let e = deploy::spawn_check(target(p), HostKeyPolicy::Ask)
        .wait()
        .unwrap_err();
    assert_quick(started, 3);
    let msg = e.to_string();
    assert!(matches!(e, DeployError::Auth { .. }), "{msg}");
    assert!(
        msg.contains("127.0.0.1") && msg.contains(&stranger.display().to_string()),
        "{msg}"
    );

    let mut p = board.profile("pw");
    p.auth = deploy::Auth::Password;
    let creds = Credentials {
        password: Some(deploy::Secret::new("wrong")),
        passphrase: None,
    };
    let t = Target::new(p, &SshConfig::empty(), creds).unwrap();
    let e = deploy::spawn_check(t, HostKeyPolicy::Ask)
        .wait()
        .unwrap_err();
    assert!(
        matches!(e, DeployError::Auth { ref method, .. } if method == "password"),
        "{e}"
    );
}

#[test]
fn closed_port_is_reported_clearly() {
    let port = free_port();
    let mut p = BoardProfile::new("down", "127.0.0.1");
    p.port = Some(port);
    p.user = Some("nobody".into());
    p.known_hosts = Some("/nonexistent/known_hosts".into());
    p.connect_timeout_secs = 3;
    let started = Instant::now();
    let e = deploy::spawn_check(target(p), HostKeyPolicy::Ask)
        .wait()
        .unwrap_err();
    assert_quick(started, 3);
    assert!(matches!(e, DeployError::Connect { .. }), "{e}");
    assert!(e.to_string().contains(&format!("127.0.0.1:{port}")), "{e}");
}

#[test]
fn silent_listener_times_out_in_the_handshake() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accept and hold connections without ever sending an SSH greeting.
    std::thread::spawn(move || {
        let mut held = vec![];
        for s in listener.incoming().take(4) {
            held.push(s);
        }
        std::thread::sleep(Duration::from_secs(60));
    });
    let mut p = BoardProfile::new("mute", "127.0.0.1");
    p.port = Some(port);
    p.user = Some("nobody".into());
    p.known_hosts = Some("/nonexistent/known_hosts".into());
    p.connect_timeout_secs = 2;
    let started = Instant::now();
    let e = deploy::spawn_check(target(p), HostKeyPolicy::Ask)
        .wait()
        .unwrap_err();
    assert_quick(started, 2);
    assert!(matches!(e, DeployError::Handshake { .. }), "{e}");
    assert!(e.to_string().contains("no SSH greeting"), "{e}");
}

#[test]
fn runner_failures_come_back_with_the_remote_stderr() {
    let Some(board) = TestBoard::start().unwrap() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let model = synth_model(&tmp.path().join("tiny.bkw"), true, 3);
    let run = |name: &str, script: &str| {
        let runners = fake_runner_dir(&tmp.path().join(name), script);
        let (_, outcome) = deploy_one(
            target(board.profile(name)),
            request(&model, runners, quick_bench()),
        );
        err(outcome)
    };

    let e = run(
        "exit3",
        "echo 'bifsmn-runner: section conv2: bad weights (fake)' >&2; exit 3",
    );
    assert!(
        matches!(e, DeployError::RunnerFailed { status: 3, .. }),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains("model file cannot be read or is invalid"),
        "{e}"
    );
    assert!(
        e.remote_stderr()
            .unwrap()
            .contains("section conv2: bad weights (fake)"),
        "{e}"
    );

    let e = run(
        "garbage",
        "echo 'this is not { json'; echo 'fake runner: warming up' >&2",
    );
    assert!(matches!(e, DeployError::MalformedReport { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("not JSON") && msg.contains("this is not { json"),
        "{msg}"
    );
    assert!(msg.contains("fake runner: warming up"), "{msg}");

    let e = run("segv", "echo 'about to crash' >&2; kill -SEGV $$");
    match &e {
        DeployError::RunnerKilled { signal, .. } => assert!(signal.contains("SEGV"), "{e}"),
        DeployError::RunnerFailed { status: 139, .. } => {}
        other => panic!("not a crash: {other}"),
    }
    assert!(e.remote_stderr().unwrap().contains("about to crash"), "{e}");
}

#[test]
fn real_runner_usage_error_is_surfaced() {
    let (Some(runners), true) = (aarch64_runner(), qemu_available()) else {
        return;
    };
    let Some(board) = TestBoard::start().unwrap() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let model = synth_model(&tmp.path().join("tiny.bkw"), true, 5);
    let mut req = request(&model, runners, quick_bench());
    req.paths = vec![9];
    let (_, outcome) = deploy_one(target(emulated(&board, "emu")), req);
    let e = err(outcome);
    assert!(
        matches!(e, DeployError::RunnerFailed { status: 2, .. }),
        "{e}"
    );
    assert!(e.remote_stderr().unwrap().contains("bifsmn-runner:"), "{e}");
}

/// Deploy a small model, then start uploading a large one and interrupt it with `interrupt`
/// once a megabyte has gone over. Returns the small model and the interrupted outcome.
fn interrupted_upload(
    board: &mut TestBoard,
    runners: &RunnerLocator,
    tmp: &Path,
    interrupt: &mut dyn FnMut(&mut TestBoard, &deploy::DeployHandle),
) -> (PathBuf, DeployError) {
    let small = synth_model(&tmp.join("small.bkw"), true, 1);
    let (_, outcome) = deploy_one(
        target(emulated(board, "emu")),
        request(&small, runners.clone(), quick_bench()),
    );
    ok(outcome, board);

    let big = large_model(&tmp.join("big.bkw"));
    let h = deploy::spawn_deploy(
        vec![target(emulated(board, "emu"))],
        request(&big, runners.clone(), quick_bench()),
    );
    let mut interrupted_at = None;
    for ev in h.events().iter() {
        if let EventKind::UploadProgress {
            file: RemoteFile::Model,
            sent,
            total,
        } = ev.kind
            && sent >= 1 << 20
            && interrupted_at.is_none()
        {
            interrupt(board, &h);
            interrupted_at = Some((sent, total));
        }
    }
    let (sent, total) = interrupted_at.expect("the large model upload never got going");
    assert!(sent < total, "upload already complete when interrupted");
    let e = err(h.wait().boards.remove(0));
    (small, e)
}

#[test]
fn connection_killed_mid_upload_leaves_the_previous_model_working() {
    let (Some(runners), true) = (aarch64_runner(), qemu_available()) else {
        return;
    };
    let Some(mut board) = TestBoard::start().unwrap() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (small, e) = interrupted_upload(
        &mut board,
        &runners,
        tmp.path(),
        &mut |b: &mut TestBoard, _: &deploy::DeployHandle| b.kill(),
    );
    assert!(
        matches!(e, DeployError::Upload { .. } | DeployError::Ssh { .. }),
        "expected an upload failure, got: {e}"
    );
    assert!(e.to_string().contains("127.0.0.1"), "{e}");
    assert_eq!(
        std::fs::read(board.workdir.join("model.bkw")).unwrap(),
        std::fs::read(&small).unwrap()
    );

    // The board comes back: the old model is still there (nothing to upload) and runs.
    board.restart().unwrap();
    let (events, outcome) = deploy_one(
        target(emulated(&board, "emu")),
        request(&small, runners, quick_bench()),
    );
    let s = ok(outcome, &board);
    assert_eq!(skipped(&events), [RemoteFile::Runner, RemoteFile::Model]);
    assert_eq!(
        s.reports[0].model_hash(),
        model_hash(&std::fs::read(&small).unwrap())
    );
}

#[test]
fn cancelled_upload_leaves_the_previous_model_and_no_temp_files() {
    let (Some(runners), true) = (aarch64_runner(), qemu_available()) else {
        return;
    };
    let Some(mut board) = TestBoard::start().unwrap() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (small, e) = interrupted_upload(
        &mut board,
        &runners,
        tmp.path(),
        &mut |_: &mut TestBoard, h: &deploy::DeployHandle| h.cancel(),
    );
    assert!(matches!(e, DeployError::Cancelled { .. }), "{e}");
    assert_eq!(
        std::fs::read(board.workdir.join("model.bkw")).unwrap(),
        std::fs::read(&small).unwrap()
    );
    assert!(
        part_files(&board.workdir).is_empty(),
        "temporary upload left behind"
    );
}

#[test]
fn three_boards_at_once_with_one_down() {
    let (Some(runners), true) = (aarch64_runner(), qemu_available()) else {
        return;
    };
    let (Some(a), Some(b)) = (TestBoard::start().unwrap(), TestBoard::start().unwrap()) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let model = synth_model(&tmp.path().join("tiny.bkw"), true, 9);
    let mut down = BoardProfile::new("board-down", "127.0.0.1");
    down.port = Some(free_port());
    down.user = Some("nobody".into());
    down.known_hosts = Some(a.known_hosts.clone());
    down.connect_timeout_secs = 3;
    let targets = vec![
        target(emulated(&a, "board-a")),
        target(down),
        target(emulated(&b, "board-b")),
    ];
    let mut req = request(&model, runners, quick_bench());
    req.paths = vec![0, 1];
    let h = deploy::spawn_deploy(targets, req);
    let events: Vec<DeployEvent> = h.events().iter().collect();
    let summary = h.wait();

    let names: Vec<&str> = summary.boards.iter().map(|o| o.board.as_str()).collect();
    assert_eq!(names, ["board-a", "board-down", "board-b"]);
    for o in &summary.boards {
        let finished = events
            .iter()
            .filter(|e| e.board == o.board && matches!(e.kind, EventKind::Finished(_)))
            .count();
        assert_eq!(finished, 1, "{}", o.board);
    }
    assert!(!summary.all_ok());
    let failures: Vec<_> = summary.failures().collect();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].0, "board-down");
    assert!(
        matches!(failures[0].1, DeployError::Connect { .. }),
        "{}",
        failures[0].1
    );
    for (o, board) in [(&summary.boards[0], &a), (&summary.boards[2], &b)] {
        let s = o
            .result
            .as_ref()
            .unwrap_or_else(|e| panic!("{}: {e}\n{}", o.board, board.log_text()));
        assert_eq!(
            s.p50_by_path().iter().map(|p| p.0).collect::<Vec<_>>(),
            [0, 1]
        );
    }
}

#[test]
fn cli_boards_and_deploy() {
    let Some(bin) = bifsmn_bin() else { return };
    let Some(board) = TestBoard::start().unwrap() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    // Everything the CLI reads or writes stays in the temp dir (and never ~/.ssh).
    let cli = |args: &[&str]| run_isolated_cli(&bin, tmp.path(), None, args);
    for help in [
        &["boards", "--help"][..],
        &["boards", "add", "--help"],
        &["boards", "test", "--help"],
        &["deploy", "--help"],
    ] {
        let (code, out, _) = cli(help);
        assert_eq!(code, Some(0), "{help:?}");
        assert!(out.contains("Usage:"), "{help:?}: {out}");
    }

    let port = board.port.to_string();
    let user = bifsmn_tests::sshd::current_user();
    let key = board.client_key.display().to_string();
    let workdir = board.workdir.display().to_string();
    let (code, _, err) = cli(&[
        "boards",
        "add",
        "emu",
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--user",
        &user,
        "--key",
        &key,
        "--workdir",
        &workdir,
        "--exec-prefix",
        QEMU_PREFIX,
    ]);
    assert_eq!(code, Some(0), "{err}");
    let down_port = free_port().to_string();
    let (code, _, err) = cli(&[
        "boards",
        "add",
        "down",
        "--host",
        "127.0.0.1",
        "--port",
        &down_port,
        "--user",
        "nobody",
        "--connect-timeout",
        "3",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let (code, out, _) = cli(&["boards", "list", "--json"]);
    assert_eq!(code, Some(0));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["boards"][1]["name"], "emu");
    assert_eq!(v["boards"][1]["exec_prefix"], QEMU_PREFIX);
    assert_eq!(v["boards"][1]["auth"]["method"], "key");

    // Unknown host key: refused without the flag (no terminal to ask on), then accepted.
    let (code, _, err) = cli(&["boards", "test", "emu"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("is not known") && err.contains("SHA256:"),
        "{err}"
    );
    let (code, out, err) = cli(&["boards", "test", "emu", "--accept-new-host-key", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    let check: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(check["host_key_newly_accepted"], true);
    assert_eq!(check["facts"]["runner_arch"], "aarch64");

    if let (Some(_), true) = (aarch64_runner(), qemu_available()) {
        let model = synth_model(&tmp.path().join("m.bkw"), true, 2);
        let model = model.display().to_string();
        let (code, out, err) = cli(&[
            "deploy", "--board", "emu", "--model", &model, "--bench", "3", "--warmup", "1",
            "--path", "0,1", "--json",
        ]);
        assert_eq!(code, Some(0), "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v[0]["ok"], true);
        assert_eq!(v[0]["result"]["reports"][1]["path"]["index"], 1);
        assert_eq!(
            v[0]["result"]["reports"][0]["schema"],
            "bifsmn-runner-bench/1"
        );

        let (code, out, _) = cli(&["deploy", "--all", "--model", &model, "--bench", "3"]);
        assert_eq!(code, Some(1), "one board is down: {out}");
        let down = out
            .lines()
            .find(|l| l.starts_with("down"))
            .unwrap_or_default();
        let emu = out
            .lines()
            .find(|l| l.starts_with("emu"))
            .unwrap_or_default();
        assert!(
            down.contains("FAILED") && down.contains("cannot connect"),
            "{out}"
        );
        assert!(
            emu.contains("ok") && emu.contains("aarch64 (emulated)") && emu.contains("path 0:"),
            "{out}"
        );
        let history = std::fs::read_to_string(tmp.path().join("data/bench-history.jsonl")).unwrap();
        assert_eq!(history.lines().count(), 3);
    }

    let (code, _, _) = cli(&["boards", "remove", "down"]);
    assert_eq!(code, Some(0));
    let (code, _, err) = cli(&["boards", "remove", "down"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("no saved board"), "{err}");
}
