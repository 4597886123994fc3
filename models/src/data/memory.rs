//! An in-memory dataset of equally sized 8-bit images: what the idx and CIFAR readers produce.

use super::{DataError, Dataset, ImageU8, IN_MEMORY};

/// `len` images of `height × width × channels` bytes each, stored HWC back to back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArrayDataset {
    height: usize,
    width: usize,
    channels: usize,
    pixels: Vec<u8>,
    labels: Vec<u8>,
    num_classes: usize,
}

impl ArrayDataset {
    /// Checks that the pixel buffer holds one image per label and that every label is below
    /// `num_classes`.
    pub fn new(
        (height, width, channels): (usize, usize, usize),
        pixels: Vec<u8>,
        labels: Vec<u8>,
        num_classes: usize,
    ) -> Result<Self, DataError> {
        let per = height * width * channels;
        if per == 0 || !matches!(channels, 1 | 3) {
            return Err(DataError::format(
                IN_MEMORY,
                format!("image shape {height}x{width}x{channels}"),
            ));
        }
        if labels.is_empty() {
            return Err(DataError::Empty {
                origin: IN_MEMORY.into(),
            });
        }
        if Some(pixels.len()) != labels.len().checked_mul(per) {
            return Err(DataError::format(
                IN_MEMORY,
                format!(
                    "{} pixel bytes for {} images of {per} bytes",
                    pixels.len(),
                    labels.len()
                ),
            ));
        }
        if let Some(bad) = labels.iter().find(|&&l| usize::from(l) >= num_classes) {
            return Err(DataError::format(
                IN_MEMORY,
                format!("label {bad} outside 0..{num_classes}"),
            ));
        }
        Ok(Self {
            height,
            width,
            channels,
            pixels,
            labels,
            num_classes,
        })
    }

    /// `(height, width, channels)` of every image.
    pub fn image_shape(&self) -> (usize, usize, usize) {
        (self.height, self.width, self.channels)
    }

    /// All pixels, HWC per image, images back to back.
    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    pub fn raw_labels(&self) -> &[u8] {
        &self.labels
    }

    fn check(&self, index: usize) -> Result<(), DataError> {
        if index < self.labels.len() {
            Ok(())
        } else {
            Err(DataError::IndexOutOfRange {
                index,
                len: self.labels.len(),
            })
        }
    }
}

impl Dataset for ArrayDataset {
    fn len(&self) -> usize {
        self.labels.len()
    }

    fn num_classes(&self) -> usize {
        self.num_classes
    }

    fn label(&self, index: usize) -> Result<usize, DataError> {
        self.check(index)?;
        Ok(usize::from(self.labels[index]))
    }

    fn image(&self, index: usize) -> Result<ImageU8, DataError> {
        self.check(index)?;
        let per = self.height * self.width * self.channels;
        let data = self.pixels[index * per..(index + 1) * per].to_vec();
        ImageU8::new(self.height, self.width, self.channels, data)
    }
}
