//! idx and CIFAR-10 readers on small synthetic buffers, their error cases, and the file-level
//! wrappers (errors must name the file).

use std::io::Write;
use std::path::Path;

use jepa_models::data::{
    parse_cifar_bin, parse_idx, read_idx_file, ArrayDataset, CifarSplit, DataError, Dataset,
    IdxSplit, CIFAR_RECORD_BYTES, FASHION_MNIST_DEBIAN_DIR,
};

fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(data);
    v
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn is_format(e: &DataError) -> bool {
    matches!(e, DataError::Format { .. })
}

#[test]
fn idx_parses_plain_and_gzip() {
    let data: Vec<u8> = (0..24).collect();
    let raw = idx_bytes(&[2, 3, 4], &data);
    let a = parse_idx(&raw).unwrap();
    assert_eq!((a.dims.clone(), a.data.clone()), (vec![2, 3, 4], data));
    assert_eq!(parse_idx(&gzip(&raw)).unwrap(), a);
}

#[test]
fn idx_rejects_bad_input_with_typed_errors() {
    let good = idx_bytes(&[2, 3], &[1; 6]);
    assert!(matches!(parse_idx(&[]), Err(DataError::Empty { .. })));
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("short magic", vec![0, 0]),
        ("bad magic", {
            let mut b = good.clone();
            b[0] = 7;
            b
        }),
        ("float dtype", {
            let mut b = good.clone();
            b[2] = 0x0D;
            b
        }),
        ("zero dims", vec![0, 0, 8, 0]),
        ("truncated header", good[..9].to_vec()),
        ("truncated data", good[..good.len() - 1].to_vec()),
        ("trailing data", [good.clone(), vec![9]].concat()),
        (
            "overflowing dims",
            idx_bytes(&[u32::MAX, u32::MAX, u32::MAX], &[]),
        ),
        ("corrupt gzip", {
            let mut z = gzip(&good);
            let n = z.len();
            z.truncate(n / 2);
            z
        }),
    ];
    for (name, bytes) in cases {
        let err = parse_idx(&bytes).expect_err(name);
        assert!(is_format(&err), "{name}: {err:?}");
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).unwrap();
}

#[test]
fn fashion_mnist_layout_loads_and_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let pixels: Vec<u8> = (0..3 * 4 * 5).map(|i| i as u8).collect();
    write(
        dir.path(),
        "t10k-images-idx3-ubyte.gz",
        &gzip(&idx_bytes(&[3, 4, 5], &pixels)),
    );
    write(
        dir.path(),
        "t10k-labels-idx1-ubyte",
        &idx_bytes(&[3], &[9, 0, 4]),
    );
    let ds = ArrayDataset::fashion_mnist(dir.path(), IdxSplit::Test).unwrap();
    assert_eq!(
        (ds.len(), ds.num_classes(), ds.image_shape()),
        (3, 10, (4, 5, 1))
    );
    assert_eq!(ds.labels().unwrap(), vec![9, 0, 4]);
    let img = ds.image(1).unwrap();
    assert_eq!((img.height, img.width, img.channels), (4, 5, 1));
    assert_eq!(img.data, pixels[20..40]);
    assert!(matches!(
        ds.image(3),
        Err(DataError::IndexOutOfRange { index: 3, len: 3 })
    ));

    // Missing training files: the error names the missing path.
    let err = ArrayDataset::fashion_mnist(dir.path(), IdxSplit::Train).unwrap_err();
    assert!(err.to_string().contains("train-images-idx3-ubyte"), "{err}");
    // Label count mismatch names the labels file.
    write(
        dir.path(),
        "t10k-labels-idx1-ubyte",
        &idx_bytes(&[2], &[1, 2]),
    );
    let err = ArrayDataset::fashion_mnist(dir.path(), IdxSplit::Test).unwrap_err();
    assert!(err.to_string().contains("t10k-labels-idx1-ubyte"), "{err}");
    // A label outside 0..10 names the images file it was paired with.
    write(
        dir.path(),
        "t10k-labels-idx1-ubyte",
        &idx_bytes(&[3], &[1, 2, 10]),
    );
    let err = ArrayDataset::fashion_mnist(dir.path(), IdxSplit::Test).unwrap_err();
    assert!(
        is_format(&err) && err.to_string().contains("label 10"),
        "{err}"
    );
    // A truncated file read from disk is a format error naming it.
    write(dir.path(), "bad.idx", &idx_bytes(&[4], &[1, 2]));
    let err = read_idx_file(&dir.path().join("bad.idx")).unwrap_err();
    assert!(
        is_format(&err) && err.to_string().contains("bad.idx"),
        "{err}"
    );
}

fn cifar_record(label: u8, seed: u8) -> Vec<u8> {
    let mut r = vec![label];
    r.extend((0..3 * 1024).map(|i| (i as u8).wrapping_mul(seed)));
    r
}

#[test]
fn cifar_records_become_hwc_images() {
    let bytes = [cifar_record(3, 1), cifar_record(7, 5)].concat();
    let ds = parse_cifar_bin(&bytes).unwrap();
    assert_eq!((ds.len(), ds.image_shape()), (2, (32, 32, 3)));
    assert_eq!(ds.labels().unwrap(), vec![3, 7]);
    let img = ds.image(1).unwrap();
    // Pixel (row 2, col 5): planes R, G, B at offsets p, 1024 + p, 2048 + p.
    let p = 2 * 32 + 5;
    let rec = &bytes[CIFAR_RECORD_BYTES..];
    assert_eq!(
        &img.data[3 * p..3 * p + 3],
        &[rec[1 + p], rec[1 + 1024 + p], rec[1 + 2048 + p]]
    );
}

#[test]
fn cifar_rejects_empty_truncated_and_bad_labels() {
    assert!(matches!(parse_cifar_bin(&[]), Err(DataError::Empty { .. })));
    let one = cifar_record(1, 3);
    assert!(is_format(&parse_cifar_bin(&one[..100]).unwrap_err()));
    assert!(is_format(
        &parse_cifar_bin(&[one.clone(), vec![0]].concat()).unwrap_err()
    ));
    assert!(is_format(
        &parse_cifar_bin(&cifar_record(10, 1)).unwrap_err()
    ));
}

#[test]
fn cifar_directory_layout_and_missing_batch() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("cifar-10-batches-bin");
    std::fs::create_dir(&nested).unwrap();
    for i in 1..=5u8 {
        write(&nested, &format!("data_batch_{i}.bin"), &cifar_record(i, i));
    }
    let ds = ArrayDataset::cifar10(dir.path(), CifarSplit::Train).unwrap();
    assert_eq!(ds.labels().unwrap(), vec![1, 2, 3, 4, 5]);
    let err = ArrayDataset::cifar10(dir.path(), CifarSplit::Test).unwrap_err();
    assert!(matches!(err, DataError::Io { .. }) && err.to_string().contains("test_batch.bin"));
    write(&nested, "test_batch.bin", &cifar_record(1, 1)[..3000]);
    let err = ArrayDataset::cifar10(dir.path(), CifarSplit::Test).unwrap_err();
    assert!(
        is_format(&err) && err.to_string().contains("test_batch.bin"),
        "{err}"
    );
}

/// The real Fashion-MNIST files of Debian's `dataset-fashion-mnist` package (scripts/test.sh
/// installs it).
#[test]
fn debian_fashion_mnist_package() {
    let dir = Path::new(FASHION_MNIST_DEBIAN_DIR);
    let train = ArrayDataset::fashion_mnist(dir, IdxSplit::Train).unwrap();
    let test = ArrayDataset::fashion_mnist(dir, IdxSplit::Test).unwrap();
    assert_eq!((train.len(), test.len()), (60_000, 10_000));
    assert_eq!(train.image_shape(), (28, 28, 1));
    let mut counts = [0usize; 10];
    train
        .labels()
        .unwrap()
        .into_iter()
        .for_each(|l| counts[l] += 1);
    assert!(counts.iter().all(|&c| c == 6000), "{counts:?}");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Mutated idx (plain and gzip) and CIFAR buffers give a typed result, never a panic.
    #[test]
    fn mutated_buffers_never_panic(flips in proptest::collection::vec((0usize..4_000, proptest::prelude::any::<u8>()), 1..6), cut in 0usize..4_000) {
        let raw = idx_bytes(&[3, 5, 7], &[7; 105]);
        let bases = [raw.clone(), gzip(&raw), [cifar_record(1, 2), cifar_record(3, 4)].concat()];
        for (k, base) in bases.iter().enumerate() {
            let mut b = base.clone();
            for &(pos, val) in &flips {
                let n = b.len();
                b[pos % n] = val;
            }
            b.truncate(b.len() - cut % b.len().min(9));
            if k < 2 {
                let _ = parse_idx(&b);
            } else {
                let _ = parse_cifar_bin(&b);
            }
        }
    }
}
