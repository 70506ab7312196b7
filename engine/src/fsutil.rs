//! Crash-safe file writes: nothing a reader can see is ever half written.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Write `bytes` to `path` atomically: a temp file in the same directory, fsync, rename over
/// the target, then fsync the directory so the rename itself survives a crash.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |f| f.write_all(bytes))
}

/// Like [`write_atomic`], with the content produced by `fill` writing into the temp file.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(
            ".{}.",
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "file".into())
        ))
        .suffix(".tmp")
        .tempfile_in(&dir)?;
    fill(tmp.as_file_mut())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    if let Ok(d) = File::open(&dir) {
        // Directory fsync is best effort: some filesystems refuse it, the data is already safe.
        let _ = d.sync_all();
    }
    Ok(())
}

/// Copy the folder `src` to `dst` (which must not exist) so that `dst` appears whole or not
/// at all: the copy is made in a hidden temp folder beside `dst` and renamed into place.
/// Entries whose names start with a dot (caches, the dataset trash) are not copied.
/// Errors name the path that failed.
pub fn copy_dir_atomic(src: &Path, dst: &Path) -> io::Result<()> {
    let named = |what: &str, p: &Path, e: io::Error| {
        io::Error::new(e.kind(), format!("{what} {}: {e}", p.display()))
    };
    if dst.exists() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} already exists", dst.display()),
        ));
    }
    let parent = match dst.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(|e| named("creating", &parent, e))?;
    let staging = tempfile::Builder::new()
        .prefix(".copy.")
        .tempdir_in(&parent)
        .map_err(|e| named("creating a temp folder in", &parent, e))?;
    copy_tree(src, staging.path())?;
    let staged = staging.keep();
    fs::rename(&staged, dst).map_err(|e| {
        let _ = fs::remove_dir_all(&staged);
        named("renaming the copy to", dst, e)
    })
}

fn copy_tree(src: &Path, dst: &Path) -> io::Result<()> {
    let named = |what: &str, p: &Path, e: io::Error| {
        io::Error::new(e.kind(), format!("{what} {}: {e}", p.display()))
    };
    let entries = fs::read_dir(src).map_err(|e| named("reading", src, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| named("reading", src, e))?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let from = entry.path();
        let to = dst.join(entry.file_name());
        // `metadata` follows symlinks: a linked file or folder is copied as what it points to.
        let meta = fs::metadata(&from).map_err(|e| named("reading", &from, e))?;
        if meta.is_dir() {
            fs::create_dir(&to).map_err(|e| named("creating", &to, e))?;
            copy_tree(&from, &to)?;
        } else {
            fs::copy(&from, &to).map_err(|e| named("copying", &from, e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn failed_fill_keeps_the_old_content() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        write_atomic(&p, b"old").unwrap();
        let r = write_atomic_with(&p, |f| {
            f.write_all(b"partial")?;
            Err(io::Error::other("disk full"))
        });
        assert!(r.is_err());
        assert_eq!(fs::read(&p).unwrap(), b"old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
    #[test]
    fn a_folder_is_copied_whole_without_dot_entries() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        fs::create_dir_all(src.join("yes")).unwrap();
        fs::create_dir_all(src.join(".trash")).unwrap();
        fs::write(src.join("yes/a.wav"), b"RIFF").unwrap();
        fs::write(src.join("testing_list.txt"), b"yes/a.wav\n").unwrap();
        fs::write(src.join(".trash/old.wav"), b"gone").unwrap();
        let dst = dir.path().join("copies/demo");
        copy_dir_atomic(&src, &dst).unwrap();
        assert_eq!(fs::read(dst.join("yes/a.wav")).unwrap(), b"RIFF");
        assert_eq!(
            fs::read(dst.join("testing_list.txt")).unwrap(),
            b"yes/a.wav\n"
        );
        assert!(!dst.join(".trash").exists());
        // Only the finished copy is left beside it, no staging folder.
        let names: Vec<_> = fs::read_dir(dir.path().join("copies"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("demo")]);
    }

    #[test]
    fn copying_onto_an_existing_folder_or_from_a_missing_one_fails_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        fs::create_dir_all(&src).unwrap();
        let taken = dir.path().join("taken");
        fs::create_dir_all(&taken).unwrap();
        let e = copy_dir_atomic(&src, &taken).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert!(e.to_string().contains("taken"), "{e}");

        let dst = dir.path().join("out/copy");
        let e = copy_dir_atomic(&dir.path().join("missing"), &dst).unwrap_err();
        assert!(e.to_string().contains("missing"), "{e}");
        assert!(!dst.exists());
        assert_eq!(
            fs::read_dir(dir.path().join("out")).unwrap().count(),
            0,
            "no staging left"
        );
    }
}
