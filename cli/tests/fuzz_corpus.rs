//! Replays the committed seed corpus (`fuzz/corpus/<target>/*`) through the fuzz target bodies
//! of `jepa_cli::fuzzing`, the same functions the cargo-fuzz targets call, so every `cargo test`
//! re-checks the readers on valid, corrupt and truncated inputs without a nightly toolchain.
//!
//! `cargo test -p jepa-cli --test fuzz_corpus -- --ignored` regenerates the hand-made seeds.

use std::io::Write;
use std::path::{Path, PathBuf};

use jepa_cli::fuzzing::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn corpus_files(target: &str) -> Vec<PathBuf> {
    let dir = fuzz_dir().join("corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn every_target_has_a_fuzz_binary_and_a_corpus_that_is_both_accepted_and_rejected() {
    for (name, body) in TARGETS {
        let src = fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"));
        let text =
            std::fs::read_to_string(&src).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
        assert!(
            text.contains(&format!("jepa_cli::fuzzing::{name}(")),
            "{} calls another body",
            src.display()
        );
        let files = corpus_files(name);
        assert!(files.len() >= 3, "{name}: only {} seeds", files.len());
        let mut accepted = 0;
        for f in &files {
            let bytes = std::fs::read(f).unwrap();
            // A panic here (reader bug or violated invariant) fails the test, naming the file
            // through the panic message's context below.
            let ok = std::panic::catch_unwind(|| body(&bytes))
                .unwrap_or_else(|_| panic!("{name}: {} panicked", f.display()));
            accepted += usize::from(ok);
        }
        assert!(
            accepted >= 1,
            "{name}: no seed is accepted, the valid path is not exercised"
        );
        assert!(
            accepted < files.len(),
            "{name}: every seed is accepted, no error path is exercised"
        );
    }
}

// ---- seed generation -------------------------------------------------------------------------

fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(data);
    v
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    // A stored (uncompressed) gzip member: header, deflate "stored" blocks, CRC32, size.
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    for (i, chunk) in bytes.chunks(65535).enumerate() {
        let last = (i + 1) * 65535 >= bytes.len();
        out.push(u8::from(last));
        let n = chunk.len() as u16;
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&(!n).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    out.extend_from_slice(&(!crc).to_le_bytes());
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out
}

fn png(w: u32, h: u32, grey: bool) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    if grey {
        let img = image::GrayImage::from_fn(w, h, |x, y| image::Luma([(x * 40 + y * 7) as u8]));
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    } else {
        let img = image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x * 30) as u8, (y * 50) as u8, 99])
        });
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    }
    out.into_inner()
}

fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 20) as u8, (y * 20) as u8, 128])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// A minimal ustar archive of `(path, contents)` regular files.
fn tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in files {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        h[108..115].copy_from_slice(b"0000000");
        h[116..123].copy_from_slice(b"0000000");
        h[124..135].copy_from_slice(format!("{:011o}", data.len()).as_bytes());
        h[136..147].copy_from_slice(b"00000000000");
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(512), 0);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

fn checkpoint_bytes() -> Vec<u8> {
    let mut ck = jepa_models::checkpoint::Checkpoint::new();
    ck.insert(
        "encoder.pos_embed",
        &[1, 2, 4],
        (0..8).map(|i| i as f32).collect(),
    )
    .unwrap();
    ck.insert("predictor.mask_token", &[1, 1, 4], vec![0.5; 4])
        .unwrap();
    ck.set_u64("step", 7);
    ck.to_bytes().unwrap()
}

fn raw_safetensors(header: &str, data: &[u8]) -> Vec<u8> {
    let mut v = (header.len() as u64).to_le_bytes().to_vec();
    v.extend_from_slice(header.as_bytes());
    v.extend_from_slice(data);
    v
}

fn seeds() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    let ck = checkpoint_bytes();
    let idx3 = idx_bytes(&[2, 2, 3], &[7; 12]);
    let mut cifar = vec![3u8];
    cifar.extend((0..3072).map(|i| (i % 251) as u8));
    let mut cifar_bad = cifar.clone();
    cifar_bad[0] = 10;
    let png_rgb = png(5, 3, false);
    let tar_ok = tar(&[
        ("train/cat/0.png", &png_rgb),
        ("train/dog/1.png", &png(2, 2, true)),
    ]);
    let mut tar_badsum = tar_ok.clone();
    tar_badsum[150] ^= 1;
    let npy = {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.npy");
        jepa_cli::npy::write_npy(&p, &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        std::fs::read(p).unwrap()
    };
    vec![
        ("checkpoint", "valid", ck.clone()),
        ("checkpoint", "truncated", ck[..ck.len() / 2].to_vec()),
        ("checkpoint", "f16_tensor", raw_safetensors(r#"{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#, &[0; 4])),
        ("checkpoint", "offsets_past_end", raw_safetensors(r#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, &[0; 8])),
        ("checkpoint", "huge_header_len", vec![0xff; 16]),
        ("idx", "vector", idx_bytes(&[3], &[1, 2, 3])),
        ("idx", "images_2x2x3", idx3.clone()),
        ("idx", "gzip", gzip(&idx3)),
        ("idx", "truncated", idx3[..idx3.len() - 1].to_vec()),
        ("idx", "float_type", { let mut v = idx3.clone(); v[2] = 0x0d; v }),
        ("idx", "trailing", { let mut v = idx3.clone(); v.push(0); v }),
        ("cifar", "one_record", cifar.clone()),
        ("cifar", "bad_label", cifar_bad),
        ("cifar", "truncated", cifar[..3072].to_vec()),
        ("image", "rgb.png", png_rgb.clone()),
        ("image", "grey.png", png(3, 4, true)),
        ("image", "rgb.jpg", jpeg(9, 7)),
        ("image", "truncated.png", png_rgb[..png_rgb.len() / 2].to_vec()),
        ("image", "text", b"not an image".to_vec()),
        ("tar", "imagefolder", tar_ok.clone()),
        ("tar", "bad_checksum", tar_badsum),
        ("tar", "truncated", tar_ok[..700].to_vec()),
        ("tar", "empty", vec![0; 1024]),
        ("config", "quickstart", b"preset = \"quickstart\"\n[train]\nsteps = 20\nbatch_size = 8\n".to_vec()),
        ("config", "full_sections", b"method = \"cjepa\"\nseed = 3\n[model]\nsize = \"small\"\nimage_size = 64\npatch_size = 8\n[mask]\nmode = \"parity\"\nmin_keep = 4\n[cjepa]\ncov_weight = 0.1\n".to_vec()),
        ("config", "unknown_key", b"[model]\nsise = \"tiny\"\n".to_vec()),
        ("config", "wrong_type", b"[train]\nsteps = \"many\"\n".to_vec()),
        ("config", "bad_syntax", b"[train\nsteps = 1\n".to_vec()),
        ("config", "unknown_preset", b"preset = \"nope\"\n".to_vec()),
        ("config", "invalid_value", b"[model]\nimage_size = 30\npatch_size = 4\n".to_vec()),
        ("npy", "f32_2x3", npy.clone()),
        ("npy", "truncated", npy[..npy.len() - 3].to_vec()),
        ("npy", "bad_magic", b"\x93NUMPZ\x01\x00".to_vec()),
    ]
}

#[test]
#[ignore = "writes fuzz/corpus; run by hand after changing the seeds"]
fn write_seed_corpus() {
    for (target, name, bytes) in seeds() {
        let dir = fuzz_dir().join("corpus").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        let mut f = std::fs::File::create(dir.join(format!("seed_{name}"))).unwrap();
        f.write_all(&bytes).unwrap();
    }
}
