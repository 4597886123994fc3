//! ImageFolder datasets (ImageNet layout: `root/<class>/<image>.{jpg,jpeg,png}`) and the image
//! decoder behind them.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::{ImageReader, Limits};

use super::{read_file, DataError, Dataset, ImageU8, IN_MEMORY};

/// Largest accepted side; bounds decoder allocations on hostile headers.
const MAX_SIDE: u32 = 16_384;
/// Decoder allocation cap (the output image counts towards it): room for a 9000×9000 RGB image,
/// far above ImageNet sizes, while a forged header cannot claim gigabytes.
const MAX_ALLOC: u64 = 256 << 20;
const EXTENSIONS: [&str; 3] = ["jpg", "jpeg", "png"];

/// Decodes JPEG or PNG bytes (format sniffed from the content) to 8-bit grey (for grey or
/// grey+alpha sources) or RGB (everything else; alpha dropped, 16-bit reduced to 8).
pub fn decode_image(bytes: &[u8]) -> Result<ImageU8, DataError> {
    let fail = |reason: String| DataError::Decode {
        origin: IN_MEMORY.into(),
        reason,
    };
    if bytes.is_empty() {
        return Err(DataError::Empty {
            origin: IN_MEMORY.into(),
        });
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| fail(e.to_string()))?;
    if reader.format().is_none() {
        return Err(fail("not a JPEG or PNG file".into()));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| fail(e.to_string()))?;
    let (w, h) = (img.width() as usize, img.height() as usize);
    let (channels, data) = if img.color().has_color() {
        (3, img.into_rgb8().into_raw())
    } else {
        (1, img.into_luma8().into_raw())
    };
    ImageU8::new(h, w, channels, data).map_err(|_| fail(format!("decoded an empty {w}x{h} image")))
}

/// Images in class sub-directories. Classes are the sub-directory names sorted (label = rank),
/// files are sorted by name within a class; files without a JPEG/PNG extension and hidden
/// entries are ignored. Images are decoded on access, so a corrupt file surfaces as a
/// [`DataError`] naming it when that sample is loaded.
#[derive(Clone, Debug)]
pub struct ImageFolder {
    root: PathBuf,
    classes: Vec<String>,
    samples: Vec<(PathBuf, usize)>,
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

fn is_image(path: &Path) -> bool {
    path.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .is_some_and(|e| EXTENSIONS.contains(&e.as_str()))
}

/// Sorted non-hidden entries of `dir`.
fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let rd = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
    let mut out = Vec::new();
    for entry in rd {
        let path = entry.map_err(|e| DataError::io(dir, e))?.path();
        if !is_hidden(&path) {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

impl ImageFolder {
    /// Scans `root`. Fails if it has no class directory or a class has no image file.
    pub fn open(root: &Path) -> Result<Self, DataError> {
        let mut classes = Vec::new();
        let mut samples = Vec::new();
        for class_dir in sorted_entries(root)?.into_iter().filter(|p| p.is_dir()) {
            let label = classes.len();
            let before = samples.len();
            for file in sorted_entries(&class_dir)? {
                if file.is_file() && is_image(&file) {
                    samples.push((file, label));
                }
            }
            if samples.len() == before {
                return Err(DataError::Empty {
                    origin: format!("{} (class without JPEG/PNG files)", class_dir.display()),
                });
            }
            let name = class_dir.file_name().unwrap_or_default();
            classes.push(name.to_string_lossy().into_owned());
        }
        if classes.is_empty() {
            return Err(DataError::Empty {
                origin: format!("{} (no class directories)", root.display()),
            });
        }
        Ok(Self {
            root: root.to_path_buf(),
            classes,
            samples,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Class names in label order.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// File of sample `index`.
    pub fn path(&self, index: usize) -> Option<&Path> {
        self.samples.get(index).map(|(p, _)| p.as_path())
    }

    fn sample(&self, index: usize) -> Result<&(PathBuf, usize), DataError> {
        self.samples.get(index).ok_or(DataError::IndexOutOfRange {
            index,
            len: self.samples.len(),
        })
    }
}

impl Dataset for ImageFolder {
    fn len(&self) -> usize {
        self.samples.len()
    }

    fn num_classes(&self) -> usize {
        self.classes.len()
    }

    fn label(&self, index: usize) -> Result<usize, DataError> {
        Ok(self.sample(index)?.1)
    }

    fn image(&self, index: usize) -> Result<ImageU8, DataError> {
        let (path, _) = self.sample(index)?;
        decode_image(&read_file(path)?).map_err(|e| e.at(path))
    }
}
