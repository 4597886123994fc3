//! Output files are written under a temporary name in the target's directory and renamed over
//! the target once complete, so an error or interrupt never leaves a half-written output.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::error::{CliError, CliResult};

/// Creates `path` atomically from what `fill` writes (the engine's one atomic-write helper).
/// On any error the temporary file is removed and an existing `path` is left untouched.
pub fn write_atomic<F>(path: &Path, fill: F) -> CliResult<()>
where
    F: FnOnce(&mut BufWriter<File>) -> CliResult<()>,
{
    jepa_engine::atomic::write_atomic(path, fill, |p, e| CliError::io(p, e))
}

/// [`write_atomic`] of a byte buffer.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> CliResult<()> {
    write_atomic(path, |w| {
        w.write_all(bytes).map_err(|e| CliError::io(path, e))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_fill_leaves_neither_temp_nor_target() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.npy");
        let r = write_atomic(&target, |w| {
            w.write_all(b"partial").unwrap();
            Err(CliError::Other("boom".into()))
        });
        assert!(r.is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn success_replaces_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("x.bin");
        std::fs::write(&target, b"old").unwrap();
        write_bytes(&target, b"new").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn missing_directory_is_an_error_naming_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("no/such/dir/x.bin");
        let e = write_bytes(&target, b"x").unwrap_err().to_string();
        assert!(e.contains("x.bin"), "{e}");
    }
}
