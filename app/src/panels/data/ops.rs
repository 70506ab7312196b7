//! Dataset edits that never lose anything: relabel (move a clip to another word folder) and
//! delete (move it to `<root>/.trash/`), both undoable.
//!
//! The split lists (`validation_list.txt`, `testing_list.txt`) name clips by relative path, so
//! an edit rewrites them too. Each list is replaced atomically (temp file, fsync, rename) and
//! the clip is moved with one `rename`; if the move fails the lists are put back. The dataset
//! scanner skips folders starting with a dot, so the trash is invisible to training.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use bifsmn_engine::data::speech_commands::{TESTING_LIST, VALIDATION_LIST};
use bifsmn_engine::fsutil::write_atomic;

/// Folder inside the dataset root where deleted clips go.
pub(crate) const TRASH_DIR: &str = ".trash";

/// How to reverse one edit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Undo {
    /// What was done, for the Undo button's tooltip and the status line.
    pub description: String,
    /// Where the clip was and where it is now.
    pub from: PathBuf,
    pub to: PathBuf,
    /// Split lists as they were before the edit (path, bytes); only lists that changed.
    lists: Vec<(PathBuf, Vec<u8>)>,
}

/// A clip's path relative to the root with `/` separators, as the lists spell it.
fn relative(root: &Path, path: &Path) -> io::Result<String> {
    let rel = path.strip_prefix(root).map_err(|_| {
        io::Error::other(format!(
            "{} is not inside the dataset {}",
            path.display(),
            root.display()
        ))
    })?;
    Ok(rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/"))
}

/// Rewrite the split lists: `rel` becomes `replacement` (or is dropped when `None`).
/// Returns the lists that changed with their old bytes, after writing the new contents.
fn rewrite_lists(
    root: &Path,
    rel: &str,
    replacement: Option<&str>,
) -> io::Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut changed = Vec::new();
    for name in [VALIDATION_LIST, TESTING_LIST] {
        let list = root.join(name);
        let old = match fs::read(&list) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let text = String::from_utf8_lossy(&old);
        let mut hit = false;
        let mut out = String::with_capacity(text.len());
        for line in text.lines() {
            let entry = line.trim().replace('\\', "/");
            if entry.trim_start_matches("./") == rel {
                hit = true;
                if let Some(r) = replacement {
                    out.push_str(r);
                    out.push('\n');
                }
            } else {
                out.push_str(line);
                out.push('\n');
            }
        }
        if hit {
            write_atomic(&list, out.as_bytes())?;
            changed.push((list, old));
        }
    }
    Ok(changed)
}

fn restore_lists(lists: &[(PathBuf, Vec<u8>)]) -> io::Result<()> {
    for (path, bytes) in lists {
        write_atomic(path, bytes)?;
    }
    Ok(())
}

/// Move `clip` (inside `root`) to `to`, rewriting the lists; undone as a whole on failure.
fn move_clip(
    root: &Path,
    clip: &Path,
    to: PathBuf,
    new_rel: Option<&str>,
    description: String,
) -> io::Result<Undo> {
    if to.exists() {
        return Err(io::Error::other(format!(
            "{} already exists; rename one of the files first",
            to.display()
        )));
    }
    let rel = relative(root, clip)?;
    if !clip.is_file() {
        return Err(io::Error::other(format!(
            "{} is not a file",
            clip.display()
        )));
    }
    if let Some(dir) = to.parent() {
        fs::create_dir_all(dir)?;
    }
    let lists = rewrite_lists(root, &rel, new_rel)?;
    if let Err(e) = fs::rename(clip, &to) {
        // Put the lists back so they keep naming a file that exists.
        let _ = restore_lists(&lists);
        return Err(e);
    }
    Ok(Undo {
        description,
        from: clip.to_path_buf(),
        to,
        lists,
    })
}

/// Move `clip` into the word folder `word`, keeping its file name and split.
pub(crate) fn relabel(root: &Path, clip: &Path, word: &str) -> io::Result<Undo> {
    let word = word.trim();
    if word.is_empty() || word.starts_with('.') || word.contains(['/', '\\']) {
        return Err(io::Error::other(format!(
            "\"{word}\" is not a word folder name"
        )));
    }
    let name = clip
        .file_name()
        .ok_or_else(|| io::Error::other("the clip has no file name"))?;
    let to = root.join(word).join(name);
    let new_rel = format!("{word}/{}", name.to_string_lossy());
    let old_word = clip
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    move_clip(
        root,
        clip,
        to,
        Some(&new_rel),
        format!(
            "relabel {} from {old_word} to {word}",
            name.to_string_lossy()
        ),
    )
}

/// Move `clip` to `<root>/.trash/<word>/` (a numbered name if one is already there) and drop
/// it from the split lists.
pub(crate) fn trash(root: &Path, clip: &Path) -> io::Result<Undo> {
    let rel = relative(root, clip)?;
    let mut to = root.join(TRASH_DIR).join(&rel);
    let mut n = 1;
    while to.exists() {
        to = root.join(TRASH_DIR).join(format!("{rel}.{n}"));
        n += 1;
    }
    move_clip(root, clip, to, None, format!("delete {rel}"))
}

/// Reverse an edit: move the clip back, then restore the lists.
pub(crate) fn undo(u: &Undo) -> io::Result<()> {
    if u.from.exists() {
        return Err(io::Error::other(format!(
            "cannot undo: {} exists again",
            u.from.display()
        )));
    }
    fs::rename(&u.to, &u.from)?;
    restore_lists(&u.lists)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        for (w, f) in [
            ("yes", "a_nohash_0.wav"),
            ("no", "b_nohash_0.wav"),
            ("yes", "c_nohash_0.wav"),
        ] {
            fs::create_dir_all(root.join(w)).unwrap();
            fs::write(root.join(w).join(f), f.as_bytes()).unwrap();
        }
        fs::write(
            root.join(VALIDATION_LIST),
            "yes/a_nohash_0.wav\nno/b_nohash_0.wav\n",
        )
        .unwrap();
        fs::write(root.join(TESTING_LIST), "yes/c_nohash_0.wav\n").unwrap();
        (dir, root)
    }

    #[test]
    fn relabel_moves_the_file_and_renames_it_in_the_lists_and_undo_restores() {
        let (_d, root) = setup();
        let clip = root.join("yes/a_nohash_0.wav");
        let u = relabel(&root, &clip, "no").unwrap();
        assert!(!clip.exists());
        assert!(root.join("no/a_nohash_0.wav").is_file());
        assert_eq!(
            fs::read_to_string(root.join(VALIDATION_LIST)).unwrap(),
            "no/a_nohash_0.wav\nno/b_nohash_0.wav\n"
        );
        // The test list did not mention the clip and is untouched.
        assert_eq!(
            fs::read_to_string(root.join(TESTING_LIST)).unwrap(),
            "yes/c_nohash_0.wav\n"
        );
        undo(&u).unwrap();
        assert!(clip.is_file());
        assert_eq!(
            fs::read_to_string(root.join(VALIDATION_LIST)).unwrap(),
            "yes/a_nohash_0.wav\nno/b_nohash_0.wav\n"
        );
    }

    #[test]
    fn trash_keeps_the_file_and_drops_it_from_the_lists() {
        let (_d, root) = setup();
        let clip = root.join("yes/c_nohash_0.wav");
        let u = trash(&root, &clip).unwrap();
        assert_eq!(
            fs::read(root.join(".trash/yes/c_nohash_0.wav")).unwrap(),
            b"c_nohash_0.wav"
        );
        assert_eq!(fs::read_to_string(root.join(TESTING_LIST)).unwrap(), "");
        // A second clip of the same name gets a numbered trash name.
        fs::write(&clip, b"again").unwrap();
        let u2 = trash(&root, &clip).unwrap();
        assert!(u2.to.to_string_lossy().ends_with("c_nohash_0.wav.1"));
        undo(&u2).unwrap();
        assert_eq!(fs::read(&clip).unwrap(), b"again");
        // Undoing the first now collides with the restored file: refused, nothing lost.
        assert!(undo(&u).is_err());
        assert!(root.join(".trash/yes/c_nohash_0.wav").is_file());
    }

    #[test]
    fn relabel_refuses_collisions_and_bad_names() {
        let (_d, root) = setup();
        fs::write(root.join("no/a_nohash_0.wav"), b"x").unwrap();
        let clip = root.join("yes/a_nohash_0.wav");
        assert!(relabel(&root, &clip, "no").is_err());
        assert!(relabel(&root, &clip, "../x").is_err());
        assert!(relabel(&root, &clip, ".trash").is_err());
        // Nothing changed.
        assert!(clip.is_file());
        assert!(
            fs::read_to_string(root.join(VALIDATION_LIST))
                .unwrap()
                .starts_with("yes/a")
        );
    }
}
