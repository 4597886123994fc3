//! Crash-safe file replacement: write a sibling temporary file, fsync it, rename it over the
//! target, fsync the directory. A reader sees the old file or the new one, never a mix, and a
//! failed save leaves no temporary file behind.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::CheckpointError;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Removes the temporary file on drop unless it was renamed into place.
struct TempGuard {
    path: PathBuf,
    armed: bool,
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Calls `write` to fill a temporary file next to `target`, then atomically moves it there.
pub fn replace_file(
    target: &Path,
    write: impl FnOnce(&Path) -> Result<(), CheckpointError>,
) -> Result<(), CheckpointError> {
    let name = target.file_name().ok_or_else(|| CheckpointError::Io {
        path: target.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "no file name"),
    })?;
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // Hidden, unique per process and call, so concurrent saves never share a temporary.
    let unique = format!(
        ".{}.tmp-{}-{}",
        name.to_string_lossy(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let mut guard = TempGuard {
        path: dir.join(unique),
        armed: true,
    };
    write(&guard.path)?;
    File::open(&guard.path)
        .and_then(|f| f.sync_all())
        .map_err(io(&guard.path))?;
    std::fs::rename(&guard.path, target).map_err(io(target))?;
    guard.armed = false;
    // Persist the rename itself; without this a crash can forget the new directory entry.
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(io(&dir))?;
    Ok(())
}
