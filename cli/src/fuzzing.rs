//! Fuzz target bodies. Each takes arbitrary bytes, must never panic, and checks an invariant of
//! what it accepted (a panic there is a bug too). The cargo-fuzz targets in `fuzz/` call these,
//! and `cli/tests/fuzz_corpus.rs` replays the committed seed corpus through the same functions
//! in every `cargo test`. Each returns whether the input was accepted, so the replay test can
//! check that the corpus exercises both paths.

use jepa_models::checkpoint::Checkpoint;
use jepa_models::data::{
    decode_image, parse_cifar_bin, parse_idx, parse_tar, Dataset, EvalTransform, ImageArchive,
    Transform, CIFAR_RECORD_BYTES,
};
use jepa_models::rng::Rng;

/// A target body: arbitrary bytes in, whether they were accepted out.
pub type Body = fn(&[u8]) -> bool;

/// The fuzz targets by name (the `fuzz/fuzz_targets/<name>.rs` files and corpus directories).
pub const TARGETS: &[(&str, Body)] = &[
    ("checkpoint", checkpoint),
    ("idx", idx),
    ("cifar", cifar),
    ("image", image),
    ("tar", tar),
    ("config", config),
    ("npy", npy),
];

/// Safetensors checkpoint reader: accepted bytes round-trip through the writer.
pub fn checkpoint(data: &[u8]) -> bool {
    let Ok(ck) = Checkpoint::from_bytes(data) else {
        return false;
    };
    let bytes = ck.to_bytes().expect("re-serialising a parsed checkpoint");
    let back = Checkpoint::from_bytes(&bytes).expect("re-parsing a written checkpoint");
    assert_eq!(
        back.names().collect::<Vec<_>>(),
        ck.names().collect::<Vec<_>>()
    );
    for name in ck.names() {
        let (a, b) = (ck.tensor(name), back.tensor(name));
        let (a, b) = (a.expect("listed tensor"), b.expect("listed tensor"));
        assert_eq!(a.shape, b.shape);
        assert_eq!(a.shape.iter().product::<usize>(), a.data.len());
        // Compare bits: NaN payloads must survive too.
        let bits = |d: &[f32]| d.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a.data), bits(&b.data));
    }
    true
}

/// idx reader (plain or gzip): the data length matches the dims.
pub fn idx(data: &[u8]) -> bool {
    let Ok(arr) = parse_idx(data) else {
        return false;
    };
    assert_eq!(arr.dims.iter().product::<usize>(), arr.data.len());
    true
}

/// CIFAR-10 binary reader: one 32×32 RGB image per record, labels below 10.
pub fn cifar(data: &[u8]) -> bool {
    let Ok(ds) = parse_cifar_bin(data) else {
        return false;
    };
    assert_eq!(ds.len() * CIFAR_RECORD_BYTES, data.len());
    for i in [0, ds.len() - 1] {
        let img = ds.image(i).expect("in-range sample");
        assert_eq!((img.height, img.width, img.channels), (32, 32, 3));
        assert!(ds.label(i).expect("in-range label") < 10);
    }
    true
}

/// JPEG/PNG decoder: a decoded image is consistent and survives the evaluation transform.
pub fn image(data: &[u8]) -> bool {
    let Ok(img) = decode_image(data) else {
        return false;
    };
    img.check()
        .expect("decoded images satisfy the ImageU8 invariant");
    // Keep the fuzzer fast: only small images go through the resize.
    if img.height * img.width <= 1 << 16 {
        let t = Transform::Eval(EvalTransform::plain(8));
        let out = t
            .apply(&img, &mut Rng::new(0))
            .expect("transform of a valid image");
        assert_eq!(out.len(), 3 * 8 * 8);
        assert!(out.iter().all(|v| v.is_finite()));
    }
    true
}

/// Tar reader and the ImageFolder-in-archive view on top of it.
pub fn tar(data: &[u8]) -> bool {
    let Ok(entries) = parse_tar(data) else {
        return false;
    };
    for e in &entries {
        assert!(
            e.range.start <= e.range.end && e.range.end <= data.len(),
            "{e:?}"
        );
    }
    if let Ok(ds) = ImageArchive::from_tar_bytes(data.to_vec(), "<fuzz>") {
        assert!(ds.num_classes() >= 1 && !ds.is_empty());
        // Decoding may fail (the entries need not be images) but must not panic.
        let _ = ds.image(0);
    }
    true
}

/// Run-configuration parser: whatever it accepts passes validation or fails with an error.
pub fn config(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let Ok(cfg) = crate::config::parse_config_text(text, "<fuzz>", None) else {
        return false;
    };
    // The stored form parses back to the same configuration.
    let back = crate::config::parse_config_text(&cfg.to_toml(), "<fuzz>", None)
        .expect("re-parsing a serialised config");
    assert_eq!(back, cfg);
    crate::config::validate(&cfg).is_ok()
}

/// `.npy` reader used on embedding outputs.
pub fn npy(data: &[u8]) -> bool {
    let Ok((shape, values)) = crate::npy::parse_npy_f32(data) else {
        return false;
    };
    assert_eq!(shape.iter().product::<usize>(), values.len());
    true
}
