//! `jepa show attention`, `jepa show features` and `jepa report` through the built binary: the
//! pictures have the grid's size and differ between the maps; `quickstart` ends with a
//! report.html that headless Chromium opens with every image decoded and the probe table
//! present; misuse is one line and leaves no file behind.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{assert_one_line_error, run, stderr};

const CONFIG: &str = "preset = \"quickstart\"\n\
[model]\ndepth = 2\npred_depth = 1\n\
[train]\nbatch_size = 8\nsteps = 2\nlog_every = 1\nrankme_every = 2\ncheckpoint_every = 0\n\
[data]\nworkers = 1\n";

/// 60 CIFAR-10 binary rows of 3 classes told apart by which colour channel is bright, with a
/// bright square whose place depends on the row (something for the maps to find).
fn cifar_dir(root: &Path) -> PathBuf {
    common::cifar_dir(root, 60, |i, p| {
        let (c, y, x) = (p / 1024, p % 1024 / 32, p % 32);
        let square = (y / 8 == i % 4) && (x / 8 == (i / 4) % 4);
        let v = match (square, c == i % 3) {
            (true, _) => 250,
            (false, true) => 150,
            (false, false) => 40,
        };
        (v + (x * 3 + y * 5 + i) % 20) as u8
    })
}

fn folder_of_pngs(root: &Path, n: u32) -> PathBuf {
    let dir = root.join("pngs");
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..n {
        image::RgbImage::from_fn(40, 36, |x, y| {
            image::Rgb([(x * 6) as u8, (y * 7) as u8, (i * 60) as u8])
        })
        .save(dir.join(format!("{i}.png")))
        .unwrap();
    }
    dir
}

/// A 2-step pretrain of a 2-block model: a real checkpoint with both encoders.
fn checkpoint(root: &Path, data: &Path) -> PathBuf {
    let cfg = root.join("c.toml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let out = root.join("run");
    let d = data.display().to_string();
    let (c, o) = (cfg.display().to_string(), out.display().to_string());
    let r = run(&[
        "pretrain",
        "--config",
        &c,
        "--data",
        &d,
        "--out",
        &o,
        "--no-progress",
    ]);
    assert!(r.status.success(), "{}", stderr(&r));
    out.join("checkpoint.safetensors")
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn show_attention_and_features_draw_grids_and_refuse_bad_input() {
    let t = tempfile::tempdir().unwrap();
    let data = cifar_dir(t.path());
    let ck = checkpoint(t.path(), &data);
    let ck = ck.display().to_string();
    let pngs = folder_of_pngs(t.path(), 3);
    let out = t.path().join("pics");
    std::fs::create_dir_all(&out).unwrap();
    let att = out.join("att.png").display().to_string();
    let p = pngs.display().to_string();
    let r = run(&[
        "show",
        "attention",
        "--checkpoint",
        &ck,
        "--images",
        &p,
        "--out",
        &att,
        "--tile",
        "64",
        "--per-head",
        "--random-init",
    ]);
    assert!(r.status.success(), "{}", stderr(&r));
    let e = stderr(&r);
    for enc in ["target encoder", "context encoder", "random init"] {
        assert!(e.contains(&format!("{enc}: attention entropy")), "{e}");
    }
    // 3 images; columns: input + (mean + 3 heads) × 3 encoders.
    let img = image::open(&att).unwrap().to_rgb8();
    assert_eq!(img.width(), 13 * (64 + 6) + 6);
    assert!(img.height() > 3 * 70, "{}", img.height());

    let feat = out.join("feat.png").display().to_string();
    let d = data.display().to_string();
    let r = run(&[
        "show",
        "features",
        "--checkpoint",
        &ck,
        "--images",
        &d,
        "--count",
        "4",
        "--out",
        &feat,
        "--compare",
        &ck,
        "--random-init",
        "--tile",
        "48",
    ]);
    assert!(r.status.success(), "{}", stderr(&r));
    assert!(stderr(&r).contains("PC 1/2/3 explain"), "{}", stderr(&r));
    let img = image::open(&feat).unwrap().to_rgb8();
    assert_eq!(
        img.width(),
        4 * (48 + 6) + 6,
        "input + two checkpoints + random init"
    );
    // The PCA colours span the RGB cube: some tile pixel is strongly red, green or blue.
    assert!(img
        .pixels()
        .any(|p| p.0.iter().filter(|&&c| c > 200).count() == 1));

    let empty = t.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let bad = t.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("x.png"), b"not a png").unwrap();
    let before = files_in(&out);
    let cases: [(&Path, String, &str); 4] = [
        (
            &empty,
            out.join("a.png").display().to_string(),
            "no .jpg/.jpeg/.png",
        ),
        (&bad, out.join("b.png").display().to_string(), "x.png"),
        (
            &pngs,
            out.join("no/such/c.png").display().to_string(),
            "does not exist",
        ),
        (&pngs, out.join("d.jpg").display().to_string(), "FILE.png"),
    ];
    for (images, dest, needle) in cases {
        for what in ["attention", "features"] {
            let i = images.display().to_string();
            let r = run(&[
                "show",
                what,
                "--checkpoint",
                &ck,
                "--images",
                &i,
                "--out",
                &dest,
            ]);
            assert_one_line_error(&r, &[needle]);
        }
    }
    assert_eq!(files_in(&out), before, "nothing half-written");
}

#[test]
fn report_refuses_a_directory_without_metrics_and_writes_nothing() {
    let t = tempfile::tempdir().unwrap();
    let r = run(&["report", &t.path().display().to_string()]);
    assert_one_line_error(&r, &["metrics.jsonl"]);
    assert!(files_in(t.path()).is_empty());
}

/// The quickstart's report, as a browser shows it: an inline script (added to a copy) records
/// how many `<img>` decoded and how many probe rows the table has; `--dump-dom` prints it.
fn chromium_check(html: &Path, profile: &Path) -> String {
    let page = std::fs::read_to_string(html).unwrap();
    let script = "<script>window.addEventListener('load',()=>{const i=[...document.images];\
        const ok=i.filter(x=>x.complete&&x.naturalWidth>0).length;\
        const rows=document.querySelectorAll('table.probe tr').length-1;\
        document.body.setAttribute('data-check','images '+ok+'/'+i.length+' probe-rows '+rows);});</script>";
    let checked = html.with_file_name("checked.html");
    std::fs::write(
        &checked,
        page.replace("</body>", &format!("{script}</body>")),
    )
    .unwrap();
    let o = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", checked.display()))
        .output()
        .expect("run chromium");
    let dom = String::from_utf8_lossy(&o.stdout).into_owned();
    let at = dom.find("data-check=\"").map(|i| i + 12);
    let Some(at) = at else {
        panic!(
            "no check marker: {}\n{}",
            String::from_utf8_lossy(&o.stderr),
            &dom[..dom.len().min(500)]
        );
    };
    dom[at..].split('"').next().unwrap().to_string()
}

#[test]
#[cfg_attr(
    no_chromium,
    ignore = "chromium is not installed (scripts/test.sh installs it)"
)]
fn quickstart_report_opens_in_chromium_with_every_image_and_the_probe_table() {
    let t = tempfile::tempdir().unwrap();
    let data = cifar_dir(t.path());
    let out = t.path().join("qs");
    let r = run(&[
        "quickstart",
        "--data",
        &data.display().to_string(),
        "--out",
        &out.display().to_string(),
        "--steps",
        "2",
        "--no-progress",
    ]);
    assert!(r.status.success(), "{}", stderr(&r));
    let html = out.join("report.html");
    let so = String::from_utf8_lossy(&r.stdout);
    assert!(so.contains(&format!("report: {}", html.display())), "{so}");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "no network fetches"
    );
    let images = page.matches("<img ").count();
    // Curves (loss, lr, EMA; two steps log no RankMe), attention and feature maps.
    for alt in [
        "loss.png",
        "lr.png",
        "ema.png",
        "attention.png",
        "features.png",
    ] {
        assert!(
            page.contains(&format!("<img alt=\"{alt}\"")),
            "{alt} not inlined"
        );
    }
    let check = chromium_check(&html, &t.path().join("profile"));
    assert_eq!(check, format!("images {images}/{images} probe-rows 2"));
    // The check can fail: a corrupt image is counted as not decoded.
    let broken = page.replacen("base64,", "base64,AAAA", 1);
    std::fs::write(&html, broken).unwrap();
    let check = chromium_check(&html, &t.path().join("profile2"));
    assert_eq!(
        check,
        format!("images {}/{images} probe-rows 2", images - 1)
    );
}
