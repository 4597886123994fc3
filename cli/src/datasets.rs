//! Opening `--data` / `--train` / `--test` paths: the format is recognised from the path, so the
//! user never names it. ImageFolder directory, `.tar` / `.tar.gz` ImageFolder archive, CIFAR-10
//! binary directory (`data_batch_N.bin`, `test_batch.bin`) or idx directory (MNIST /
//! Fashion-MNIST file names, optionally `.gz`).

use std::path::{Path, PathBuf};

use jepa_models::data::{
    ArrayDataset, CifarSplit, DataError, Dataset, IdxSplit, ImageArchive, ImageFolder, ImageU8,
};

use crate::error::{CliError, CliResult};

/// Which half of a dataset that ships both (CIFAR, idx); ImageFolder sources ignore it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    Train,
    Test,
}

/// Any dataset the CLI can open.
pub enum Source {
    Folder(ImageFolder),
    Archive(ImageArchive),
    Array(ArrayDataset),
}

/// What was opened, for the log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Described {
    pub kind: &'static str,
    pub path: PathBuf,
}

fn has_file(dir: &Path, names: &[&str]) -> bool {
    names.iter().any(|n| dir.join(n).is_file())
}

fn is_archive(path: &Path) -> bool {
    let name = path.to_string_lossy().to_ascii_lowercase();
    [".tar", ".tar.gz", ".tgz"]
        .iter()
        .any(|e| name.ends_with(e))
}

/// Recognises the format of `path` (without reading any image).
pub fn kind_of(path: &Path) -> CliResult<&'static str> {
    let meta = std::fs::metadata(path).map_err(|e| CliError::io(path, e))?;
    if meta.is_file() {
        return if is_archive(path) {
            Ok("tar")
        } else {
            Err(CliError::Usage(format!(
                "{}: not a dataset (expected a directory or a .tar/.tar.gz archive)",
                path.display()
            )))
        };
    }
    let cifar = path.join("cifar-10-batches-bin");
    let cifar_dir = if cifar.is_dir() {
        cifar
    } else {
        path.to_path_buf()
    };
    if has_file(&cifar_dir, &["data_batch_1.bin", "test_batch.bin"]) {
        return Ok("cifar");
    }
    let idx = [
        "train-images-idx3-ubyte",
        "train-images-idx3-ubyte.gz",
        "t10k-images-idx3-ubyte",
        "t10k-images-idx3-ubyte.gz",
    ];
    if has_file(path, &idx) {
        return Ok("idx");
    }
    Ok("folder")
}

/// Opens `path` as a dataset; `split` picks the half of CIFAR / idx directories. When such a
/// directory only has one half, that half is used whatever `split` says.
pub fn open(path: &Path, split: Split) -> CliResult<(Source, Described)> {
    let kind = kind_of(path)?;
    let source = match kind {
        "tar" => Source::Archive(ImageArchive::open(path)?),
        "cifar" => {
            let nested = path.join("cifar-10-batches-bin");
            let dir = if nested.is_dir() {
                nested
            } else {
                path.to_path_buf()
            };
            let has_train = dir.join("data_batch_1.bin").is_file();
            let s = match (split, has_train, dir.join("test_batch.bin").is_file()) {
                (Split::Test, _, true) | (_, false, _) => CifarSplit::Test,
                _ => CifarSplit::Train,
            };
            Source::Array(ArrayDataset::cifar10(path, s)?)
        }
        "idx" => {
            let has = |p: &str| has_file(path, &[p, &format!("{p}.gz")]);
            let s = match (
                split,
                has("train-images-idx3-ubyte"),
                has("t10k-images-idx3-ubyte"),
            ) {
                (Split::Test, _, true) | (_, false, _) => IdxSplit::Test,
                _ => IdxSplit::Train,
            };
            Source::Array(ArrayDataset::fashion_mnist(path, s)?)
        }
        _ => Source::Folder(ImageFolder::open(path)?),
    };
    if source.is_empty() {
        return Err(CliError::Data(DataError::Empty {
            origin: path.display().to_string(),
        }));
    }
    Ok((
        source,
        Described {
            kind,
            path: path.to_path_buf(),
        },
    ))
}

impl Source {
    fn inner(&self) -> &dyn Dataset {
        match self {
            Source::Folder(d) => d,
            Source::Archive(d) => d,
            Source::Array(d) => d,
        }
    }

    /// Class names in label order, where the format has them.
    pub fn class_names(&self) -> Option<Vec<String>> {
        match self {
            Source::Folder(d) => Some(d.classes().to_vec()),
            Source::Archive(d) => Some(d.classes().to_vec()),
            Source::Array(_) => None,
        }
    }

    /// Sample `index`'s file path where the format has one (its row number otherwise).
    pub fn sample_name(&self, index: usize) -> String {
        let path = match self {
            Source::Folder(d) => d.path(index).map(|p| p.display().to_string()),
            Source::Archive(d) => d.entry_path(index).map(str::to_string),
            Source::Array(_) => None,
        };
        path.unwrap_or_else(|| index.to_string())
    }
}

impl Dataset for Source {
    fn len(&self) -> usize {
        self.inner().len()
    }

    fn num_classes(&self) -> usize {
        self.inner().num_classes()
    }

    fn label(&self, index: usize) -> Result<usize, DataError> {
        self.inner().label(index)
    }

    fn image(&self, index: usize) -> Result<ImageU8, DataError> {
        self.inner().image(index)
    }
}

impl std::fmt::Display for Described {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.path.display(), self.kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_formats_from_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        assert_eq!(kind_of(d).unwrap(), "folder");
        std::fs::write(d.join("test_batch.bin"), b"").unwrap();
        assert_eq!(kind_of(d).unwrap(), "cifar");
        let idx = d.join("fm");
        std::fs::create_dir(&idx).unwrap();
        std::fs::write(idx.join("t10k-images-idx3-ubyte.gz"), b"").unwrap();
        assert_eq!(kind_of(&idx).unwrap(), "idx");
        let tar = d.join("x.tar.gz");
        std::fs::write(&tar, b"").unwrap();
        assert_eq!(kind_of(&tar).unwrap(), "tar");
        let other = d.join("x.txt");
        std::fs::write(&other, b"").unwrap();
        assert!(matches!(kind_of(&other), Err(CliError::Usage(_))));
        let e = kind_of(&d.join("missing")).unwrap_err().to_string();
        assert!(e.contains("missing"), "{e}");
    }

    #[test]
    fn empty_directory_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let e = match open(dir.path(), Split::Train) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("opened an empty directory"),
        };
        assert!(e.contains(&dir.path().display().to_string()), "{e}");
    }

    #[test]
    fn cifar_dir_with_one_record_opens_as_both_splits() {
        let dir = tempfile::tempdir().unwrap();
        let mut rec = vec![4u8];
        rec.extend(std::iter::repeat_n(9u8, 3072));
        std::fs::write(dir.path().join("test_batch.bin"), &rec).unwrap();
        for split in [Split::Train, Split::Test] {
            let (src, d) = open(dir.path(), split).unwrap();
            assert_eq!((src.len(), src.label(0).unwrap(), d.kind), (1, 4, "cifar"));
        }
    }
}
