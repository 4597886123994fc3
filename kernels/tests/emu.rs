//! Rung 2: the pointwise and relayout kernels run on the CPU through the emulation shim (fiber
//! mode) and compared with the Rust CPU reference on awkward shapes (sizes not a multiple of the
//! block or warp, one element, repeated indices, bf16). The other kernels live beside this file:
//! row kernels in `emu_rows.rs`, losses and optimizer in `emu_loss.rs`, attention and VICReg in
//! `emu_attention.rs`, strided copies and reductions in `emu_strided.rs`. The coverage test below
//! keeps it that way: a registered kernel that no emulation test launches fails it.

#[path = "emu_util.rs"]
mod util;

use jepa_kernels::cpu;
use jepa_kernels::cuda::emu::{kernel_names, EmuArgs};
use jepa_kernels::cuda::registry::KERNEL_FILES;
use std::collections::BTreeSet;
use util::*;

/// Kernel names the emulation tests launch: every string literal of the `emu*.rs` test sources
/// that looks like a kernel name, with the `{dt}` and `{d}` placeholders of the `format!`ed
/// names expanded to every dtype and head dim.
fn launched_kernel_names() -> BTreeSet<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut names = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        if !(file.starts_with("emu") && file.ends_with(".rs")) {
            continue;
        }
        let src = std::fs::read_to_string(&path).unwrap();
        // Every stretch between two quotes, in and out of literals alike: code between literals
        // holds spaces or punctuation, so only name-shaped literals pass the filter.
        for lit in src.split('"') {
            if lit.is_empty()
                || !lit
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_{}".contains(c))
            {
                continue;
            }
            for dt in ["f32", "bf16"] {
                for d in ["32", "64", "128"] {
                    names.insert(lit.replace("{dt}", dt).replace("{d}", d));
                }
            }
        }
    }
    names
}

#[test]
fn emu_tests_launch_every_registered_kernel() {
    let launched = launched_kernel_names();
    let missing: Vec<&str> = KERNEL_FILES
        .iter()
        .flat_map(|f| f.entries.iter().copied())
        .filter(|k| !launched.contains(*k))
        .collect();
    assert!(
        missing.is_empty(),
        "kernels no emulation test launches (add a comparison with the reference): {missing:?}"
    );
}

#[test]
fn emu_harness_exposes_every_registered_kernel() {
    let mut emu = kernel_names();
    emu.sort();
    let mut reg: Vec<String> = KERNEL_FILES
        .iter()
        .flat_map(|f| f.entries.iter().map(|e| e.to_string()))
        .collect();
    reg.sort();
    assert_eq!(
        emu, reg,
        "harness.cpp's table and registry::KERNEL_FILES differ"
    );
}

#[test]
fn emu_elementwise_ops_f32_and_bf16() {
    for n in [1usize, 31, 257] {
        let (a, b) = (data(n, 1, 3.0), data(n, 2, 3.0));
        let (g, bl) = stride_grid(n);
        let mut out = vec![f32::NAN; n];
        run(
            "add_f32",
            g,
            bl,
            EmuArgs::new()
                .i64(n as i64)
                .ptr(a.as_ptr())
                .ptr(b.as_ptr())
                .ptr(out.as_mut_ptr()),
        );
        let want: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
        assert_close("add_f32", &out, &want, 0.0, 0.0);
        run(
            "mul_f32",
            g,
            bl,
            EmuArgs::new()
                .i64(n as i64)
                .ptr(a.as_ptr())
                .ptr(b.as_ptr())
                .ptr(out.as_mut_ptr()),
        );
        let want: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x * y).collect();
        assert_close("mul_f32", &out, &want, 0.0, 0.0);
        run(
            "scale_f32",
            g,
            bl,
            EmuArgs::new()
                .i64(n as i64)
                .f32(-0.5)
                .ptr(a.as_ptr())
                .ptr(out.as_mut_ptr()),
        );
        let want: Vec<f32> = a.iter().map(|x| -0.5 * x).collect();
        assert_close("scale_f32", &out, &want, 0.0, 0.0);
        let mut y = b.clone();
        run(
            "axpy_f32",
            g,
            bl,
            EmuArgs::new()
                .i64(n as i64)
                .f32(2.0)
                .ptr(a.as_ptr())
                .ptr(y.as_mut_ptr()),
        );
        let want: Vec<f32> = a.iter().zip(&b).map(|(x, y)| 2.0 * x + y).collect();
        assert_close("axpy_f32", &y, &want, 1e-6, 1e-6);
        run(
            "fill_f32",
            g,
            bl,
            EmuArgs::new().i64(n as i64).f32(7.25).ptr(out.as_mut_ptr()),
        );
        assert!(out.iter().all(|v| *v == 7.25), "fill_f32");

        // bf16: inputs rounded once, math in f32, result rounded to nearest even.
        let (ab, bb) = (to_bf16(&a), to_bf16(&b));
        let mut ob = vec![0u16; n];
        run(
            "add_bf16",
            g,
            bl,
            EmuArgs::new()
                .i64(n as i64)
                .ptr(ab.as_ptr())
                .ptr(bb.as_ptr())
                .ptr(ob.as_mut_ptr()),
        );
        let want: Vec<f32> = round_bf16(
            &from_bf16(&ab)
                .iter()
                .zip(from_bf16(&bb))
                .map(|(x, y)| x + y)
                .collect::<Vec<_>>(),
        );
        assert_close("add_bf16", &from_bf16(&ob), &want, 0.0, 0.0);
        let mut yb = bb.clone();
        run(
            "axpy_bf16",
            g,
            bl,
            EmuArgs::new()
                .i64(n as i64)
                .f32(0.5)
                .ptr(ab.as_ptr())
                .ptr(yb.as_mut_ptr()),
        );
        let want: Vec<f32> = round_bf16(
            &from_bf16(&ab)
                .iter()
                .zip(from_bf16(&bb))
                .map(|(x, y)| 0.5 * x + y)
                .collect::<Vec<_>>(),
        );
        assert_close("axpy_bf16", &from_bf16(&yb), &want, 0.0, 0.0);
        run(
            "cast_f32_to_bf16",
            g,
            bl,
            EmuArgs::new()
                .i64(n as i64)
                .ptr(a.as_ptr())
                .ptr(ob.as_mut_ptr()),
        );
        assert_eq!(
            ob,
            to_bf16(&a),
            "cast_f32_to_bf16 must round to nearest even like half::bf16"
        );
        run(
            "cast_bf16_to_f32",
            g,
            bl,
            EmuArgs::new()
                .i64(n as i64)
                .ptr(ob.as_ptr())
                .ptr(out.as_mut_ptr()),
        );
        assert_eq!(out, from_bf16(&ob), "cast_bf16_to_f32 is exact");
    }
}

/// The bf16 instances of the remaining pointwise kernels: inputs rounded once, f32 math, the
/// result rounded to nearest even, so the comparison is exact.
#[test]
fn emu_mul_scale_fill_bf16() {
    for n in [1usize, 31, 257] {
        let (a, b) = (round_bf16(&data(n, 30, 3.0)), round_bf16(&data(n, 31, 3.0)));
        let (ab, bb) = (to_bf16(&a), to_bf16(&b));
        let (g, bl) = stride_grid(n);
        let mut ob = vec![0u16; n];
        run(
            "mul_bf16",
            g,
            bl,
            EmuArgs::new()
                .i64(n as i64)
                .ptr(ab.as_ptr())
                .ptr(bb.as_ptr())
                .ptr(ob.as_mut_ptr()),
        );
        let want = round_bf16(&a.iter().zip(&b).map(|(x, y)| x * y).collect::<Vec<_>>());
        assert_close("mul_bf16", &from_bf16(&ob), &want, 0.0, 0.0);
        run(
            "scale_bf16",
            g,
            bl,
            EmuArgs::new()
                .i64(n as i64)
                .f32(-0.3)
                .ptr(ab.as_ptr())
                .ptr(ob.as_mut_ptr()),
        );
        let want = round_bf16(&a.iter().map(|x| -0.3 * x).collect::<Vec<_>>());
        assert_close("scale_bf16", &from_bf16(&ob), &want, 0.0, 0.0);
        run(
            "fill_bf16",
            g,
            bl,
            EmuArgs::new()
                .i64(n as i64)
                .f32(1.0 / 3.0)
                .ptr(ob.as_mut_ptr()),
        );
        assert_eq!(
            ob,
            to_bf16(&vec![1.0 / 3.0; n]),
            "fill_bf16 rounds the value once"
        );
    }
}

#[test]
fn emu_patchify_matches_reference_and_inverts() {
    for (b, c, h, w, p) in [
        (1usize, 1usize, 2usize, 2usize, 1usize),
        (2, 3, 8, 12, 4),
        (1, 2, 6, 6, 3),
    ] {
        let n = b * c * h * w;
        let img = data(n, 20, 1.0);
        let (mut out, mut want) = (vec![0f32; n], vec![0f32; n]);
        let (g, bl) = stride_grid(n);
        let dims = |a: &mut EmuArgs| {
            a.i32(b as i32)
                .i32(c as i32)
                .i32(h as i32)
                .i32(w as i32)
                .i32(p as i32);
        };
        let mut a = EmuArgs::new();
        dims(&mut a);
        run(
            "patchify_f32",
            g,
            bl,
            a.ptr(img.as_ptr()).ptr(out.as_mut_ptr()),
        );
        cpu::patchify::patchify_ref(b, c, h, w, p, &img, &mut want);
        assert_close("patchify", &out, &want, 0.0, 0.0);
        let mut back = vec![0f32; n];
        let mut a = EmuArgs::new();
        dims(&mut a);
        run(
            "unpatchify_f32",
            g,
            bl,
            a.ptr(out.as_ptr()).ptr(back.as_mut_ptr()),
        );
        assert_close("unpatchify(patchify(x))", &back, &img, 0.0, 0.0);
        let (ib, mut ob) = (to_bf16(&img), vec![0u16; n]);
        let mut a = EmuArgs::new();
        dims(&mut a);
        run(
            "patchify_bf16",
            g,
            bl,
            a.ptr(ib.as_ptr()).ptr(ob.as_mut_ptr()),
        );
        assert_eq!(ob, to_bf16(&want), "patchify_bf16 is a pure copy");
        let mut backb = vec![0u16; n];
        let mut a = EmuArgs::new();
        dims(&mut a);
        run(
            "unpatchify_bf16",
            g,
            bl,
            a.ptr(ob.as_ptr()).ptr(backb.as_mut_ptr()),
        );
        assert_eq!(backb, ib, "unpatchify_bf16(patchify_bf16(x)) == x");
    }
}

#[test]
fn emu_gather_and_scatter_add_with_repeated_indices() {
    let (b, n, d, k) = (2usize, 7usize, 37usize, 9usize);
    let x = data(b * n * d, 21, 1.0);
    // Repeats within a batch item, the first and last row, and a different set per batch item.
    let index: Vec<usize> = vec![0, 6, 3, 3, 3, 1, 6, 0, 2, 5, 5, 4, 0, 1, 1, 6, 2, 2];
    let idx32: Vec<i32> = index.iter().map(|&i| i as i32).collect();
    let (g, bl) = stride_grid(b * k * d);
    // Every launch here takes (b, n, d, k, src, index, dst).
    let args = |src: *const u8, dst: *mut u8| {
        let mut a = EmuArgs::new();
        a.i32(b as i32)
            .i32(n as i32)
            .i32(d as i32)
            .i32(k as i32)
            .ptr(src)
            .ptr(idx32.as_ptr())
            .ptr(dst);
        a
    };
    let (mut out, mut want) = (vec![0f32; b * k * d], vec![0f32; b * k * d]);
    run(
        "gather_rows_f32",
        g,
        bl,
        &mut args(x.as_ptr().cast(), out.as_mut_ptr().cast()),
    );
    cpu::gather::gather_rows_ref(b, n, d, k, &x, &index, &mut want);
    assert_close("gather_rows", &out, &want, 0.0, 0.0);
    let (xb, mut outb) = (to_bf16(&x), vec![0u16; b * k * d]);
    run(
        "gather_rows_bf16",
        g,
        bl,
        &mut args(xb.as_ptr().cast(), outb.as_mut_ptr().cast()),
    );
    assert_eq!(outb, to_bf16(&want), "gather_rows_bf16 is a pure copy");

    let dout = data(b * k * d, 22, 1.0);
    let (mut dx, mut r_dx) = (vec![0f32; b * n * d], vec![f32::NAN; b * n * d]);
    run(
        "scatter_add_rows_f32",
        g,
        bl,
        &mut args(dout.as_ptr().cast(), dx.as_mut_ptr().cast()),
    );
    cpu::gather::scatter_add_rows_ref(b, n, d, k, &dout, &index, &mut r_dx);
    assert_close("scatter_add_rows", &dx, &r_dx, 1e-6, 1e-6);

    let doutb = to_bf16(&dout);
    let mut dxb = vec![0f32; b * n * d];
    run(
        "scatter_add_rows_bf16",
        g,
        bl,
        &mut args(doutb.as_ptr().cast(), dxb.as_mut_ptr().cast()),
    );
    cpu::gather::scatter_add_rows_ref(b, n, d, k, &from_bf16(&doutb), &index, &mut r_dx);
    assert_close("scatter_add_rows_bf16", &dxb, &r_dx, 1e-6, 1e-6);
}

#[test]
fn emu_rejects_full_mask_shuffle_in_a_partial_warp() {
    // A 48-thread block has a 16-lane second warp; the warp-per-row kernels shuffle with the full
    // mask, which on hardware reads undefined registers. The emulator must refuse, not guess.
    let (rows, dim) = (8usize, 16usize);
    let x = data(rows * dim, 23, 1.0);
    let mut out = vec![0f32; rows * dim];
    let err = run_err(
        "softmax_fwd_f32",
        (1, 1, 1),
        (48, 1, 1),
        EmuArgs::new()
            .i32(rows as i32)
            .i32(dim as i32)
            .ptr(x.as_ptr())
            .ptr(out.as_mut_ptr()),
    );
    assert!(err.contains("do not exist"), "unexpected report: {err}");
}

#[test]
fn emu_rejects_wrong_argument_count_and_unknown_kernels() {
    let err = run_err("fill_f32", (1, 1, 1), (32, 1, 1), EmuArgs::new().i64(1));
    assert!(err.contains("expected 3 arguments"), "{err}");
    let err = run_err("no_such_kernel", (1, 1, 1), (32, 1, 1), &mut EmuArgs::new());
    assert!(err.contains("unknown kernel"), "{err}");
}
