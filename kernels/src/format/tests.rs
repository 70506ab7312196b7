use super::layout::*;
use super::*;
use crate::synth::SynthSpec;

fn tiny(p: Precision) -> PackedModel {
    PackedModel::from_weights(&SynthSpec::tiny(p).weights(1)).unwrap()
}

/// Rewrite the length field and CRC after editing a file, so that the edit reaches the parser.
fn reseal(mut b: Vec<u8>) -> Vec<u8> {
    if b.len() < HEADER_LEN + TRAILER_LEN {
        return b;
    }
    let n = b.len();
    b[16..24].copy_from_slice(&(n as u64).to_le_bytes());
    let crc = crc32fast::hash(&b[..n - 4]);
    b[n - 4..].copy_from_slice(&crc.to_le_bytes());
    b
}

fn entry(i: usize) -> usize {
    HEADER_LEN + i * ENTRY_LEN
}

fn find_entry(b: &[u8], kind: Kind) -> usize {
    let count = u32::from_le_bytes(b[12..16].try_into().unwrap()) as usize;
    (0..count)
        .map(entry)
        .find(|&e| u16::from_le_bytes([b[e], b[e + 1]]) == kind as u16)
        .unwrap()
}

fn err(b: &[u8]) -> String {
    match PackedModel::from_bytes(b) {
        Ok(_) => "accepted".into(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn binary_and_float_models_round_trip_exactly() {
    for p in [Precision::Binary, Precision::Float] {
        for m in [
            tiny(p),
            PackedModel::from_weights(&SynthSpec::paper(p).weights(2)).unwrap(),
        ] {
            let b = m.to_bytes().unwrap();
            let back = PackedModel::from_bytes(&b).unwrap();
            assert_eq!(back, m);
            assert_eq!(back.to_bytes().unwrap(), b, "re-encoding is byte-identical");
        }
    }
}

#[test]
fn f16_storage_rounds_once_and_then_round_trips() {
    let m = tiny(Precision::Binary).with_storage(Storage {
        fp_weights: FloatDtype::F16,
        per_channel: FloatDtype::F16,
    });
    let b = m.to_bytes().unwrap();
    assert!(b.len() < tiny(Precision::Binary).to_bytes().unwrap().len());
    let back = PackedModel::from_bytes(&b).unwrap();
    assert_eq!(back.storage, m.storage);
    assert_eq!(back.to_bytes().unwrap(), b);
    let close = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= 1e-3 * x.abs().max(1e-2))
    };
    assert!(close(&m.classifier.weight, &back.classifier.weight));
    assert!(close(&m.conv2.affine.scale, &back.conv2.affine.scale));
    // Slopes are always f32.
    assert_eq!(m.fc1.slope, back.fc1.slope);
}

#[test]
fn q8_storage_rounds_once_then_round_trips_and_says_version_2() {
    for p in [Precision::Binary, Precision::Float] {
        let exact = PackedModel::from_weights(&SynthSpec::paper(p).weights(3)).unwrap();
        let m = exact.clone().with_storage(Storage::COMPACT);
        let b = m.to_bytes().unwrap();
        assert_eq!(u32::from_le_bytes(b[8..12].try_into().unwrap()), VERSION_Q8);
        let f32_len = exact.to_bytes().unwrap().len();
        assert!(b.len() * 3 < f32_len * 2, "{} vs {f32_len}", b.len());
        let back = PackedModel::from_bytes(&b).unwrap();
        assert_eq!(back.storage, Storage::COMPACT);
        assert!(
            back.to_bytes().unwrap() == b,
            "re-encoding is byte-identical"
        );
        assert_eq!(
            back.summary().total_packed_bytes,
            m.summary().total_packed_bytes
        );
        // Every value is within one step of its group's grid (1/255 of the group's range).
        let within = |a: &[f32], b: &[f32], groups: usize| {
            for (ga, gb) in a.chunks(a.len() / groups).zip(b.chunks(b.len() / groups)) {
                let lo = ga.iter().copied().fold(f32::INFINITY, f32::min);
                let hi = ga.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                for (x, y) in ga.iter().zip(gb) {
                    assert!((x - y).abs() <= (hi - lo) / 255.0, "{x} -> {y}");
                }
            }
        };
        within(
            &exact.classifier.weight,
            &back.classifier.weight,
            exact.dims.classes,
        );
        within(&exact.conv2.affine.scale, &back.conv2.affine.scale, 1);
        within(
            &exact.layers[0].expand.affine.shift,
            &back.layers[0].expand.affine.shift,
            1,
        );
        // Slopes are always f32.
        assert_eq!(exact.fc1.slope, back.fc1.slope);
    }
}

#[test]
fn q8_needs_version_2_and_its_sections_are_checked() {
    let good = tiny(Precision::Binary)
        .with_storage(Storage::COMPACT)
        .to_bytes()
        .unwrap();
    let mut v1 = good.clone();
    v1[8] = 1;
    assert!(err(&reseal(v1)).contains("dtype q8 needs format version 2"));
    let e = find_entry(&good, Kind::ClassifierWeight);
    let off = u64::from_le_bytes(good[e + 8..e + 16].try_into().unwrap()) as usize;
    let mut groups = good.clone();
    groups[off..off + 4].copy_from_slice(&7u32.to_le_bytes());
    let msg = err(&reseal(groups));
    assert!(
        msg.contains("CLASSIFIER_WEIGHT") && msg.contains("equal groups"),
        "{msg}"
    );
    let mut grid = good;
    grid[off + 4..off + 8].copy_from_slice(&f32::INFINITY.to_le_bytes());
    let msg = err(&reseal(grid));
    assert!(
        msg.contains("CLASSIFIER_WEIGHT") && msg.contains("non-finite grid"),
        "{msg}"
    );
}

#[test]
fn f32_files_keep_version_1() {
    let b = tiny(Precision::Binary).to_bytes().unwrap();
    assert_eq!(u32::from_le_bytes(b[8..12].try_into().unwrap()), VERSION);
}

#[test]
fn f16_overflow_is_an_error_not_infinity() {
    let mut m = tiny(Precision::Binary);
    m.classifier.weight[3] = 1e6;
    let m = m.with_storage(Storage {
        fp_weights: FloatDtype::F16,
        per_channel: FloatDtype::F32,
    });
    assert!(matches!(m.to_bytes(), Err(FormatError::F16Overflow { .. })));
}

#[test]
fn every_truncation_is_rejected_without_panicking() {
    let b = tiny(Precision::Binary).to_bytes().unwrap();
    for n in 0..b.len() {
        let e = PackedModel::from_bytes(&b[..n]).unwrap_err();
        assert!(
            matches!(
                e,
                FormatError::Truncated { .. } | FormatError::BadMagic { .. }
            ),
            "prefix of {n} bytes: {e}"
        );
    }
}

#[test]
fn header_problems_are_named() {
    let good = tiny(Precision::Binary).to_bytes().unwrap();
    let mut b = good.clone();
    b[0] = b'X';
    assert!(err(&b).contains("bad magic"));
    let mut b = good.clone();
    b[8] = 3;
    assert!(err(&b).contains("unsupported format version 3"));
    let mut b = good.clone();
    b.push(0);
    assert!(err(&b).contains("length mismatch"));
    let mut b = good.clone();
    let mid = b.len() / 2;
    b[mid] ^= 0x40;
    assert!(err(&b).contains("checksum mismatch"));
    let mut b = good.clone();
    b[24] = 1;
    assert!(err(&reseal(b)).contains("flags"));
    let mut b = good.clone();
    b[12..16].copy_from_slice(&100_000u32.to_le_bytes());
    assert!(err(&reseal(b)).contains("section_count"));
    let mut b = good;
    b[12..16].copy_from_slice(&4000u32.to_le_bytes());
    assert!(err(&reseal(b)).contains("section table"));
}

#[test]
fn section_table_problems_are_named() {
    let good = tiny(Precision::Binary).to_bytes().unwrap();
    let e = find_entry(&good, Kind::Fc1Weight);
    let edit = |f: &dyn Fn(&mut Vec<u8>)| {
        let mut b = good.clone();
        f(&mut b);
        err(&reseal(b))
    };
    let set64 =
        |b: &mut Vec<u8>, at: usize, v: u64| b[at..at + 8].copy_from_slice(&v.to_le_bytes());
    assert!(edit(&|b| b[e + 6] = 9).contains("unknown dtype code 9"));
    assert!(edit(&|b| b[e + 7] = 1).contains("reserved byte"));
    assert!(edit(&|b| b[e] = 0x7f).contains("unknown section kind"));
    assert!(edit(&|b| set64(b, e + 8, u64::MAX - 3)).contains("past the data area"));
    assert!(edit(&|b| set64(b, e + 16, 1 << 40)).contains("past the data area"));
    assert!(edit(&|b| set64(b, e + 8, 8)).contains("inside the header"));
    let off = u64::from_le_bytes(good[e + 8..e + 16].try_into().unwrap());
    assert!(edit(&|b| set64(b, e + 8, off + 4)).contains("not a multiple of 8"));
    assert!(edit(&|b| set64(b, e + 16, 12)).contains("not a multiple of the bits size"));
    // Shorter than the shape needs.
    assert!(edit(&|b| set64(b, e + 16, 8)).contains("FC1_WEIGHT"));
    // Point another section at the same bytes: overlap.
    let e2 = find_entry(&good, Kind::Fc1Affine);
    let r = edit(&|b| {
        let o = b[e + 8..e + 24].to_vec();
        b[e2 + 8..e2 + 16].copy_from_slice(&o[..8]);
    });
    assert!(r.contains("overlaps") || r.contains("FC1_AFFINE"), "{r}");
    // Duplicate key.
    assert!(
        edit(&|b| {
            let k = b[e..e + 6].to_vec();
            b[e2..e2 + 6].copy_from_slice(&k);
        })
        .contains("appears twice")
    );
}

#[test]
fn content_problems_are_named() {
    let good = tiny(Precision::Binary).to_bytes().unwrap();
    let data = |b: &[u8], kind: Kind| {
        let e = find_entry(b, kind);
        let off = u64::from_le_bytes(b[e + 8..e + 16].try_into().unwrap()) as usize;
        let len = u64::from_le_bytes(b[e + 16..e + 24].try_into().unwrap()) as usize;
        (off, len)
    };
    let edit = |kind: Kind, f: &dyn Fn(&mut [u8])| {
        let mut b = good.clone();
        let (off, len) = data(&b, kind);
        f(&mut b[off..off + len]);
        err(&reseal(b))
    };
    assert!(edit(Kind::Meta, &|d| d[0] = 7).contains("precision code 7"));
    assert!(edit(Kind::Meta, &|d| d[4 * 4] = 200).contains("conv1 channels"));
    assert!(edit(Kind::Meta, &|d| d[14 * 4] = 4).contains("even"));
    assert!(
        edit(Kind::Meta, &|d| d[4 * 12..4 * 13]
            .copy_from_slice(&u32::MAX.to_le_bytes()))
        .contains("memory size")
    );
    assert!(
        edit(Kind::Features, &|d| d[8..12]
            .copy_from_slice(&3u32.to_le_bytes()))
        .contains("n_fft")
    );
    assert!(edit(Kind::Labels, &|d| d[0] = 200).contains("label 0"));
    assert!(edit(Kind::Labels, &|d| d[4] = 0xff).contains("UTF-8"));
    assert!(edit(Kind::Paths, &|d| d[4] = 9).contains("path 0"));
    assert!(edit(Kind::Planes, &|d| d[0] = 3).contains("expected 1 or 2"));
    assert!(
        edit(Kind::Conv1Weight, &|d| d[0..4]
            .copy_from_slice(&f32::NAN.to_le_bytes()))
        .contains("not finite")
    );
    assert!(
        edit(Kind::Conv2Weight, &|d| {
            let n = d.len();
            d[n - 1] = 0x80
        })
        .contains("padding bits")
    );
}

#[test]
fn wrong_weights_are_rejected_with_the_field_name() {
    let mut w = SynthSpec::tiny(Precision::Binary).weights(1);
    w.layers[1].expand.weight.pop();
    let e = PackedModel::from_weights(&w).unwrap_err().to_string();
    assert!(e.contains("layers[1].expand.weight"), "{e}");
    let mut w = SynthSpec::tiny(Precision::Binary).weights(1);
    w.fc1_quant = None;
    assert!(
        PackedModel::from_weights(&w)
            .unwrap_err()
            .to_string()
            .contains("fc1_quant")
    );
    let mut w = SynthSpec::tiny(Precision::Binary).weights(1);
    w.bn2.running_var[0] = f32::INFINITY;
    assert!(
        PackedModel::from_weights(&w)
            .unwrap_err()
            .to_string()
            .contains("bn2.running_var")
    );
}

#[test]
fn save_is_atomic_and_load_reads_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.bkw");
    let m = tiny(Precision::Float);
    m.save(&path).unwrap();
    assert_eq!(PackedModel::load(&path).unwrap(), m);
    // Only the final file is left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("m.bkw")]);
    let e = PackedModel::load(dir.path().join("missing.bkw"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("cannot read") && e.contains("missing.bkw"),
        "{e}"
    );
}

#[test]
fn hash_is_fnv1a64_of_the_bytes() {
    assert_eq!(model_hash(b""), "fnv1a64:cbf29ce484222325");
    assert_eq!(model_hash(b"a"), "fnv1a64:af63dc4c8601ec8c");
}

#[test]
fn summary_counts_the_paper_model() {
    let m = PackedModel::from_weights(&SynthSpec::paper(Precision::Binary).weights(3)).unwrap();
    let s = m.summary();
    assert_eq!(s.layers.len(), 3 + 3 * 8 + 1);
    let binary_weight_bits: usize = s
        .layers
        .iter()
        .filter(|l| l.weight_bits == 1)
        .map(|l| l.shape.iter().product::<usize>())
        .sum();
    // docs/METHOD.md §2: 574 976 one-bit weights.
    assert_eq!(binary_weight_bits, 574_976);
    let p0 = &s.paths[0];
    assert_eq!(p0.layers, (0..8).collect::<Vec<_>>());
    // docs/METHOD.md §2: 5.43 M MACs for the 12-class, 8-layer model.
    assert_eq!(p0.macs, 102_400 + 819_200 + 262_144 + 8 * 529_408 + 12_288);
    assert!(s.to_string().contains("layer7.project"));
}

#[test]
fn a_repeated_thin_path_is_refused() {
    let spec = SynthSpec {
        paths: Some(vec![vec![0, 2], vec![0, 2]]),
        ..SynthSpec::tiny(Precision::Binary)
    };
    let e = PackedModel::from_weights(&spec.weights(1))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("path 1") && e.contains("same layers as path 0"),
        "{e}"
    );
}
