//! Headless UI tests with egui_kittest: each drives a panel's main interaction through the
//! real `Workbench` and checks what the accessibility tree (or the panel's state) shows.

#![allow(clippy::unwrap_used, clippy::print_stdout)] // Test code: a failed unwrap is a failed test.

use std::path::Path;
use std::time::Duration;

mod common;

use bifsmn_app::{LaunchOptions, PanelId, Settings, Workbench};
use common::{harness, run_until, wait_for_dataset};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

#[test]
fn selecting_a_clip_shows_its_log_mel() {
    let mut h = harness(Settings::default());
    wait_for_dataset(&mut h);
    // The first clip is selected when a dataset opens; pick another one by clicking its row.
    let ds = h.state().data.dataset().unwrap().clone();
    let clip = ds
        .clips
        .iter()
        .find(|c| c.word == "left" && c.path().is_some())
        .expect("a 'left' clip");
    let name = ds.relative_name(clip);
    h.get_by_label("Filter").focus();
    h.get_by_label("Filter").type_text(&name);
    h.run_steps(3);
    h.get_by_label(&name).click();
    let label = format!("log-mel spectrogram of {name}");
    run_until(&mut h, Duration::from_secs(30), "the log-mel image", |h| {
        h.step();
        h.query_by_label(&label).is_some()
    });
    // The waveform plot and the play button are there too.
    assert!(h.query_by_label_contains("Play").is_some());
}

#[test]
fn a_corrupt_audio_file_shows_its_error_inline() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.wav");
    // A RIFF header that promises data that is not there, then garbage.
    std::fs::write(&bad, b"RIFF\x24\x00\x00\x00WAVEfmt garbage garbage").unwrap();
    let mut s = Settings::default();
    s.data.audio_file = bad.display().to_string();
    let mut h = harness(s);
    wait_for_dataset(&mut h);
    h.get_by_label("Audio file").click();
    h.run_steps(2);
    h.get_by_label("Open file").click();
    run_until(&mut h, Duration::from_secs(30), "the decode error", |h| {
        h.step();
        h.query_by_label_contains("broken.wav:").is_some()
    });
    // The message comes with what to do next.
    assert!(h.query_by_label_contains("Pick a WAV, FLAC").is_some());
}

#[test]
fn a_short_training_run_sends_points_to_the_charts() {
    let runs = tempfile::tempdir().unwrap();
    let mut s = Settings {
        panel: PanelId::Train,
        ..Settings::default()
    };
    s.train.form.epochs = 1;
    s.train.form.batch_size = 8;
    s.train.form.max_train_clips = 16;
    s.train.form.augment = false;
    s.train.form.run_dir = runs.path().join("teacher").display().to_string();
    let mut h = harness(s);
    wait_for_dataset(&mut h);
    // The device choice shows the default, burn's CPU backend flex.
    let device = h.get_by_label("training device").value();
    assert_eq!(device.as_deref(), Some("flex: CPU (burn flex)"));
    h.get_by_role_and_label(egui::accesskit::Role::Button, "Start")
        .click();
    run_until(&mut h, Duration::from_secs(600), "an epoch", |h| {
        h.step();
        h.state().train.live_epochs() >= 1
    });
    assert!(h.state().train.live_points() >= 2, "step and epoch points");
    // The epoch is reported before its checkpoint is written; the run ends after both.
    run_until(
        &mut h,
        Duration::from_secs(120),
        "the end of the run",
        |h| {
            h.step();
            h.state().train.live_state() == Some(bifsmn_app::test_support::LiveState::Finished)
        },
    );
    assert!(runs.path().join("teacher/checkpoint.json").is_file());
    // The log names the finished epoch with where its step time went, and the chart titles
    // are on screen.
    h.run_steps(3);
    assert!(
        h.query_by_label_contains("epoch 1: validation accuracy")
            .is_some()
    );
    assert!(h.query_by_label_contains("(step time: ").is_some());
    assert!(h.query_by_label("Loss · train").is_some());
}

#[test]
fn run_on_a_host_asks_for_the_hosts_dataset_and_names_the_host() {
    let mut s = Settings {
        panel: PanelId::Train,
        ..Settings::default()
    };
    // A host that is not saved (the board store is the user's; this name is not in it).
    s.train.form.run_on = "no-such-saved-host-1234".into();
    s.train.form.run_dir = "/runs/t".into();
    let mut h = harness(s);
    h.run_steps(3);
    assert!(h.query_by_label("Run on").is_some());
    assert!(h.query_by_label("Dataset on the host").is_some());
    h.get_by_role_and_label(egui::accesskit::Role::Button, "Start")
        .click();
    h.run_steps(3);
    assert!(
        h.query_by_label_contains("no dataset folder on the host")
            .is_some()
    );
    assert!(h.state().train.live_state().is_none(), "nothing started");
    deploy_type(&mut h, "Dataset on the host", "/data/sc");
    h.get_by_role_and_label(egui::accesskit::Role::Button, "Start")
        .click();
    h.run_steps(3);
    assert!(
        h.query_by_label_contains("no-such-saved-host-1234")
            .is_some()
    );
    assert!(h.state().train.live_state().is_none(), "nothing started");
    // Attaching to a run already going there names the host too.
    h.get_by_role_and_label(egui::accesskit::Role::Button, "Attach")
        .click();
    h.run_steps(3);
    assert!(
        h.query_by_label_contains("no-such-saved-host-1234")
            .is_some()
    );
    assert!(h.state().train.live_state().is_none(), "nothing attached");
    // Back to this computer: the host's dataset field and Attach go away.
    h.get_by_label("Run on").click();
    h.run_steps(2);
    h.get_by_label("This computer").click();
    h.run_steps(3);
    assert!(h.query_by_label("Dataset on the host").is_none());
    assert!(h.query_by_label("Attach").is_none());
}

#[test]
fn a_run_on_a_host_over_ssh_draws_its_epochs_and_copies_the_checkpoint() {
    use bifsmn_app::test_support::HostFiles;
    use bifsmn_tests::deploy_fixtures::bifsmn_bin;
    use bifsmn_tests::sshd::TestBoard;
    let Some(bin) = bifsmn_bin() else { return };
    let Some(board) = TestBoard::start().unwrap() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let boards = dir.path().join("boards.toml");
    let mut store = bifsmn_deploy::BoardStore::load(&boards).unwrap();
    store.insert(board.profile("rig")).unwrap();
    store.save().unwrap();
    let remote_run = board.dir.path().join("remote runs/gui");
    let mut s = Settings {
        panel: PanelId::Train,
        ..Settings::default()
    };
    s.train.form.epochs = 2;
    s.train.form.batch_size = 8;
    s.train.form.max_train_clips = 16;
    s.train.form.augment = false;
    s.train.form.run_on = "rig".into();
    s.train.form.host_dataset = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../assets/demo")
        .display()
        .to_string();
    s.train.form.run_dir = remote_run.display().to_string();
    let mut h = harness(s);
    h.state_mut().train.use_host_files(HostFiles {
        boards: Some(boards),
        cli_binary: Some(bin),
        runs: Some(dir.path().join("runs")),
    });
    h.run_steps(2);
    h.get_by_role_and_label(egui::accesskit::Role::Button, "Start")
        .click();
    run_until(
        &mut h,
        Duration::from_secs(300),
        "the end of the remote run",
        |h| {
            h.step();
            h.state().train.live_state() == Some(bifsmn_app::test_support::LiveState::Finished)
        },
    );
    assert_eq!(h.state().train.live_epochs(), 2);
    assert!(
        h.state().train.live_points() >= 2,
        "chart points from the host"
    );
    h.run_steps(3);
    assert!(
        h.query_by_label_contains("is identical here and on the host")
            .is_some()
    );
    let local = dir.path().join("runs/rig-gui/model-e0002.bpk");
    assert_eq!(
        std::fs::read(&local).unwrap(),
        std::fs::read(remote_run.join("model-e0002.bpk")).unwrap()
    );
}

#[test]
fn inspect_shows_bits_of_a_synthetic_packed_model() {
    use bifsmn_kernels::format::PackedModel;
    use bifsmn_kernels::synth::SynthSpec;
    use bifsmn_kernels::weights::Precision;

    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("synth.bkw");
    PackedModel::from_weights(&SynthSpec::paper(Precision::Binary).weights(7))
        .unwrap()
        .save(&model)
        .unwrap();
    let mut s = Settings {
        panel: PanelId::Inspect,
        ..Settings::default()
    };
    s.model = model.display().to_string();
    let mut h = harness(s);
    wait_for_dataset(&mut h);
    run_until(&mut h, Duration::from_secs(60), "the bits", |h| {
        h.step();
        h.state().inspect.bit_layers() > 0
    });
    h.run_steps(3);
    // Path 0 of the paper student: conv2, fc1 and 3 binary layers in each of 8 blocks.
    assert_eq!(h.state().inspect.bit_layers(), 2 + 3 * 8);
    assert!(h.query_by_label("layer0.expand plane 1 bits").is_some());
    assert!(h.query_by_label("layer0.expand plane 2 bits").is_some());
    // The layer table lists the layers with their packed sizes.
    assert!(h.query_all_by_label("binpointwise1d").count() >= 16);
    assert!(Path::new(&model).is_file());
}

#[test]
fn shortcuts_switch_panels_and_space_plays_or_explains_why_not() {
    let mut h = harness(Settings::default());
    wait_for_dataset(&mut h);
    run_until(&mut h, Duration::from_secs(30), "the first clip", |h| {
        h.step();
        h.query_by_label_contains("log-mel spectrogram of")
            .is_some()
    });
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num2);
    h.run_steps(2);
    assert_eq!(h.state().panel, PanelId::Train);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num1);
    h.run_steps(2);
    assert_eq!(h.state().panel, PanelId::Data);
    // Space plays the selected clip; without a sound card the panel says so instead.
    h.key_press(egui::Key::Space);
    run_until(
        &mut h,
        Duration::from_secs(10),
        "playback or its warning",
        |h| {
            h.step();
            h.state().data.player.is_playing_any()
                || h.query_by_label_contains("Cannot play audio").is_some()
        },
    );
    // F1 opens the shortcut list.
    h.key_press(egui::Key::F1);
    h.run_steps(2);
    assert!(h.query_by_label("Start training").is_some());
}

#[test]
fn relabel_and_delete_are_undoable() {
    // A copy of the demo set (the edits must not touch the real one).
    let demo = bifsmn_engine::data::demo_root().expect("demo set");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("set");
    bifsmn_engine::fsutil::copy_dir_atomic(&demo, &root).unwrap();
    let mut s = Settings::default();
    s.data.root = Some(root.clone());
    let mut h = harness(s);
    wait_for_dataset(&mut h);
    let ds = h.state().data.dataset().unwrap().clone();
    let (index, clip) = ds
        .clips
        .iter()
        .enumerate()
        .find(|(_, c)| c.word == "yes")
        .expect("a yes clip");
    let path = clip.path().unwrap().to_path_buf();
    let ctx = h.ctx.clone();
    h.state_mut().data.select(&ctx, index);
    run_until(&mut h, Duration::from_secs(30), "the clip", |h| {
        h.step();
        h.query_by_label_contains("log-mel spectrogram of yes/")
            .is_some()
    });
    // Delete goes to .trash; undo brings it back.
    h.get_by_role_and_label(egui::accesskit::Role::Button, "Delete")
        .click();
    h.run_steps(2);
    assert!(!path.exists());
    assert!(
        root.join(".trash/yes")
            .join(path.file_name().unwrap())
            .is_file()
    );
    run_until(&mut h, Duration::from_secs(30), "the rescan", |h| {
        h.step();
        !h.state().data.busy()
    });
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run_steps(2);
    assert!(path.is_file(), "undo restores the file");
}

// ---- Deploy panel ------------------------------------------------------------------------

/// A workbench on the Deploy panel whose boards and bench history live in `dir` (never the
/// user's own files).
fn deploy_harness(
    dir: &Path,
    deploy: bifsmn_app::test_support::DeploySettings,
) -> Harness<'static, Workbench> {
    use bifsmn_app::test_support::{DeployFiles, DeployPanel};
    let settings = Settings {
        panel: PanelId::Deploy,
        deploy: deploy.clone(),
        ..Settings::default()
    };
    let ctx = egui::Context::default();
    let mut wb = Workbench::new(&ctx, Some(settings), &LaunchOptions::default());
    wb.deploy = DeployPanel::with_files(
        &deploy,
        DeployFiles {
            boards: Some(dir.join("config/boards.toml")),
            history: dir.join("data/bench-history.jsonl"),
        },
    );
    Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_ui_state(|ui, wb: &mut Workbench| wb.ui(ui), wb)
}

/// Replace the text of the field labelled `label` with `text`.
fn deploy_type(h: &mut Harness<'static, Workbench>, label: &str, text: &str) {
    h.get_by_label(label).focus();
    h.run_steps(1);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_by_label(label).type_text(text);
    h.run_steps(1);
}

/// Wait (stepping frames) until a label containing `text` is on screen.
fn deploy_wait_for(h: &mut Harness<'static, Workbench>, secs: u64, text: &str) {
    run_until(h, Duration::from_secs(secs), text, |h| {
        h.step();
        h.query_by_label_contains(text).is_some()
    });
}

#[test]
fn deploy_panel_adds_a_board_accepts_its_key_and_benches() {
    use bifsmn_tests::deploy_fixtures::{aarch64_runner, qemu_available, synth_model};
    use bifsmn_tests::sshd::{TestBoard, current_user, openssh_fingerprint};

    let Some(board) = TestBoard::start().unwrap() else {
        return;
    };
    // The real aarch64 runner under qemu when it is there, else the host's runner.
    let emulate = aarch64_runner().is_some() && qemu_available();
    let tmp = tempfile::tempdir().unwrap();
    let model = synth_model(&tmp.path().join("student.bkw"), false, 11);
    let known_hosts = tmp.path().join("ssh/known_hosts");
    let deploy = bifsmn_app::test_support::DeploySettings {
        model: model.display().to_string(),
        paths: vec![0, 2],
        runs: 3,
        warmup: 1,
        ..Default::default()
    };
    let mut h = deploy_harness(tmp.path(), deploy);
    deploy_wait_for(&mut h, 30, "No boards yet");

    // Add the board through the form.
    h.get_by_label("Add board…").click();
    h.run_steps(2);
    deploy_type(&mut h, "Board name", "rig");
    deploy_type(&mut h, "Host", "127.0.0.1");
    deploy_type(&mut h, "Port", &board.port.to_string());
    deploy_type(&mut h, "User", &current_user());
    deploy_type(&mut h, "Remote dir", &board.workdir.display().to_string());
    if emulate {
        deploy_type(&mut h, "Exec prefix", "qemu-aarch64 -cpu cortex-a53");
    }
    h.get_by_label("key file").click();
    h.run_steps(2);
    deploy_type(&mut h, "Key file", &board.client_key.display().to_string());
    h.get_by_label("Advanced").click();
    h.run_steps(2);
    deploy_type(&mut h, "known_hosts", &known_hosts.display().to_string());
    h.get_by_label("Save board").click();
    run_until(&mut h, Duration::from_secs(30), "the saved board", |h| {
        h.step();
        tmp.path().join("config/boards.toml").is_file()
    });
    h.run_steps(2);
    assert_eq!(h.state().deploy.board_names(), ["rig"]);
    let saved = std::fs::read_to_string(tmp.path().join("config/boards.toml")).unwrap();
    assert!(
        saved.contains("[board.rig]") && saved.contains("method = \"key\""),
        "{saved}"
    );

    // Test the connection: the host key is new, so the dialog shows its fingerprint.
    h.get_by_label("Test rig").click();
    deploy_wait_for(&mut h, 60, "Unknown host key");
    let fingerprint = openssh_fingerprint(&board.host_key_pub).unwrap();
    assert!(
        h.query_by_label(&fingerprint).is_some(),
        "the dialog shows {fingerprint}"
    );
    h.get_by_label("Accept and connect").click();
    deploy_wait_for(&mut h, 60, "Connected as");
    assert!(
        std::fs::read_to_string(&known_hosts)
            .unwrap()
            .contains(&format!("[127.0.0.1]:{}", board.port)),
        "the accepted key is recorded"
    );

    // Push and bench paths 0 and 2; the report table appears.
    h.get_by_label_contains("Push & bench on rig").click();
    deploy_wait_for(&mut h, 60, "Runner output");
    run_until(&mut h, Duration::from_secs(600), "the deploy", |h| {
        h.step();
        !h.state().deploy.is_deploying()
    });
    deploy_wait_for(&mut h, 30, "p99 µs");
    h.run_steps(3);
    assert!(
        h.query_by_label_contains("1 of 1 board done").is_some(),
        "the summary says the board is done"
    );
    assert!(h.query_by_label("Latency per layer").is_some());
    assert!(h.query_by_label("conv1").is_some(), "a layer row");
    assert!(h.query_by_label("End-to-end p50 per thin path").is_some());
    // Both reports are in the history, which lists them.
    let (entries, _) =
        bifsmn_deploy::history::read(&tmp.path().join("data/bench-history.jsonl")).unwrap();
    assert_eq!(entries.len(), 2);
    assert!(
        entries
            .iter()
            .all(|e| e.board == "rig" && e.kind == "bench")
    );
    h.get_by_label("History").click();
    h.run_steps(3);
    assert!(h.query_by_label("when (UTC)").is_some());
    // The synthetic model has no training run: the accuracy chart says so.
    h.get_by_label("Accuracy vs latency").click();
    deploy_wait_for(&mut h, 30, "No accuracy available for this model");
}

#[test]
fn deploy_panel_asks_before_trusting_a_new_host_key_and_refuses_a_changed_one() {
    use bifsmn_deploy::BoardStore;
    use bifsmn_tests::sshd::{TestBoard, keygen, openssh_fingerprint};

    let Some(board) = TestBoard::start().unwrap() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    // Two profiles of the same board, written with the engine API: one whose known_hosts
    // lacks the key, one whose known_hosts has another key for it.
    let fresh_known = tmp.path().join("fresh_known_hosts");
    let stale_known = tmp.path().join("stale_known_hosts");
    let other = keygen(&tmp.path().join("other")).unwrap();
    let mut fields = other.split_whitespace();
    std::fs::write(
        &stale_known,
        format!(
            "[127.0.0.1]:{} {} {}\n",
            board.port,
            fields.next().unwrap(),
            fields.next().unwrap()
        ),
    )
    .unwrap();
    let mut store = BoardStore::load(&tmp.path().join("config/boards.toml")).unwrap();
    let mut fresh = board.profile("fresh");
    fresh.known_hosts = Some(fresh_known.clone());
    let mut stale = board.profile("stale");
    stale.known_hosts = Some(stale_known.clone());
    store.insert(fresh).unwrap();
    store.insert(stale).unwrap();
    store.save().unwrap();

    let mut h = deploy_harness(tmp.path(), Default::default());
    run_until(&mut h, Duration::from_secs(30), "the boards", |h| {
        h.step();
        h.state().deploy.board_names().len() == 2
    });
    h.run_steps(2);

    // A new key: the dialog shows its fingerprint; rejecting records nothing.
    h.get_by_label("Test fresh").click();
    deploy_wait_for(&mut h, 60, "Unknown host key");
    let presented = openssh_fingerprint(&board.host_key_pub).unwrap();
    assert!(h.query_by_label(&presented).is_some());
    h.get_by_label("Reject").click();
    deploy_wait_for(&mut h, 10, "rejected: not connected");
    assert!(
        h.query_by_label("Unknown host key").is_none(),
        "dialog closed"
    );
    assert!(!fresh_known.exists(), "nothing recorded without acceptance");

    // A changed key: refused, with both fingerprints and what to do.
    h.get_by_label("Test stale").click();
    deploy_wait_for(&mut h, 60, "HOST KEY MISMATCH");
    let expected = openssh_fingerprint(&tmp.path().join("other.pub")).unwrap();
    assert!(
        h.query_by_label(&expected).is_some(),
        "expected fingerprint"
    );
    assert!(
        h.query_by_label(&presented).is_some(),
        "presented fingerprint"
    );
    assert!(h.query_by_label_contains("remove line 1 from").is_some());
}

// ---- Test panel --------------------------------------------------------------------------

/// A paper-sized synthetic binary student with the demo set's 12 class names, saved as `.bkw`.
fn test_panel_model(dir: &Path) -> std::path::PathBuf {
    use bifsmn_kernels::format::PackedModel;
    use bifsmn_kernels::synth::SynthSpec;
    use bifsmn_kernels::weights::Precision;

    let mut weights = SynthSpec::paper(Precision::Binary).weights(7);
    weights.labels = bifsmn_engine::data::Protocol::Twelve.labels();
    let path = dir.join("synth12.bkw");
    PackedModel::from_weights(&weights)
        .unwrap()
        .save(&path)
        .unwrap();
    path
}

/// A workbench on the Test panel with `edit` applied to its settings.
fn test_panel_harness(edit: impl FnOnce(&mut Settings)) -> Harness<'static, Workbench> {
    let mut s = Settings {
        panel: PanelId::Test,
        ..Settings::default()
    };
    edit(&mut s);
    let mut h = harness(s);
    wait_for_dataset(&mut h);
    h
}

#[test]
fn test_panel_confusion_matrix_lists_and_plays_the_clips_of_a_cell() {
    use bifsmn_app::test_support::TestView;
    let dir = tempfile::tempdir().unwrap();
    let model = test_panel_model(dir.path());
    let mut h = test_panel_harness(|s| {
        s.model = model.display().to_string();
        let t = &mut s.test;
        t.view = TestView::Confusion;
    });
    run_until(
        &mut h,
        Duration::from_secs(180),
        "the confusion matrix",
        |h| {
            h.step();
            h.state().test.confusion_total() > 0
        },
    );
    h.run_steps(3);
    // Every test clip of the demo set is in the matrix, rows and columns are the 12 classes.
    let ds = h.state().data.dataset().unwrap().clone();
    let tests = ds.indices_in(bifsmn_engine::data::Split::Test).len();
    assert_eq!(h.state().test.confusion_total(), tests);
    let (rows, cols, counts) = h.state().test.confusion_counts().unwrap();
    assert_eq!(rows, ds.labels);
    assert_eq!(cols, ds.labels);
    assert!(h.query_by_label_contains("Accuracy").is_some());
    // Click a non-empty cell (the grid's cells are buttons named after their contents).
    let (r, c, n) = (0..rows.len())
        .flat_map(|r| (0..cols.len()).map(move |c| (r, c)))
        .map(|(r, c)| (r, c, counts[r][c]))
        .find(|&(r, _, n)| n > 0 && rows[r] != "silence")
        .expect("a non-empty cell");
    let label = format!(
        "true {}, predicted {}: {n} clip{}",
        rows[r],
        cols[c],
        if n == 1 { "" } else { "s" }
    );
    h.get_by_label(&label).click();
    h.run_steps(3);
    let listed = h.state().test.listed_clips();
    assert_eq!(listed.len(), n);
    assert!(
        listed
            .iter()
            .all(|name| name.starts_with(&format!("{}/", rows[r])) || rows[r] == "unknown")
    );
    // Clicking a listed clip plays it, or says why it cannot.
    let first = listed[0].clone();
    assert!(h.query_by_label(&first).is_some(), "{first} is listed");
    h.get_by_label(&first).click();
    run_until(
        &mut h,
        Duration::from_secs(30),
        "playback or its warning",
        |h| {
            h.step();
            h.state().test.is_live() || h.query_by_label_contains("Cannot play audio").is_some()
        },
    );
}

#[test]
fn test_panel_live_detection_on_an_audio_file_draws_traces_and_lists_events() {
    use bifsmn_app::test_support::SourceKind;
    let dir = tempfile::tempdir().unwrap();
    let model = test_panel_model(dir.path());
    // A 3 s stream: three demo clips back to back.
    let demo = bifsmn_engine::data::demo_root().expect("demo set");
    let mut samples = Vec::new();
    for word in ["yes", "no", "left"] {
        let f = std::fs::read_dir(demo.join(word))
            .unwrap()
            .map(|e| e.unwrap().path())
            .min()
            .unwrap();
        samples.extend(bifsmn_engine::audio::load_mono_16k(&f).unwrap());
    }
    let wav = dir.path().join("stream.wav");
    bifsmn_engine::audio::write_wav_mono_16k(&wav, &samples).unwrap();
    let mut h = test_panel_harness(|s| {
        s.model = model.display().to_string();
        let t = &mut s.test;
        t.source = SourceKind::AudioFile;
        t.file = wav.display().to_string();
        t.real_time = false;
        // Every keyword's score is above 0: the first window fires, whatever the weights.
        t.threshold = 0.0;
    });
    run_until(&mut h, Duration::from_secs(60), "the model", |h| {
        h.step();
        h.state().test.model().is_some()
    });
    h.get_by_label("Start detection").click();
    run_until(
        &mut h,
        Duration::from_secs(60),
        "the end of the file",
        |h| {
            h.step();
            let (points, _) = h.state().test.live_counts();
            points > 0 && !h.state().test.detecting()
        },
    );
    h.run_steps(3);
    let (points, events) = h.state().test.live_counts();
    // 3 s of clips and 1 s of appended silence, one window every 100 ms.
    assert!(points >= 35, "{points} score points");
    assert!(events >= 1, "no event at threshold 0");
    assert!(h.query_by_label("Events (newest first)").is_some());
    assert!(h.query_by_label_contains("Listened to").is_some());
    assert!(h.query_by_label("No keyword yet.").is_none());
}

#[test]
fn test_panel_without_a_microphone_says_what_to_do_and_keeps_working() {
    // A device that is not there: the same notice as a machine without a sound card.
    let mut h = test_panel_harness(|s| s.test.device = "no-such-microphone-42".into());
    h.get_by_label("Start microphone").click();
    run_until(&mut h, Duration::from_secs(30), "the notice", |h| {
        h.step();
        h.query_by_label_contains("No usable microphone").is_some()
    });
    assert!(h.query_by_label_contains("Connect a microphone").is_some());
    assert!(h.query_all_by_label_contains("Audio file").count() >= 1);
    assert!(!h.state().test.is_live(), "nothing keeps running");
    // The system default: on this machine (no sound card) it fails the same way; where a
    // microphone exists it opens and the level meter runs.
    h.state_mut().test = bifsmn_app::test_support::TestPanel::new(&Default::default());
    h.run_steps(2);
    h.get_by_label("Start microphone").click();
    run_until(
        &mut h,
        Duration::from_secs(30),
        "the microphone or its notice",
        |h| {
            h.step();
            h.query_by_label_contains("No usable microphone").is_some()
                || h.query_by_label("Stop microphone").is_some()
        },
    );
    // The rest of the panel still works: the demo student classifies the test split.
    h.get_by_label("Confusion matrix").click();
    run_until(
        &mut h,
        Duration::from_secs(120),
        "the confusion matrix",
        |h| {
            h.step();
            bifsmn_app::test_support::demo_model().is_none() || h.state().test.confusion_total() > 0
        },
    );
}

/// Whether ALSA's `null` capture device (endless zeros) is there to stand in for a microphone.
fn test_panel_null_device() -> bool {
    bifsmn_engine::capture::list_input_devices()
        .map(|l| {
            l.iter()
                .any(|d| d.id == "null" && d.default_config.is_some())
        })
        .unwrap_or(false)
}

#[test]
fn test_panel_records_into_the_dataset_and_detects_from_the_microphone() {
    if !test_panel_null_device() {
        eprintln!("skipped: no ALSA null capture device to stand in for a microphone");
        return;
    }
    // A copy of the demo set (recordings must not touch the real one).
    let demo = bifsmn_engine::data::demo_root().expect("demo set");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("set");
    bifsmn_engine::fsutil::copy_dir_atomic(&demo, &root).unwrap();
    let mut s = Settings {
        panel: PanelId::Test,
        ..Settings::default()
    };
    s.data.root = Some(root.clone());
    s.test.device = "null".into();
    s.test.record_label = "yes".into();
    s.test.record_speaker = "Kittest Speaker".into();
    s.test.record_seconds = 0.5;
    s.test.record_trim = false;
    s.test.record_count = 2;
    let mut h = harness(s);
    wait_for_dataset(&mut h);
    h.get_by_label("Record 2 clips").click();
    run_until(&mut h, Duration::from_secs(60), "two saved clips", |h| {
        h.step();
        h.query_all_by_label_contains("saved yes/").count() == 2
    });
    let id = bifsmn_engine::capture::record::speaker_id("Kittest Speaker");
    for n in 0..2 {
        assert!(root.join(format!("yes/{id}_nohash_{n}.wav")).is_file());
    }
    // The Data panel rescans and lists the new clips. (Not a check of the Test panel's
    // "changed" flag itself: the app consumes it on the frame it is set, which may be a
    // second pass of the same step.)
    run_until(
        &mut h,
        Duration::from_secs(60),
        "the Data panel to list the new clips",
        |h| {
            h.step();
            h.state()
                .data
                .dataset()
                .is_some_and(|ds| ds.clips.iter().filter(|c| c.speaker == id).count() == 2)
        },
    );
    // The microphone stays open with its meter; detection takes it over.
    run_until(
        &mut h,
        Duration::from_secs(30),
        "the end of the session",
        |h| {
            h.step();
            h.query_by_label("Stop microphone").is_some()
        },
    );
    assert!(h.query_by_label_contains("input level").is_some());
    h.get_by_label("Start detection").click();
    run_until(
        &mut h,
        Duration::from_secs(60),
        "scores from the microphone",
        |h| {
            h.step();
            h.state().test.live_counts().0 >= 5
        },
    );
    assert!(h.query_by_label_contains("Listening to").is_some());
    h.get_by_label("Stop detection").click();
    run_until(
        &mut h,
        Duration::from_secs(30),
        "the detector to stop",
        |h| {
            h.step();
            !h.state().test.detecting()
        },
    );
}
