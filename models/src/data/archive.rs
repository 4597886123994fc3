//! ImageFolder trees read straight from a `.tar` or `.tar.gz` archive (e.g. the shared
//! `cifar10-train-jpeg.tar.gz`, laid out `train/<class>/<NNNN>.jpg`), held in memory and decoded
//! on access. Saves extracting tens of thousands of small files.
//!
//! The tar reader understands ustar headers (with the `prefix` field), GNU long names (`L`) and
//! pax headers (`x` for a per-file `path`, `g` skipped); it verifies header checksums so a
//! corrupt archive fails with an error naming it.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use super::folder::decode_image;
use super::idx::maybe_gunzip;
use super::{read_file, DataError, Dataset, ImageU8, IN_MEMORY};

const BLOCK: usize = 512;

/// A regular file inside a tar archive: its path and byte range in the archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TarEntry {
    pub path: String,
    pub range: Range<usize>,
}

fn field_str(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// Octal (optionally space/NUL padded) or GNU base-256 numeric field.
fn field_num(b: &[u8]) -> Option<u64> {
    if b.first().is_some_and(|&c| c & 0x80 != 0) {
        return b[1..].iter().try_fold(u64::from(b[0] & 0x7f), |acc, &c| {
            acc.checked_mul(256)?.checked_add(u64::from(c))
        });
    }
    let digits: String = b
        .iter()
        .map(|&c| c as char)
        .filter(|c| !matches!(c, ' ' | '\0'))
        .collect();
    if digits.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(&digits, 8).ok()
}

/// The `path` record of a pax extended header ("<len> path=<value>\n" records).
fn pax_path(data: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(data);
    text.lines()
        .filter_map(|rec| rec.split_once(' ').map(|(_, kv)| kv))
        .find_map(|kv| kv.strip_prefix("path=").map(str::to_string))
}

/// Lists the regular files of an uncompressed tar archive.
pub fn parse_tar(bytes: &[u8]) -> Result<Vec<TarEntry>, DataError> {
    let bad = |at: usize, r: &str| DataError::format(IN_MEMORY, format!("tar header at {at}: {r}"));
    let mut entries = Vec::new();
    let mut pos = 0;
    let mut long_name: Option<String> = None;
    while pos < bytes.len() {
        let header = bytes
            .get(pos..pos + BLOCK)
            .ok_or_else(|| bad(pos, "truncated header"))?;
        if header.iter().all(|&c| c == 0) {
            return Ok(entries); // end-of-archive marker
        }
        let stored = field_num(&header[148..156]).ok_or_else(|| bad(pos, "bad checksum field"))?;
        let sum: u64 = header
            .iter()
            .enumerate()
            .map(|(i, &c)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u64::from(c)
                }
            })
            .sum();
        if sum != stored {
            return Err(bad(pos, "checksum mismatch"));
        }
        let size = field_num(&header[124..136])
            .and_then(|s| usize::try_from(s).ok())
            .ok_or_else(|| bad(pos, "bad size field"))?;
        let start = pos + BLOCK;
        let end = start
            .checked_add(size)
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| bad(pos, "entry data runs past the end"))?;
        let data = &bytes[start..end];
        match header[156] {
            b'L' => long_name = Some(field_str(data)),
            b'x' => long_name = pax_path(data).or(long_name),
            b'0' | 0 => {
                let name = long_name.take().unwrap_or_else(|| {
                    let (prefix, name) = (field_str(&header[345..500]), field_str(&header[..100]));
                    if prefix.is_empty() {
                        name
                    } else {
                        format!("{prefix}/{name}")
                    }
                });
                entries.push(TarEntry {
                    path: name,
                    range: start..end,
                });
            }
            _ => long_name = None, // directories, links, pax globals: nothing to keep
        }
        pos = start + size.div_ceil(BLOCK) * BLOCK;
        if pos > bytes.len() {
            return Err(bad(
                start,
                "entry padding runs past the end (truncated archive)",
            ));
        }
    }
    Ok(entries) // archives without the zero blocks are common enough to accept
}

/// ImageFolder semantics over an archive: every `.jpg/.jpeg/.png` file is a sample whose class is
/// its parent directory's name; classes sorted by name give the labels, samples are sorted by
/// path.
#[derive(Clone, Debug)]
pub struct ImageArchive {
    origin: String,
    bytes: Arc<Vec<u8>>,
    classes: Vec<String>,
    samples: Vec<(String, Range<usize>, usize)>,
}

impl ImageArchive {
    /// Reads a `.tar` or `.tar.gz` (gzip detected from the content).
    pub fn open(path: &Path) -> Result<Self, DataError> {
        let raw = read_file(path)?;
        let bytes = maybe_gunzip(raw).map_err(|e| e.at(path))?;
        Self::from_tar_bytes(bytes, &path.display().to_string()).map_err(|e| e.at(path))
    }

    /// Builds the dataset from uncompressed tar bytes; `origin` names them in decode errors.
    pub fn from_tar_bytes(bytes: Vec<u8>, origin: &str) -> Result<Self, DataError> {
        let mut files: Vec<(String, String, Range<usize>)> = parse_tar(&bytes)?
            .into_iter()
            .filter_map(|e| {
                let (dir, file) = e.path.trim_end_matches('/').rsplit_once('/')?;
                let class = dir.rsplit('/').next()?.to_string();
                let ext = file.rsplit_once('.')?.1.to_ascii_lowercase();
                let visible =
                    !file.starts_with('.') && !class.starts_with('.') && !class.is_empty();
                (visible && matches!(ext.as_str(), "jpg" | "jpeg" | "png"))
                    .then_some((class, e.path, e.range))
            })
            .collect();
        if files.is_empty() {
            return Err(DataError::Empty {
                origin: IN_MEMORY.into(),
            });
        }
        files.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        let mut classes: Vec<String> = files.iter().map(|f| f.0.clone()).collect();
        classes.dedup();
        let samples = files
            .into_iter()
            .map(|(class, path, range)| {
                let label = classes.binary_search(&class).unwrap_or_default();
                (path, range, label)
            })
            .collect();
        Ok(Self {
            origin: origin.into(),
            bytes: Arc::new(bytes),
            classes,
            samples,
        })
    }

    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// Path inside the archive of sample `index`.
    pub fn entry_path(&self, index: usize) -> Option<&str> {
        self.samples.get(index).map(|s| s.0.as_str())
    }

    fn sample(&self, index: usize) -> Result<&(String, Range<usize>, usize), DataError> {
        let len = self.samples.len();
        self.samples
            .get(index)
            .ok_or(DataError::IndexOutOfRange { index, len })
    }
}

impl Dataset for ImageArchive {
    fn len(&self) -> usize {
        self.samples.len()
    }

    fn num_classes(&self) -> usize {
        self.classes.len()
    }

    fn label(&self, index: usize) -> Result<usize, DataError> {
        Ok(self.sample(index)?.2)
    }

    fn image(&self, index: usize) -> Result<ImageU8, DataError> {
        let (path, range, _) = self.sample(index)?;
        let origin = format!("{}:{path}", self.origin);
        decode_image(&self.bytes[range.clone()]).map_err(|e| e.at(Path::new(&origin)))
    }
}
