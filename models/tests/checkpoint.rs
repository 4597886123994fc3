//! Checkpoint round trip, metadata helpers, atomic replacement and corrupt-file errors.

use std::collections::HashMap;
use std::path::Path;

use jepa_models::checkpoint::{
    Checkpoint, CheckpointError, FORMAT_TAG, META_CONFIG, META_FORMAT, META_STEP,
};
use jepa_models::rng::Rng;

fn sample() -> Checkpoint {
    let mut ck = Checkpoint::new();
    ck.insert(
        "encoder.blocks.0.attn.qkv.weight",
        &[6, 2],
        (0..12).map(|i| i as f32 * 0.5 - 3.0).collect(),
    )
    .unwrap();
    ck.insert(
        "predictor.mask_token",
        &[1, 1, 2],
        vec![f32::MIN_POSITIVE, -0.0],
    )
    .unwrap();
    ck.insert("scalar", &[], vec![42.0]).unwrap();
    ck.insert("empty", &[0, 3], vec![]).unwrap();
    ck.set_u64(META_STEP, 12_345);
    ck.set_meta(META_CONFIG, "[model]\nembed_dim = 192\n");
    let mut rng = Rng::new(7);
    rng.next_u64();
    ck.set_rng("rng", &rng);
    ck
}

fn dir_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn round_trip_preserves_tensors_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ck.safetensors");
    let ck = sample();
    ck.save(&path).unwrap();
    let back = Checkpoint::load(&path).unwrap();
    assert_eq!(
        back.names().collect::<Vec<_>>(),
        ck.names().collect::<Vec<_>>()
    );
    for name in ck.names() {
        let (a, b) = (ck.tensor(name).unwrap(), back.tensor(name).unwrap());
        assert_eq!(a.shape, b.shape, "{name}");
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&a.data), bits(&b.data), "{name}: bit-exact");
    }
    assert_eq!(back.u64(META_STEP).unwrap(), 12_345);
    assert_eq!(
        back.meta(META_CONFIG).unwrap(),
        "[model]\nembed_dim = 192\n"
    );
    assert_eq!(back.meta(META_FORMAT).unwrap(), FORMAT_TAG);
    let mut a = ck.rng("rng").unwrap();
    let mut b = back.rng("rng").unwrap();
    assert_eq!(a.next_u64(), b.next_u64(), "RNG resumes mid-stream");
    // The in-memory encoding matches the file.
    assert_eq!(
        Checkpoint::from_bytes(&std::fs::read(&path).unwrap())
            .unwrap()
            .tensor("scalar")
            .unwrap()
            .data,
        [42.0]
    );
    assert_eq!(
        dir_names(dir.path()),
        ["ck.safetensors"],
        "no temporary left behind"
    );
}

#[test]
fn expected_shapes_and_names_are_checked() {
    let mut ck = sample();
    ck.get("predictor.mask_token", &[1, 1, 2]).unwrap();
    match ck.get("predictor.mask_token", &[2]) {
        Err(CheckpointError::ShapeMismatch {
            tensor,
            expected,
            found,
            ..
        }) => {
            assert_eq!(
                (tensor.as_str(), expected, found),
                ("predictor.mask_token", vec![2], vec![1, 1, 2])
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        ck.get("nope", &[1]),
        Err(CheckpointError::MissingTensor { .. })
    ));
    assert_eq!(ck.take("scalar", &[]).unwrap(), [42.0]);
    assert!(!ck.names().any(|n| n == "scalar"), "take removes");
    assert!(matches!(
        ck.insert("x", &[2, 2], vec![0.0; 3]),
        Err(CheckpointError::BadTensor { .. })
    ));
    assert!(matches!(
        ck.meta("absent"),
        Err(CheckpointError::MissingMetadata { .. })
    ));
    ck.set_meta("step", "twelve");
    assert!(matches!(
        ck.u64("step"),
        Err(CheckpointError::BadMetadata { .. })
    ));
    ck.set_u64s("rng", &[0, 0, 0, 0]);
    assert!(matches!(
        ck.rng("rng"),
        Err(CheckpointError::BadMetadata { .. })
    ));
    ck.set_u64s("rng", &[1, 2, 3]);
    assert!(matches!(
        ck.rng("rng"),
        Err(CheckpointError::BadMetadata { .. })
    ));
}

#[test]
fn failed_save_leaves_old_file_and_no_temporary() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ck.safetensors");
    let mut old = Checkpoint::new();
    old.insert("w", &[1], vec![1.0]).unwrap();
    old.save(&path).unwrap();
    // Overwriting replaces the whole file.
    sample().save(&path).unwrap();
    assert_eq!(Checkpoint::load(&path).unwrap().len(), 4);
    // Target is a non-empty directory: the final rename fails after the temporary was written.
    let blocked = dir.path().join("blocked");
    std::fs::create_dir(&blocked).unwrap();
    std::fs::write(blocked.join("keep"), b"x").unwrap();
    let err = sample().save(&blocked).unwrap_err();
    assert!(
        matches!(err, CheckpointError::Io { .. }) && err.to_string().contains("blocked"),
        "{err}"
    );
    assert_eq!(
        dir_names(dir.path()),
        ["blocked", "ck.safetensors"],
        "temporary removed"
    );
    assert_eq!(
        Checkpoint::load(&path).unwrap().len(),
        4,
        "existing checkpoint untouched"
    );
    // Missing parent directory: nothing is created.
    let err = sample()
        .save(&dir.path().join("nope/ck.safetensors"))
        .unwrap_err();
    assert!(matches!(err, CheckpointError::Io { .. }));
}

#[test]
fn corrupt_truncated_and_wrong_dtype_files_are_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = sample().to_bytes().unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("short header length", bytes[..5].to_vec()),
        ("truncated data", bytes[..bytes.len() - 4].to_vec()),
        ("extra data", [bytes.clone(), vec![0; 4]].concat()),
        (
            "huge header length",
            [u64::MAX.to_le_bytes().to_vec(), bytes[8..].to_vec()].concat(),
        ),
        ("garbage header", {
            let mut b = bytes.clone();
            b[8] = b'#';
            b
        }),
    ];
    for (name, case) in cases {
        let path = dir
            .path()
            .join(format!("{}.safetensors", name.replace(' ', "_")));
        std::fs::write(&path, &case).unwrap();
        let err = Checkpoint::load(&path).unwrap_err();
        assert!(
            matches!(err, CheckpointError::Corrupt { .. }),
            "{name}: {err:?}"
        );
        assert!(
            err.to_string().contains(&name.replace(' ', "_")),
            "{name}: error names the file: {err}"
        );
        assert!(Checkpoint::from_bytes(&case).is_err());
    }
    // A valid safetensors file holding an F16 tensor.
    let f16 =
        safetensors::tensor::TensorView::new(safetensors::Dtype::F16, vec![2], &[0, 60, 0, 60])
            .unwrap();
    let b = safetensors::serialize([("half", f16)], None::<HashMap<String, String>>).unwrap();
    match Checkpoint::from_bytes(&b) {
        Err(CheckpointError::WrongDtype { tensor, dtype, .. }) => {
            assert_eq!((tensor.as_str(), dtype.as_str()), ("half", "F16"))
        }
        other => panic!("{other:?}"),
    }
    let err = Checkpoint::load(&dir.path().join("missing.safetensors")).unwrap_err();
    assert!(
        matches!(err, CheckpointError::Io { .. })
            && err.to_string().contains("missing.safetensors")
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Any corruption of a valid file is an error or a valid checkpoint, never a panic.
    #[test]
    fn mutated_bytes_never_panic(flips in proptest::collection::vec((0usize..10_000, proptest::prelude::any::<u8>()), 1..6), cut in 0usize..10_000) {
        let mut bytes = sample().to_bytes().unwrap();
        let n = bytes.len();
        for (pos, val) in flips {
            bytes[pos % n] = val;
        }
        bytes.truncate(n - cut % 8);
        let _ = Checkpoint::from_bytes(&bytes);
    }
}
