//! The project's one crash-safe file replacement (safetensors saves, checkpoints, every CLI
//! output): write a hidden sibling temporary, fsync it, rename it over the target, fsync the
//! directory. A reader sees the old file or the new one, never a mix, and a failed write leaves
//! no temporary behind.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

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

/// Calls `write` to fill a temporary file (given its path) next to `target`, then moves it
/// there atomically. `io_err` turns an IO failure on a path into the caller's error type.
pub fn replace_file<E>(
    target: &Path,
    write: impl FnOnce(&Path) -> Result<(), E>,
    io_err: impl Fn(&Path, std::io::Error) -> E,
) -> Result<(), E> {
    let Some(name) = target.file_name() else {
        let e = std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path");
        return Err(io_err(target, e));
    };
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // Hidden, unique per process and call, so concurrent writes never share a temporary.
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
        .map_err(|e| io_err(target, e))?;
    std::fs::rename(&guard.path, target).map_err(|e| io_err(target, e))?;
    guard.armed = false;
    // Persist the rename itself; not every filesystem supports fsync on a directory.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// [`replace_file`] through a buffered writer that `fill` writes into.
pub fn write_atomic<E>(
    target: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> Result<(), E>,
    io_err: impl Fn(&Path, std::io::Error) -> E,
) -> Result<(), E> {
    replace_file(
        target,
        |tmp| {
            let file = File::create(tmp).map_err(|e| io_err(target, e))?;
            let mut w = BufWriter::new(file);
            fill(&mut w)?;
            w.flush().map_err(|e| io_err(target, e))
        },
        &io_err,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(p: &Path, e: std::io::Error) -> String {
        format!("{}: {e}", p.display())
    }

    #[test]
    fn success_replaces_and_failure_leaves_nothing() {
        let dir = std::env::temp_dir().join(format!("jepa-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("x.bin");
        std::fs::write(&target, b"old").unwrap();
        write_atomic(
            &target,
            |w| w.write_all(b"new").map_err(|e| e.to_string()),
            err,
        )
        .unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        let r = write_atomic(
            &target,
            |w| {
                w.write_all(b"partial").unwrap();
                Err("boom".to_string())
            },
            err,
        );
        assert_eq!(r.unwrap_err(), "boom");
        assert_eq!(std::fs::read(&target).unwrap(), b"new", "target untouched");
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary left"
        );
        let missing = dir.join("no/such/x.bin");
        let e = write_atomic(&missing, |_| Ok(()), err).unwrap_err();
        assert!(e.contains("x.bin"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
