//! Crash-safe file writes and folders: nothing a reader can see is ever half written.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use bifsmn_kernels::atomic::parent_dir;
/// Atomic file writes live in the kernels, whose model writer uses them and which deploy
/// depends on; re-exported here beside the folder helpers.
pub use bifsmn_kernels::atomic::{write_atomic, write_atomic_with};

/// An I/O error, what was being done and the path it was done to.
#[derive(Debug, thiserror::Error)]
#[error("{what} {}: {source}", path.display())]
pub struct PathError {
    pub what: &'static str,
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

impl From<PathError> for io::Error {
    fn from(e: PathError) -> io::Error {
        io::Error::new(e.source.kind(), e.to_string())
    }
}

fn path_error<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> PathError + 'a {
    move |source| PathError {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// A folder built under a hidden temp name beside its target and renamed into place by
/// [`StagedDir::commit`], so that the target appears whole or not at all. Dropped without a
/// commit (an error on the way), it is removed with everything written into it.
pub struct StagedDir {
    staging: tempfile::TempDir,
    target: PathBuf,
}

impl StagedDir {
    /// Start building `target` (creating its parent folder); the staging folder's name starts
    /// with `prefix`, which should start with a dot to keep it hidden.
    pub fn new(target: &Path, prefix: &str) -> Result<StagedDir, PathError> {
        let parent = parent_dir(target);
        fs::create_dir_all(&parent).map_err(path_error("creating", &parent))?;
        let staging = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(&parent)
            .map_err(path_error("creating a temp folder in", &parent))?;
        Ok(StagedDir {
            staging,
            target: target.to_path_buf(),
        })
    }

    /// Where to build the folder's content.
    pub fn path(&self) -> &Path {
        self.staging.path()
    }

    /// Rename the finished folder to its target; if that fails, the staged folder is removed.
    pub fn commit(self) -> Result<(), PathError> {
        fs::rename(self.staging.path(), &self.target)
            .map_err(path_error("renaming the staged folder to", &self.target))?;
        // The folder has moved: nothing is left for the guard to remove.
        let _ = self.staging.keep();
        Ok(())
    }
}

/// Copy the folder `src` to `dst` (which must not exist) so that `dst` appears whole or not
/// at all (a [`StagedDir`]). Entries whose names start with a dot (caches, the dataset trash)
/// are not copied. Errors name the path that failed.
pub fn copy_dir_atomic(src: &Path, dst: &Path) -> io::Result<()> {
    if dst.exists() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} already exists", dst.display()),
        ));
    }
    let staged = StagedDir::new(dst, ".copy.")?;
    copy_tree(src, staged.path())?;
    Ok(staged.commit()?)
}

fn copy_tree(src: &Path, dst: &Path) -> Result<(), PathError> {
    let entries = fs::read_dir(src).map_err(path_error("reading", src))?;
    for entry in entries {
        let entry = entry.map_err(path_error("reading", src))?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let from = entry.path();
        let to = dst.join(entry.file_name());
        // `metadata` follows symlinks: a linked file or folder is copied as what it points to.
        let meta = fs::metadata(&from).map_err(path_error("reading", &from))?;
        if meta.is_dir() {
            fs::create_dir(&to).map_err(path_error("creating", &to))?;
            copy_tree(&from, &to)?;
        } else {
            fs::copy(&from, &to).map_err(path_error("copying", &from))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
