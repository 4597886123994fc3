//! ImageFolder-in-a-tar: the tar reader on hand-built archives, and the shared CIFAR-10 archive.
#![cfg(feature = "images")]

use std::io::Write;

use image::{ImageFormat, RgbImage};
use jepa_models::data::{parse_tar, DataError, Dataset, ImageArchive};

/// One ustar header block for `name` (data size `size`, type `kind`), checksum filled in.
fn header(name: &str, size: usize, kind: u8) -> Vec<u8> {
    let mut h = vec![0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..107].copy_from_slice(b"0000644");
    h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
    h[156] = kind;
    h[257..263].copy_from_slice(b"ustar\0");
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    h
}

fn entry(tar: &mut Vec<u8>, name: &str, data: &[u8], kind: u8) {
    tar.extend(header(name, data.len(), kind));
    tar.extend(data);
    tar.resize(tar.len().div_ceil(512) * 512, 0);
}

fn png(seed: u8) -> Vec<u8> {
    let mut b = Vec::new();
    RgbImage::from_pixel(4, 3, image::Rgb([seed, 2, 3]))
        .write_to(&mut std::io::Cursor::new(&mut b), ImageFormat::Png)
        .unwrap();
    b
}

fn archive() -> Vec<u8> {
    let mut t = Vec::new();
    entry(&mut t, "pax_global_header", b"52 comment=abc\n", b'g');
    entry(&mut t, "train/", b"", b'5');
    entry(&mut t, "train/dog/b.png", &png(1), b'0');
    entry(&mut t, "train/cat/z.png", &png(2), b'0');
    entry(&mut t, "train/cat/readme.txt", b"skip me", b'0');
    let long = format!("train/dog/{}.png", "x".repeat(120));
    entry(
        &mut t,
        "././@LongLink",
        format!("{long}\0").as_bytes(),
        b'L',
    );
    entry(&mut t, "train/dog/truncated-name", &png(3), b'0');
    entry(&mut t, "PaxHeaders/p", b"30 path=train/ant/a.png\n", b'x');
    entry(&mut t, "train/ant/ignored-name", &png(4), b'0');
    t.extend([0u8; 1024]);
    t
}

#[test]
fn tar_entries_long_names_and_pax_paths() {
    let t = archive();
    let paths: Vec<String> = parse_tar(&t).unwrap().into_iter().map(|e| e.path).collect();
    assert_eq!(paths.len(), 5, "{paths:?}");
    assert!(paths
        .iter()
        .any(|p| p.ends_with(&format!("{}.png", "x".repeat(120)))));
    assert!(paths.contains(&"train/ant/a.png".to_string()));
    let ds = ImageArchive::from_tar_bytes(t, "mem.tar").unwrap();
    assert_eq!(ds.classes(), ["ant", "cat", "dog"]);
    assert_eq!(ds.labels().unwrap(), vec![0, 1, 2, 2]);
    assert_eq!(ds.entry_path(2), Some("train/dog/b.png"));
    assert_eq!(ds.image(1).unwrap().data[..3], [2, 2, 3]);
}

#[test]
fn corrupt_archives_are_typed_errors() {
    let t = archive();
    let mut bad_sum = t.clone();
    bad_sum[512 * 2 + 3] ^= 1; // inside the "train/" header name
    assert!(matches!(parse_tar(&bad_sum), Err(DataError::Format { .. })));
    assert!(matches!(
        parse_tar(&t[..700]),
        Err(DataError::Format { .. })
    ));
    let mut short = Vec::new();
    entry(&mut short, "a/b.png", &png(1), b'0');
    short.truncate(600);
    assert!(parse_tar(&short).is_err(), "data past the end");
    assert!(matches!(
        ImageArchive::from_tar_bytes(vec![0; 1024], "x"),
        Err(DataError::Empty { .. })
    ));
    // A corrupt member fails on access, naming archive and member.
    let mut t = Vec::new();
    entry(&mut t, "c/broken.png", b"\x89PNG\r\n\x1a\nxx", b'0');
    let ds = ImageArchive::from_tar_bytes(t, "bundle.tar").unwrap();
    let err = ds.image(0).unwrap_err().to_string();
    assert!(
        err.contains("bundle.tar") && err.contains("c/broken.png"),
        "{err}"
    );
}

#[test]
fn gzip_archive_file_and_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.tar.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(&archive()).unwrap();
    std::fs::write(&path, enc.finish().unwrap()).unwrap();
    assert_eq!(ImageArchive::open(&path).unwrap().len(), 4);
    let err = ImageArchive::open(&dir.path().join("none.tar")).unwrap_err();
    assert!(err.to_string().contains("none.tar"));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    #[test]
    fn mutated_tars_never_panic(flips in proptest::collection::vec((0usize..6_000, proptest::prelude::any::<u8>()), 1..6)) {
        let mut t = archive();
        let n = t.len();
        for (pos, val) in flips {
            t[pos % n] = val;
        }
        if let Ok(entries) = parse_tar(&t) {
            proptest::prop_assert!(entries.iter().all(|e| e.range.end <= n));
        }
    }
}

/// The shared CIFAR-10 training archive (50,000 JPEGs under `train/<class>/`).
/// Default: `../shared/datasets/` beside the repository root; `JEPA_CIFAR10_TAR` moves it.
#[test]
fn shared_cifar10_archive() {
    let path = std::env::var("JEPA_CIFAR10_TAR").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/datasets/cifar10-train-jpeg.tar.gz"
        )
        .into()
    });
    let ds = ImageArchive::open(std::path::Path::new(&path)).unwrap();
    assert_eq!((ds.len(), ds.num_classes()), (50_000, 10));
    assert_eq!(ds.classes()[0], "airplane");
    let img = ds.image(49_999).unwrap();
    assert_eq!(
        (
            img.height,
            img.width,
            img.channels,
            ds.label(49_999).unwrap()
        ),
        (32, 32, 3, 9)
    );
}
