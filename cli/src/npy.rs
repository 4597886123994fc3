//! NumPy `.npy` (format 1.0) for little-endian `f32` arrays: the writer `jepa embed` uses and a
//! strict reader for tests and tools.

use std::io::Write;
use std::path::Path;

use crate::atomic::write_atomic;
use crate::error::{CliError, CliResult};

const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// The header dict, padded with spaces and a final newline so that data starts at a multiple of
/// 64 bytes (what NumPy itself writes, and what lets readers memory-map the data aligned).
fn header(shape: &[usize]) -> Vec<u8> {
    let dims = match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {dims}, }}");
    let unpadded = MAGIC.len() + 2 + 2 + dict.len() + 1;
    dict.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    dict.push('\n');
    let mut out = Vec::with_capacity(10 + dict.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

/// Writes `data` with `shape` to `path` atomically.
pub fn write_npy(path: &Path, shape: &[usize], data: &[f32]) -> CliResult<()> {
    if shape.iter().product::<usize>() != data.len() {
        return Err(CliError::Other(format!(
            "{}: {} values for shape {shape:?}",
            path.display(),
            data.len()
        )));
    }
    write_atomic(path, |w| {
        let io = |e| CliError::io(path, e);
        w.write_all(&header(shape)).map_err(io)?;
        for chunk in data.chunks(1 << 14) {
            let bytes: Vec<u8> = chunk.iter().flat_map(|v| v.to_le_bytes()).collect();
            w.write_all(&bytes).map_err(io)?;
        }
        Ok(())
    })
}

/// Parses `.npy` bytes holding a C-order `<f4` array; returns `(shape, values)`.
pub fn parse_npy_f32(bytes: &[u8]) -> Result<(Vec<usize>, Vec<f32>), String> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err("not an .npy file".into());
    }
    let (hlen, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(format!("unsupported .npy version {v}")),
    };
    let text = bytes
        .get(start..start + hlen)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or("truncated or non-UTF-8 header")?;
    if !text.contains("'descr': '<f4'") || !text.contains("'fortran_order': False") {
        return Err(format!("unsupported array header {text:?}"));
    }
    let dims = text
        .split("'shape': (")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .ok_or("header has no shape")?;
    let shape = dims
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|e| format!("shape {dims:?}: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let data = &bytes[start + hlen..];
    let n = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or("shape overflows")?;
    if Some(data.len()) != n.checked_mul(4) {
        return Err(format!("{} data bytes for shape {shape:?}", data.len()));
    }
    let values = data
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok((shape, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_aligned_header() {
        let dir = tempfile::tempdir().unwrap();
        for shape in [vec![3usize], vec![2, 3], vec![2, 1, 4]] {
            let n: usize = shape.iter().product();
            let data: Vec<f32> = (0..n).map(|i| i as f32 * 0.25 - 1.0).collect();
            let path = dir.path().join("a.npy");
            write_npy(&path, &shape, &data).unwrap();
            let bytes = std::fs::read(&path).unwrap();
            let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
            assert_eq!((10 + hlen) % 64, 0);
            assert_eq!(parse_npy_f32(&bytes).unwrap(), (shape, data));
        }
    }

    #[test]
    fn one_dim_shape_has_trailing_comma() {
        let h = String::from_utf8_lossy(&header(&[5])).into_owned();
        assert!(h.contains("'shape': (5,)"), "{h}");
    }

    #[test]
    fn wrong_length_is_rejected_and_nothing_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npy");
        assert!(write_npy(&path, &[2, 2], &[1.0]).is_err());
        assert!(!path.exists());
        let mut bytes = header(&[2]);
        bytes.extend_from_slice(&[0; 7]);
        assert!(parse_npy_f32(&bytes).is_err());
    }
}
