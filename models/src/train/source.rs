//! Opening a [`DataSource`] split as a shared dataset, and the synthetic image generator.

use std::sync::Arc;

use super::config::DataSource;
use super::TrainError;
use crate::data::{ArrayDataset, CifarSplit, Dataset, IdxSplit};
use crate::rng::Rng;

/// Which half of a source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Split {
    Train,
    Test,
}

/// Purpose tags of the synthetic generator's streams.
const CLASS_STREAM: u64 = 0x636c_6173; // "clas"
const SAMPLE_STREAM: u64 = 0x7379_6e74; // "synt"

/// Opens one split of `source`.
pub fn open_dataset(source: &DataSource, split: Split) -> Result<Arc<dyn Dataset>, TrainError> {
    Ok(match source {
        DataSource::Cifar10 { dir } => {
            let s = match split {
                Split::Train => CifarSplit::Train,
                Split::Test => CifarSplit::Test,
            };
            Arc::new(ArrayDataset::cifar10(dir, s)?)
        }
        DataSource::FashionMnist { dir } => {
            let s = match split {
                Split::Train => IdxSplit::Train,
                Split::Test => IdxSplit::Test,
            };
            Arc::new(ArrayDataset::fashion_mnist(dir, s)?)
        }
        DataSource::ImageFolder { train, test } => {
            let path = match split {
                Split::Train => train,
                Split::Test => test.as_ref().unwrap_or(train),
            };
            open_folder(path)?
        }
        DataSource::Synthetic {
            samples,
            classes,
            size,
            seed,
        } => Arc::new(synthetic(*samples, *classes, *size, *seed, split)?),
    })
}

#[cfg(feature = "images")]
fn open_folder(path: &std::path::Path) -> Result<Arc<dyn Dataset>, TrainError> {
    use crate::data::{ImageArchive, ImageFolder};
    let name = path.to_string_lossy();
    if path.is_file()
        && (name.ends_with(".tar") || name.ends_with(".tar.gz") || name.ends_with(".tgz"))
    {
        Ok(Arc::new(ImageArchive::open(path)?))
    } else {
        Ok(Arc::new(ImageFolder::open(path)?))
    }
}

#[cfg(not(feature = "images"))]
fn open_folder(path: &std::path::Path) -> Result<Arc<dyn Dataset>, TrainError> {
    Err(TrainError::Config(format!(
        "{}: ImageFolder sources need the `images` feature",
        path.display()
    )))
}

/// `samples` RGB `size × size` images, labels cycling through `classes`. Each class has its own
/// colour and stripe orientation / period (drawn from `seed`, shared by both splits); each image
/// adds its own phase and pixel noise (drawn per split), so the classes are learnable but no
/// two images are equal.
pub fn synthetic(
    samples: usize,
    classes: usize,
    size: usize,
    seed: u64,
    split: Split,
) -> Result<ArrayDataset, TrainError> {
    if samples == 0 || !(1..=256).contains(&classes) || size == 0 {
        return Err(TrainError::Config(format!(
            "synthetic data: {samples} samples, {classes} classes (1..=256), size {size}"
        )));
    }
    let mut crng = Rng::from_seeds(&[seed, CLASS_STREAM]);
    let styles: Vec<([f64; 3], bool, f64)> = (0..classes)
        .map(|_| {
            let colour = [
                crng.uniform(40.0, 215.0),
                crng.uniform(40.0, 215.0),
                crng.uniform(40.0, 215.0),
            ];
            (colour, crng.bernoulli(0.5), crng.uniform(2.0, 6.0))
        })
        .collect();
    let split_tag = match split {
        Split::Train => 0,
        Split::Test => 1,
    };
    let mut rng = Rng::from_seeds(&[seed, SAMPLE_STREAM, split_tag]);
    let mut pixels = Vec::with_capacity(samples * size * size * 3);
    let mut labels = Vec::with_capacity(samples);
    for i in 0..samples {
        let label = i % classes;
        let (colour, vertical, period) = styles[label];
        let phase = rng.uniform(0.0, period);
        for y in 0..size {
            for x in 0..size {
                let t = if vertical { x } else { y } as f64 + phase;
                let stripe = if (t / period).floor() as i64 % 2 == 0 {
                    30.0
                } else {
                    -30.0
                };
                for c in colour {
                    let v = c + stripe + rng.uniform(-20.0, 20.0);
                    pixels.push(v.clamp(0.0, 255.0) as u8);
                }
            }
        }
        labels.push(label as u8);
    }
    Ok(ArrayDataset::new((size, size, 3), pixels, labels, classes)?)
}
