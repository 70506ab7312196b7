//! Fuzz the `.bkw` reader: `PackedModel::from_bytes` must never panic, and whatever it accepts
//! must re-encode to the same model and run through the engine without panicking.
#![no_main]

use std::sync::Arc;

use bifsmn_kernels::format::{PackedModel, Storage};
use bifsmn_kernels::infer::Engine;
use libfuzzer_sys::fuzz_target;

/// Header offsets (docs/FORMAT.md).
const LENGTH_FIELD: std::ops::Range<usize> = 16..24;
const MIN_LEN: usize = 36;

fuzz_target!(|data: &[u8]| {
    check(data);
    // Most mutations break the length field or the CRC and stop at the header. Repair both
    // so that the mutated sections reach the section and content parsers too.
    if data.len() >= MIN_LEN && data.starts_with(b"BIFSMNKW") {
        let mut d = data.to_vec();
        let n = d.len();
        d[LENGTH_FIELD].copy_from_slice(&(n as u64).to_le_bytes());
        let crc = crc32fast::hash(&d[..n - 4]);
        d[n - 4..].copy_from_slice(&crc.to_le_bytes());
        check(&d);
    }
});

fn check(data: &[u8]) {
    let Ok(model) = PackedModel::from_bytes(data) else {
        return;
    };
    // f32 storage holds every f32, f16 or q8 value exactly, so the round trip is lossless.
    let m = model.with_storage(Storage::default());
    let bytes = m.to_bytes().expect("an accepted model re-encodes");
    let back = PackedModel::from_bytes(&bytes).expect("a re-encoded model parses");
    assert_eq!(back, m, "round trip changed the model");
    // Keep the fuzzer fast: huge (but legal) inputs are checked by the reader only.
    if m.dims.input_len() > 1 << 16 {
        return;
    }
    let engine = Arc::new(Engine::new(&m).expect("an accepted model prepares"));
    let mut session = engine.session();
    let features = vec![0.25f32; engine.input_len()];
    for path in 0..engine.num_paths() {
        let logits = session.forward(path, &features).expect("forward runs");
        assert_eq!(logits.len(), m.labels.len());
    }
}
