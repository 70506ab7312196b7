//! Several datasets in the Speech Commands layout made into one (`bifsmn data merge`): a
//! synthetic corpus plus the demo set, or plus the clips a user recorded.
//!
//! Every clip keeps its split: a dataset with split lists contributes its lists verbatim, one
//! without gets entries from the same speaker hash `Dataset::open` would use. Clips are linked
//! (symlinks to the originals, the default) or copied. The merged folder appears whole or not at
//! all.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::DataError;
use super::speech_commands::{
    BACKGROUND_DIR, KEYWORDS_FILE, Split, TESTING_LIST, VALIDATION_LIST, check_root, hashed_split,
    read_keywords, read_split_lists, scan,
};
use crate::fsutil::StagedDir;

/// How the merged folder refers to the original files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MergeMode {
    /// Symbolic links to the originals (fast, no space; the originals must stay).
    Link,
    /// Copies (a self-contained folder).
    Copy,
}

/// What a merge made.
#[derive(Debug, Serialize)]
pub struct MergeReport {
    /// The merged dataset folder.
    pub out: PathBuf,
    /// Clips taken from each input, in the order given.
    pub clips_per_root: Vec<(PathBuf, usize)>,
    /// Noise recordings in the merged `_background_noise_`.
    pub noise_files: usize,
    /// Noise recordings left out because an earlier input has one of the same name (the same
    /// noise in another format).
    pub skipped_noise: Vec<PathBuf>,
    /// The merged keyword list, if any input has one.
    pub keywords: Option<Vec<String>>,
}

/// Merge `roots` (in order) into the new folder `out`, which must not exist yet.
///
/// Two inputs holding a clip under the same `<word>/<file>` name is an error naming both: a
/// clip name is its identity in the split lists.
pub fn merge_datasets(
    roots: &[PathBuf],
    out: &Path,
    mode: MergeMode,
) -> Result<MergeReport, DataError> {
    let fail = |path: &Path, reason: String| DataError::Merge {
        path: path.to_path_buf(),
        reason,
    };
    if roots.len() < 2 {
        return Err(fail(out, "give at least two datasets to merge".into()));
    }
    if out.exists() {
        return Err(fail(out, "already exists; choose a new folder".into()));
    }
    let staged = StagedDir::new(out, ".merge.").map_err(|e| DataError::io(&e.path, e.source))?;
    let stage = staged.path();

    let mut owner: HashMap<String, PathBuf> = HashMap::new();
    let mut noise_names: HashSet<(String, String)> = HashSet::new();
    let mut lists = [Vec::<String>::new(), Vec::new()];
    let mut keywords: Option<Vec<String>> = None;
    let mut report = MergeReport {
        out: out.to_path_buf(),
        clips_per_root: Vec::new(),
        noise_files: 0,
        skipped_noise: Vec::new(),
        keywords: None,
    };

    for root in roots {
        check_root(root)?;
        let root = std::fs::canonicalize(root).map_err(|e| DataError::io(root, e))?;
        let (found, background) = scan(&root)?;
        if found.is_empty() {
            return Err(DataError::NoClips(root));
        }
        for f in &found {
            if let Some(first) = owner.get(&f.rel) {
                return Err(fail(
                    &root.join(&f.rel),
                    format!(
                        "{} has a clip of the same name; clip names must be unique across the merged datasets",
                        first.display()
                    ),
                ));
            }
            owner.insert(f.rel.clone(), root.clone());
            place(&root.join(&f.rel), &stage.join(&f.rel), mode)?;
        }
        report.clips_per_root.push((root.clone(), found.len()));

        for path in background {
            let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned());
            let key = (BACKGROUND_DIR.to_string(), stem.unwrap_or_default());
            if !noise_names.insert(key) {
                report.skipped_noise.push(path);
                continue;
            }
            let name = path.file_name().unwrap_or_default();
            place(&path, &stage.join(BACKGROUND_DIR).join(name), mode)?;
            report.noise_files += 1;
        }

        match read_split_lists(&root, &found)? {
            Some(_) => {
                // Validated above; kept verbatim (order included) so the merged dataset's
                // splits are exactly its inputs' splits.
                for (list, out_list) in [VALIDATION_LIST, TESTING_LIST].iter().zip(&mut lists) {
                    let path = root.join(list);
                    let text =
                        std::fs::read_to_string(&path).map_err(|e| DataError::io(&path, e))?;
                    out_list.extend(
                        text.lines()
                            .map(str::trim)
                            .filter(|l| !l.is_empty())
                            .map(String::from),
                    );
                }
            }
            None => {
                for f in &found {
                    match hashed_split(&f.speaker) {
                        Split::Validation => lists[0].push(f.rel.clone()),
                        Split::Test => lists[1].push(f.rel.clone()),
                        Split::Train => {}
                    }
                }
            }
        }

        if let Some(words) = read_keywords(&root)? {
            let merged = keywords.get_or_insert_with(Vec::new);
            for w in words {
                if !merged.contains(&w) {
                    merged.push(w);
                }
            }
        }
    }

    for (name, entries) in [VALIDATION_LIST, TESTING_LIST].iter().zip(&lists) {
        write_lines(&stage.join(name), entries)?;
    }
    if let Some(words) = &keywords {
        write_lines(&stage.join(KEYWORDS_FILE), words)?;
    }
    let sources: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
    write_lines(&stage.join("merged-from.txt"), &sources)?;
    staged
        .commit()
        .map_err(|e| DataError::io(&e.path, e.source))?;
    report.keywords = keywords;
    Ok(report)
}

fn place(src: &Path, dst: &Path, mode: MergeMode) -> Result<(), DataError> {
    if let Some(parent) = dst.parent() {
        std::fs::create_dir_all(parent).map_err(|e| DataError::io(parent, e))?;
    }
    let result = match mode {
        MergeMode::Link => link(src, dst),
        MergeMode::Copy => std::fs::copy(src, dst).map(|_| ()),
    };
    result.map_err(|e| DataError::io(src, e))
}

#[cfg(unix)]
fn link(src: &Path, dst: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(src, dst)
}

#[cfg(not(unix))]
fn link(src: &Path, dst: &Path) -> std::io::Result<()> {
    // Symlinks need extra rights on Windows; a copy always works.
    std::fs::copy(src, dst).map(|_| ())
}

fn write_lines(path: &Path, lines: &[String]) -> Result<(), DataError> {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).map_err(|e| DataError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Dataset, Protocol};

    fn clip(root: &Path, rel: &str) {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        crate::audio::write_wav_mono_16k(&path, &vec![0.1; 1600]).unwrap();
    }

    /// A dataset with lists: `yes` and `no` by speakers a (train), b (validation), c (test).
    fn with_lists(root: &Path, prefix: &str) {
        for w in ["yes", "no", "bed"] {
            for s in ["a", "b", "c"] {
                clip(root, &format!("{w}/{prefix}{s}_nohash_0.wav"));
            }
        }
        let list = |s: &str| {
            ["yes", "no", "bed"]
                .iter()
                .map(|w| format!("{w}/{prefix}{s}_nohash_0.wav\n"))
                .collect::<String>()
        };
        std::fs::write(root.join(VALIDATION_LIST), list("b")).unwrap();
        std::fs::write(root.join(TESTING_LIST), list("c")).unwrap();
        std::fs::write(root.join(KEYWORDS_FILE), "yes\nno\n").unwrap();
        clip(root, "_background_noise_/white_noise.wav");
    }

    fn splits(root: &Path) -> HashMap<String, Split> {
        let ds = Dataset::open(root, Protocol::Twelve).unwrap();
        ds.clips
            .iter()
            .filter_map(|c| Some((ds.relative_name(c), c.split)).filter(|_| c.path().is_some()))
            .collect()
    }

    /// Two input folders and the merged folder, inside `dir`.
    fn inputs_and_output(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
        (dir.join("a"), dir.join("b"), dir.join("m"))
    }

    #[test]
    fn every_clip_keeps_its_split_and_duplicate_noise_is_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b, out) = inputs_and_output(tmp.path());
        with_lists(&a, "1");
        // `b` has no lists: its splits come from the speaker hash, as Dataset::open gives them.
        for s in 0..40 {
            clip(&b, &format!("yes/{s:08x}_nohash_0.wav"));
        }
        clip(&b, "bed/ffffffff_nohash_0.wav");
        clip(&b, "_background_noise_/white_noise.flac");
        clip(&b, "_background_noise_/babble.wav");
        std::fs::write(b.join(KEYWORDS_FILE), "yes\n").unwrap();

        let report = merge_datasets(&[a.clone(), b.clone()], &out, MergeMode::Link).unwrap();
        assert_eq!(report.noise_files, 2);
        assert_eq!(
            report.skipped_noise.len(),
            1,
            "the .flac twin of white_noise"
        );
        let merged = splits(&out);
        let mut expected = splits(&a);
        expected.extend(splits(&b));
        assert_eq!(merged, expected);
        assert!(merged.values().any(|s| *s == Split::Test) && merged.len() == 50);
        assert!(
            std::fs::symlink_metadata(out.join("yes/1a_nohash_0.wav"))
                .unwrap()
                .is_symlink()
        );
    }

    #[test]
    fn copies_stand_alone_and_keywords_are_united() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b, out) = inputs_and_output(tmp.path());
        with_lists(&a, "1");
        with_lists(&b, "2");
        std::fs::write(a.join(KEYWORDS_FILE), "yes\n").unwrap();
        std::fs::write(b.join(KEYWORDS_FILE), "no\nyes\n").unwrap();
        let report = merge_datasets(&[a.clone(), b.clone()], &out, MergeMode::Copy).unwrap();
        assert_eq!(report.keywords, Some(vec!["yes".into(), "no".into()]));
        std::fs::remove_dir_all(&a).unwrap();
        let ds = Dataset::open(&out, Protocol::Twelve).unwrap();
        assert_eq!(ds.labels[2..], ["yes".to_string(), "no".into()]);
        assert_eq!(
            ds.clips_in(Split::Test)
                .filter(|c| c.path().is_some())
                .count(),
            6
        );
    }

    #[test]
    fn a_clip_name_in_two_datasets_is_refused_and_nothing_is_left_behind() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b, out) = inputs_and_output(tmp.path());
        with_lists(&a, "1");
        with_lists(&b, "1");
        let err = merge_datasets(&[a.clone(), b], &out, MergeMode::Link).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("yes/1a_nohash_0.wav") || text.contains("1a_nohash_0"),
            "{text}"
        );
        assert!(
            text.contains(&*a.canonicalize().unwrap().to_string_lossy()),
            "{text}"
        );
        assert!(!out.exists());
        let leftovers = std::fs::read_dir(tmp.path()).unwrap().count();
        assert_eq!(leftovers, 2, "no staging folder left");
    }

    #[test]
    fn bad_inputs_name_the_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a");
        with_lists(&a, "1");
        let missing = tmp.path().join("nope");
        let err = merge_datasets(
            &[a.clone(), missing.clone()],
            &tmp.path().join("m"),
            MergeMode::Link,
        )
        .unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
        let err = merge_datasets(&[a.clone(), a.clone()], &a, MergeMode::Link).unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
        let err = merge_datasets(
            std::slice::from_ref(&a),
            &tmp.path().join("m"),
            MergeMode::Link,
        )
        .unwrap_err();
        assert!(err.to_string().contains("at least two"), "{err}");
    }
}
