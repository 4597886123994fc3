//! ImageFolder and the JPEG/PNG decoder on a tiny generated tree (feature `images`).
#![cfg(feature = "images")]

use std::path::Path;

use image::{GrayImage, ImageFormat, RgbImage};
use jepa_models::data::{decode_image, DataError, Dataset, ImageFolder};

fn rgb(w: u32, h: u32, seed: u8) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 15) as u8, (y * 30) as u8, seed])
    })
}

fn save_rgb(path: &Path, img: &RgbImage, fmt: ImageFormat) {
    img.save_with_format(path, fmt).unwrap();
}

/// root/{cat,dog,zebra}: PNGs, a JPEG, a grey PNG, plus files that must be ignored.
fn make_tree(root: &Path) {
    for class in ["dog", "cat", "zebra"] {
        std::fs::create_dir(root.join(class)).unwrap();
    }
    save_rgb(&root.join("cat/b.png"), &rgb(5, 4, 1), ImageFormat::Png);
    save_rgb(&root.join("cat/a.PNG"), &rgb(5, 4, 2), ImageFormat::Png);
    save_rgb(&root.join("dog/x.jpg"), &rgb(16, 8, 3), ImageFormat::Jpeg);
    GrayImage::from_fn(3, 3, |x, _| image::Luma([x as u8 * 100]))
        .save_with_format(root.join("zebra/g.png"), ImageFormat::Png)
        .unwrap();
    std::fs::write(root.join("dog/notes.txt"), b"ignored").unwrap();
    std::fs::write(root.join("dog/.hidden.jpg"), b"ignored").unwrap();
    std::fs::create_dir(root.join(".cache")).unwrap();
}

#[test]
fn classes_sorted_files_sorted_and_decoded() {
    let dir = tempfile::tempdir().unwrap();
    make_tree(dir.path());
    let ds = ImageFolder::open(dir.path()).unwrap();
    assert_eq!(ds.classes(), ["cat", "dog", "zebra"]);
    assert_eq!((ds.len(), ds.num_classes()), (4, 3));
    assert_eq!(ds.labels().unwrap(), vec![0, 0, 1, 2]);
    let names: Vec<String> = (0..4)
        .map(|i| {
            ds.path(i)
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(names, ["a.PNG", "b.png", "x.jpg", "g.png"]);

    let png = ds.image(0).unwrap();
    assert_eq!((png.height, png.width, png.channels), (4, 5, 3));
    assert_eq!(png.data, rgb(5, 4, 2).into_raw(), "PNG is lossless");
    let jpg = ds.image(2).unwrap();
    assert_eq!((jpg.height, jpg.width, jpg.channels), (8, 16, 3));
    let grey = ds.image(3).unwrap();
    assert_eq!(
        (grey.channels, grey.data.clone()),
        (1, vec![0, 100, 200, 0, 100, 200, 0, 100, 200])
    );
}

#[test]
fn corrupt_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    make_tree(dir.path());
    let bytes = std::fs::read(dir.path().join("dog/x.jpg")).unwrap();
    std::fs::write(dir.path().join("dog/x.jpg"), &bytes[..bytes.len() / 3]).unwrap();
    std::fs::write(dir.path().join("cat/b.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let ds = ImageFolder::open(dir.path()).unwrap();
    for (i, name) in [(1, "b.png"), (2, "x.jpg")] {
        let err = ds.image(i).unwrap_err();
        assert!(matches!(err, DataError::Decode { .. }), "{err:?}");
        assert!(err.to_string().contains(name), "{err}");
    }
    assert!(ds.image(0).is_ok(), "other samples still load");
}

#[test]
fn empty_roots_and_classes_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        ImageFolder::open(dir.path()),
        Err(DataError::Empty { .. })
    ));
    std::fs::create_dir(dir.path().join("only_text")).unwrap();
    std::fs::write(dir.path().join("only_text/readme.md"), b"x").unwrap();
    let err = ImageFolder::open(dir.path()).unwrap_err();
    assert!(err.to_string().contains("only_text"), "{err}");
    let err = ImageFolder::open(&dir.path().join("missing")).unwrap_err();
    assert!(matches!(err, DataError::Io { .. }) && err.to_string().contains("missing"));
}

#[test]
fn decoder_rejects_garbage_without_panicking() {
    assert!(matches!(decode_image(&[]), Err(DataError::Empty { .. })));
    for bytes in [
        &b"hello world"[..],
        b"\xff\xd8\xff",
        b"\x89PNG\r\n\x1a\n",
        &[0u8; 64],
    ] {
        assert!(
            matches!(decode_image(bytes), Err(DataError::Decode { .. })),
            "{bytes:?}"
        );
    }
    let mut png = Vec::new();
    rgb(7, 3, 9)
        .write_to(&mut std::io::Cursor::new(&mut png), ImageFormat::Png)
        .unwrap();
    let img = decode_image(&png).unwrap();
    assert_eq!((img.height, img.width, img.channels), (3, 7, 3));
    for cut in [png.len() / 2, png.len() - 13] {
        assert!(decode_image(&png[..cut]).is_err(), "truncated at {cut}");
    }
}

/// The shared CIFAR-10 JPEG ImageFolder, extracted: `tar xzf cifar10-train-jpeg.tar.gz` and
/// point `JEPA_IMAGEFOLDER` at its `train/` directory.
#[test]
#[ignore = "needs JEPA_IMAGEFOLDER=<extracted cifar10-train-jpeg>/train"]
fn extracted_cifar10_jpeg_folder() {
    use jepa_models::data::{
        stratified_split, EvalTransform, Loader, LoaderConfig, Subset, Transform,
    };
    use std::sync::Arc;
    let root = std::env::var("JEPA_IMAGEFOLDER").expect("set JEPA_IMAGEFOLDER");
    let ds = Arc::new(ImageFolder::open(Path::new(&root)).unwrap());
    assert_eq!((ds.len(), ds.num_classes()), (50_000, 10));
    let img = ds.image(0).unwrap();
    assert_eq!((img.height, img.width, img.channels), (32, 32, 3));
    let (train, val) = stratified_split(&ds.labels().unwrap(), 10_000, 0).unwrap();
    assert_eq!((train.len(), val.len()), (40_000, 10_000));
    let sub = Arc::new(Subset::new(ds.clone(), val).unwrap());
    let mut cfg = LoaderConfig::new(256, 0);
    cfg.workers = 2;
    let t0 = std::time::Instant::now();
    let n: usize = Loader::new(sub, Transform::Eval(EvalTransform::plain(32)), cfg, None)
        .unwrap()
        .map(|b| b.unwrap().shape[0])
        .sum();
    assert_eq!(n, 39 * 256);
    eprintln!("{n} images decoded in {:?}", t0.elapsed());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// Mutated PNG and JPEG bytes decode or fail with a typed error, never panic.
    #[test]
    fn mutated_images_never_panic(flips in proptest::collection::vec((0usize..4_000, proptest::prelude::any::<u8>()), 1..6), cut in 0usize..64) {
        for fmt in [ImageFormat::Png, ImageFormat::Jpeg] {
            let mut b = Vec::new();
            rgb(9, 7, 3).write_to(&mut std::io::Cursor::new(&mut b), fmt).unwrap();
            for &(pos, val) in &flips {
                let n = b.len();
                b[pos % n] = val;
            }
            b.truncate(b.len().saturating_sub(cut));
            if let Ok(img) = decode_image(&b) {
                proptest::prop_assert_eq!(img.data.len(), img.height * img.width * img.channels);
            }
        }
    }
}
