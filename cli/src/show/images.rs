//! The images a picture is drawn for: image files, a folder of them, or the first N samples of
//! a dataset `pretrain --data` takes (a .tar archive, CIFAR or idx directory). Each goes
//! through the encoder's evaluation transform (resize, centre crop, normalise); what is shown
//! is that same crop, un-normalised, so the maps line up with the pixels under them.

use std::path::Path;

use jepa_engine::{Device, Tensor};
use jepa_models::data::{decode_image, Dataset, ImageU8, Transform};
use jepa_models::rng::Rng;
use jepa_models::vit::VitConfig;

use super::picture::Rgb;
use crate::datasets::{self, Split};
use crate::embed::{collect_images, eval_transform};
use crate::error::{CliError, CliResult};

/// The images of one picture: display crops and the model's input batch `[B, C, S, S]`.
pub struct ShowImages {
    pub names: Vec<String>,
    pub display: Vec<Rgb>,
    pub batch: Tensor,
}

fn is_image_file(p: &Path) -> bool {
    p.is_file()
        && p.extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .is_some_and(|e| matches!(e.as_str(), "jpg" | "jpeg" | "png"))
}

/// `count` of `0..len`: the first ones, or (`spread`) evenly spaced over the whole range.
pub fn pick(len: usize, count: usize, spread: bool) -> Vec<usize> {
    let k = count.min(len);
    if spread {
        (0..k).map(|i| i * len / k).collect()
    } else {
        (0..k).collect()
    }
}

/// Decoded images at `path`: the file itself, `count` image files under a folder (sorted,
/// recursive), or `count` samples of a dataset (its test split when it has one); the first
/// ones, or with `spread` evenly spaced ones.
pub fn decode(path: &Path, count: usize, spread: bool) -> CliResult<Vec<(String, ImageU8)>> {
    if count == 0 {
        return Err(CliError::Usage("--count must be >= 1".into()));
    }
    let kind = if is_image_file(path) {
        "file"
    } else {
        datasets::kind_of(path)?
    };
    if matches!(kind, "file" | "folder") {
        let files = collect_images(&[path.to_path_buf()])?;
        return pick(files.len(), count, spread)
            .into_iter()
            .map(|i| {
                let p = &files[i];
                let bytes = std::fs::read(p).map_err(|e| CliError::io(p, e))?;
                let img = decode_image(&bytes).map_err(|e| {
                    let why = e.to_string();
                    CliError::Other(format!(
                        "{}: {}",
                        p.display(),
                        why.trim_start_matches("<bytes>: ")
                    ))
                })?;
                Ok((p.display().to_string(), img))
            })
            .collect();
    }
    let (ds, _) = datasets::open(path, Split::Test)?;
    pick(ds.len(), count, spread)
        .into_iter()
        .map(|i| Ok((ds.sample_name(i), ds.image(i)?)))
        .collect()
}

/// Transforms `images` for an encoder of `cfg`: the input batch and the display crops.
pub fn prepare(images: Vec<(String, ImageU8)>, cfg: &VitConfig) -> CliResult<ShowImages> {
    let transform = eval_transform(cfg);
    let Transform::Eval(eval) = &transform else {
        return Err(CliError::Other(
            "no evaluation transform for this encoder".into(),
        ));
    };
    let (c, s) = (cfg.in_chans, cfg.img_size);
    let mut data = Vec::with_capacity(images.len() * c * s * s);
    let mut names = Vec::new();
    let mut display = Vec::new();
    for (name, img) in images {
        let x = transform
            .apply(&img, &mut Rng::new(0))
            .map_err(|e| CliError::Other(format!("{name}: {e}")))?;
        let mut rgb = vec![0u8; s * s * 3];
        for (i, px) in rgb.chunks_mut(3).enumerate() {
            for (k, out) in px.iter_mut().enumerate() {
                // Grey inputs are shown as grey RGB.
                let ch = k.min(c - 1);
                let v = x[ch * s * s + i] * eval.normalize.std[ch] + eval.normalize.mean[ch];
                *out = (v.clamp(0.0, 1.0) * 255.0).round() as u8;
            }
        }
        data.extend_from_slice(&x);
        names.push(name);
        display.push(Rgb { side: s, data: rgb });
    }
    let batch = Tensor::from_vec(data, [names.len(), c, s, s], Device::Cpu)?;
    Ok(ShowImages {
        names,
        display,
        batch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_png(path: &Path, rgb: [u8; 3]) {
        let img = image::RgbImage::from_pixel(20, 12, image::Rgb(rgb));
        img.save(path).unwrap();
    }

    #[test]
    fn a_folder_gives_its_first_images_cropped_and_shown_as_they_were() {
        let dir = tempfile::tempdir().unwrap();
        write_png(&dir.path().join("a.png"), [200, 40, 10]);
        write_png(&dir.path().join("b.png"), [0, 0, 0]);
        write_png(&dir.path().join("c.png"), [9, 9, 9]);
        assert_eq!(pick(10, 4, true), vec![0, 2, 5, 7]);
        assert_eq!(pick(3, 4, false), vec![0, 1, 2]);
        let got = decode(dir.path(), 2, false).unwrap();
        assert_eq!(got.len(), 2);
        assert!(got[1].0.ends_with("b.png"));
        let cfg = VitConfig::custom(16, 1, 2, 8, 4);
        let shown = prepare(got, &cfg).unwrap();
        assert_eq!(shown.batch.dims(), [2, 3, 8, 8]);
        let px = &shown.display[0].data[..3];
        for (got, want) in px.iter().zip([200u8, 40, 10]) {
            assert!(got.abs_diff(want) <= 1, "{px:?}");
        }
    }

    #[test]
    fn empty_folders_and_unreadable_images_are_one_line_errors() {
        let dir = tempfile::tempdir().unwrap();
        let e = decode(dir.path(), 4, false).unwrap_err().one_line();
        assert!(e.contains("no .jpg/.jpeg/.png"), "{e}");
        std::fs::write(dir.path().join("bad.png"), b"not a png").unwrap();
        let e = decode(dir.path(), 4, false).unwrap_err().one_line();
        assert!(e.contains("bad.png") && !e.contains('\n'), "{e}");
        assert!(decode(dir.path(), 0, false).is_err());
    }
}
