//! Bad input reaches the user as ONE line on stderr naming the file, tensor, key or flag, with a
//! non-zero exit status and no output file left behind. Every case runs the built `jepa` binary.

use std::path::{Path, PathBuf};
use std::process::Command;

use jepa_models::checkpoint::Checkpoint;
use jepa_models::vit::{VisionTransformer, VitConfig};

struct Outcome {
    code: i32,
    stderr: String,
}

fn jepa(args: &[&str]) -> Outcome {
    let out = Command::new(env!("CARGO_BIN_EXE_jepa"))
        .args(args)
        .env("RAYON_NUM_THREADS", "1")
        .output()
        .expect("run jepa");
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Exit status `code`, exactly one stderr line starting `jepa: ` and containing every needle.
fn assert_error(o: &Outcome, code: i32, needles: &[&str]) {
    let lines: Vec<&str> = o.stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "expected one stderr line, got: {:?}",
        o.stderr
    );
    assert!(lines[0].starts_with("jepa: "), "{:?}", lines[0]);
    assert!(
        !lines[0].contains("panicked") && !lines[0].contains("internal error"),
        "{:?}",
        lines[0]
    );
    for n in needles {
        assert!(
            lines[0].contains(n),
            "{:?} does not mention {n:?}",
            lines[0]
        );
    }
    assert_eq!(o.code, code, "exit status for {:?}", lines[0]);
}

/// `embed` of `images` with the checkpoint `ck` into `out`, plus `extra` flags.
fn embed(ck: &str, images: &str, out: &str, extra: &[&str]) -> Outcome {
    let mut args = vec![
        "embed",
        "--checkpoint",
        ck,
        "--images",
        images,
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    jepa(&args)
}

/// `pretrain` for one step on `data` into `out`.
fn pretrain1(data: &str, out: &str) -> Outcome {
    jepa(&["pretrain", "--data", data, "--out", out, "--steps", "1"])
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// A one-block ViT-Tiny-width encoder on 8×8 images, saved under the target-encoder prefix.
fn encoder_checkpoint(dir: &Path, wrong_shape: bool) -> PathBuf {
    let enc =
        VisionTransformer::new(VitConfig::custom(192, 1, 3, 8, 4), Vec::new(), 1, false).unwrap();
    let mut ck = Checkpoint::new();
    for (name, t) in enc.store().state_dict("target_encoder.").unwrap() {
        let mut shape = t.dims().to_vec();
        let mut data = t.to_vec_f32().unwrap();
        if wrong_shape && name.ends_with("blocks.0.attn.qkv.weight") {
            shape[0] -= 3;
            data.truncate(shape.iter().product());
        }
        ck.insert(name, &shape, data).unwrap();
    }
    let path = dir.join(if wrong_shape {
        "wrong.safetensors"
    } else {
        "enc.safetensors"
    });
    ck.save(&path).unwrap();
    path
}

fn png(path: &Path) {
    image::RgbImage::from_fn(10, 12, |x, y| {
        image::Rgb([(x * 20) as u8, (y * 20) as u8, 7])
    })
    .save(path)
    .unwrap();
}

fn no_files(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir)
        .map(|r| r.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{} holds {left:?}", dir.display());
}

#[test]
fn missing_data_directory() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("run");
    let missing = t.path().join("no-such-dir");
    let o = pretrain1(&s(&missing), &s(&out));
    assert_error(&o, 1, &["no-such-dir"]);
    assert!(!out.exists(), "run directory created for a failed start");
}

#[test]
fn empty_data_directory() {
    let t = tempfile::tempdir().unwrap();
    let (empty, out) = (t.path().join("empty"), t.path().join("run"));
    std::fs::create_dir(&empty).unwrap();
    let o = pretrain1(&s(&empty), &s(&out));
    assert_error(&o, 1, &["empty", "no data"]);
    assert!(!out.exists());
    let o = embed(
        "x.safetensors",
        &s(&empty),
        &s(&t.path().join("e.npy")),
        &[],
    );
    assert_error(&o, 1, &["empty"]);
}

#[test]
fn corrupt_and_truncated_images() {
    let t = tempfile::tempdir().unwrap();
    let ck = encoder_checkpoint(t.path(), false);
    let imgs = t.path().join("imgs");
    let outdir = t.path().join("out");
    std::fs::create_dir_all(&imgs).unwrap();
    std::fs::create_dir_all(&outdir).unwrap();
    png(&imgs.join("a_good.png"));
    std::fs::write(imgs.join("b_corrupt.jpg"), b"this is not a jpeg").unwrap();
    let out = outdir.join("e.npy");
    let o = embed(&s(&ck), &s(&imgs), &s(&out), &[]);
    assert_error(&o, 1, &["b_corrupt.jpg"]);
    no_files(&outdir);
    std::fs::remove_file(imgs.join("b_corrupt.jpg")).unwrap();
    let good = std::fs::read(imgs.join("a_good.png")).unwrap();
    std::fs::write(imgs.join("c_truncated.png"), &good[..good.len() / 2]).unwrap();
    let o = embed(&s(&ck), &s(&imgs), &s(&out), &[]);
    assert_error(&o, 1, &["c_truncated.png"]);
    no_files(&outdir);
    // The same directory without the bad file embeds fine: the failures above were the files.
    std::fs::remove_file(imgs.join("c_truncated.png")).unwrap();
    let o = embed(&s(&ck), &s(&imgs), &s(&out), &["--no-progress"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let (shape, _) = jepa_cli::npy::parse_npy_f32(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(shape, vec![1, 192]);
}

#[test]
fn truncated_idx_file() {
    let t = tempfile::tempdir().unwrap();
    let (data, out) = (t.path().join("fm"), t.path().join("run"));
    std::fs::create_dir(&data).unwrap();
    let mut images = vec![0, 0, 8, 3, 0, 0, 0, 4, 0, 0, 0, 28, 0, 0, 0, 28];
    images.extend(std::iter::repeat_n(5u8, 4 * 784 - 100)); // 100 bytes short
    std::fs::write(data.join("train-images-idx3-ubyte"), images).unwrap();
    std::fs::write(
        data.join("train-labels-idx1-ubyte"),
        [0, 0, 8, 1, 0, 0, 0, 4, 1, 2, 3, 4],
    )
    .unwrap();
    let o = pretrain1(&s(&data), &s(&out));
    assert_error(&o, 1, &["train-images-idx3-ubyte"]);
    assert!(!out.exists());
}

#[test]
fn corrupt_and_truncated_checkpoints() {
    let t = tempfile::tempdir().unwrap();
    let good = encoder_checkpoint(t.path(), false);
    let bytes = std::fs::read(&good).unwrap();
    let truncated = t.path().join("truncated.safetensors");
    std::fs::write(&truncated, &bytes[..bytes.len() - 1000]).unwrap();
    let garbage = t.path().join("garbage.safetensors");
    std::fs::write(
        &garbage,
        b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}",
    )
    .unwrap();
    let imgs = t.path().join("imgs");
    std::fs::create_dir(&imgs).unwrap();
    png(&imgs.join("a.png"));
    let outdir = t.path().join("out");
    std::fs::create_dir(&outdir).unwrap();
    for bad in [&truncated, &garbage] {
        let name = bad.file_name().unwrap().to_string_lossy().into_owned();
        assert_error(&jepa(&["inspect", &s(bad)]), 1, &[&name]);
        let out = outdir.join("e.safetensors");
        let o = embed(&s(bad), &s(&imgs), &s(&out), &[]);
        assert_error(&o, 1, &[&name]);
        no_files(&outdir);
    }
}

#[test]
fn checkpoint_of_the_wrong_shape() {
    let t = tempfile::tempdir().unwrap();
    let wrong = encoder_checkpoint(t.path(), true);
    let imgs = t.path().join("imgs");
    std::fs::create_dir(&imgs).unwrap();
    png(&imgs.join("a.png"));
    let out = t.path().join("e.npy");
    let o = embed(&s(&wrong), &s(&imgs), &s(&out), &[]);
    assert_error(&o, 1, &["wrong.safetensors", "blocks.0.attn.qkv.weight"]);
    assert!(!out.exists());
    let cif = t.path().join("cif");
    std::fs::create_dir(&cif).unwrap();
    let mut rec = vec![1u8];
    rec.extend(std::iter::repeat_n(3u8, 3072));
    std::fs::write(cif.join("test_batch.bin"), rec.repeat(4)).unwrap();
    let o = jepa(&[
        "probe",
        "--checkpoint",
        &s(&wrong),
        "--train",
        &s(&cif),
        "--test",
        &s(&cif),
    ]);
    assert_error(&o, 1, &["blocks.0.attn.qkv.weight"]);
}

#[test]
fn bad_probe_grids() {
    let probe = |grid: &str| {
        jepa(&[
            "probe",
            "--checkpoint",
            "none.safetensors",
            "--train",
            "none",
            grid,
        ])
    };
    assert_error(&probe("--lrs=1e-2,0"), 2, &["--lrs", "0 is not"]);
    assert_error(&probe("--lrs=1e-2,inf"), 2, &["--lrs", "inf"]);
    assert_error(
        &probe("--weight-decays=-1e-4"),
        2,
        &["--weight-decays", "-0.0001"],
    );
    assert_error(&probe("--lrs=fast"), 2, &["fast"]);
}

#[test]
fn unknown_flag_and_subcommand() {
    assert_error(&jepa(&["pretrain", "--bogus-flag"]), 2, &["--bogus-flag"]);
    assert_error(&jepa(&["frobnicate"]), 2, &["frobnicate"]);
    assert_error(&jepa(&["bench", "--threads", "many"]), 2, &["many"]);
}

#[test]
fn unknown_config_key_and_bad_config_values() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("run");
    let cases: [(&str, &[&str]); 5] = [
        (
            "[model]\nsize = \"tiny\"\nsise = 3\n",
            &["model.sise", "line 3"],
        ),
        ("[train\nsteps = 1\n", &["invalid TOML"]),
        ("[train]\nsteps = \"many\"\n", &["steps"]),
        ("preset = \"no-such-preset\"\n", &["no-such-preset"]),
        (
            "matmul_precision = \"bf16\"\n",
            &["matmul precision `bf16`", "highest"],
        ),
    ];
    for (i, (text, needles)) in cases.iter().enumerate() {
        let cfg = t.path().join(format!("c{i}.toml"));
        std::fs::write(&cfg, text).unwrap();
        let o = jepa(&[
            "pretrain",
            "--config",
            &s(&cfg),
            "--data",
            ".",
            "--out",
            &s(&out),
        ]);
        assert_error(&o, 2, needles);
        if i < 3 {
            assert!(o.stderr.contains(&format!("c{i}.toml")), "{}", o.stderr);
        }
    }
    let o = jepa(&[
        "pretrain",
        "--data",
        ".",
        "--out",
        &s(&out),
        "--image-size",
        "30",
    ]);
    assert_error(&o, 2, &["image_size 30"]);
    assert!(!out.exists());
    let o = jepa(&[
        "quickstart",
        "--preset",
        "no-such-preset",
        "--data",
        ".",
        "--out",
        &s(&out),
    ]);
    assert_error(
        &o,
        2,
        &["unknown preset `no-such-preset`", "cifar-cjepa-b-hour"],
    );
    assert!(!out.exists());
    for cmd in [
        &["bench", "--quick", "--filter", "gemm_512"][..],
        &[
            "embed",
            "--checkpoint",
            "x",
            "--images",
            ".",
            "--out",
            "y.npy",
        ],
    ] {
        let mut args = cmd.to_vec();
        args.extend(["--matmul-precision", "fp8"]);
        assert_error(
            &jepa(&args),
            2,
            &["matmul precision `fp8`", "expected highest, high or medium"],
        );
    }
}

#[test]
fn cuda_requested_without_cuda() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("run");
    let o = jepa(&[
        "pretrain",
        "--device",
        "cuda",
        "--data",
        ".",
        "--out",
        &s(&out),
        "--steps",
        "1",
    ]);
    assert_error(&o, 1, &["cuda"]);
    assert!(!out.exists());
    let o = jepa(&[
        "probe",
        "--device",
        "cuda",
        "--checkpoint",
        "c.safetensors",
        "--train",
        ".",
        "--test",
        ".",
    ]);
    assert_error(&o, 1, &["cuda"]);
    let o = jepa(&["bench", "--device", "cuda:7", "--filter", "fma"]);
    assert_error(&o, 1, &["cuda:7"]);
    assert_error(&jepa(&["bench", "--device", "tpu"]), 2, &["tpu"]);
}

#[test]
fn bad_output_paths_fail_before_any_work() {
    let t = tempfile::tempdir().unwrap();
    let ck = encoder_checkpoint(t.path(), false);
    let o = embed(&s(&ck), ".", &s(&t.path().join("e.csv")), &[]);
    assert_error(&o, 2, &["e.csv", ".npy"]);
    let o = embed(&s(&ck), ".", &s(&t.path().join("no/dir/e.npy")), &[]);
    assert_error(&o, 2, &["no/dir"]);
    assert_error(&jepa(&["plot", &s(t.path())]), 1, &["metrics.jsonl"]);
    assert_error(&jepa(&["bench", "--threads", "0"]), 2, &["--threads"]);
}
