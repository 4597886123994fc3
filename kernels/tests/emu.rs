//! Rung 2: every pointwise, row, loss, optimizer and relayout kernel run on the CPU through the
//! emulation shim (fiber mode) and compared with the Rust CPU reference on awkward shapes
//! (sizes not a multiple of the block or warp, one row, one element, repeated indices, bf16).
//! Attention and VICReg live in `emu_attention.rs`.

#[path = "emu_util.rs"]
mod util;

use jepa_kernels::cpu;
use jepa_kernels::cuda::emu::{kernel_names, EmuArgs};
use jepa_kernels::cuda::registry::KERNEL_FILES;
use util::*;

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

#[test]
fn emu_gelu_matches_reference() {
    for n in [1usize, 100, 300] {
        let x = data(n, 3, 4.0);
        let dout = data(n, 4, 1.0);
        let (g, bl) = stride_grid(n);
        let (mut out, mut want) = (vec![0f32; n], vec![0f32; n]);
        run(
            "gelu_fwd_f32",
            g,
            bl,
            EmuArgs::new()
                .i64(n as i64)
                .ptr(x.as_ptr())
                .ptr(out.as_mut_ptr()),
        );
        cpu::gelu::gelu_fwd_ref(&x, &mut want);
        assert_close("gelu_fwd_f32", &out, &want, F32_TOL.0, F32_TOL.1);
        run(
            "gelu_bwd_f32",
            g,
            bl,
            EmuArgs::new()
                .i64(n as i64)
                .ptr(x.as_ptr())
                .ptr(dout.as_ptr())
                .ptr(out.as_mut_ptr()),
        );
        cpu::gelu::gelu_bwd_ref(&x, &dout, &mut want);
        assert_close("gelu_bwd_f32", &out, &want, F32_TOL.0, F32_TOL.1);

        let xb = to_bf16(&x);
        let mut ob = vec![0u16; n];
        run(
            "gelu_fwd_bf16",
            g,
            bl,
            EmuArgs::new()
                .i64(n as i64)
                .ptr(xb.as_ptr())
                .ptr(ob.as_mut_ptr()),
        );
        cpu::gelu::gelu_fwd_ref(&from_bf16(&xb), &mut want);
        assert_close(
            "gelu_fwd_bf16",
            &from_bf16(&ob),
            &want,
            BF16_TOL.0,
            BF16_TOL.1,
        );
    }
}

fn layernorm_case(rows: usize, dim: usize, affine: bool) {
    let eps = 1e-5;
    let x: Vec<f32> = data(rows * dim, 5, 2.0).iter().map(|v| v + 3.0).collect(); // large mean
    let w = data(dim, 6, 1.0);
    let bias = data(dim, 7, 1.0);
    let dout = data(rows * dim, 8, 1.0);
    let (wp, bp) = if affine {
        (w.as_ptr(), bias.as_ptr())
    } else {
        (std::ptr::null(), std::ptr::null())
    };
    let (wo, bo) = if affine {
        (Some(&w[..]), Some(&bias[..]))
    } else {
        (None, None)
    };
    let (mut out, mut mean, mut rstd) =
        (vec![0f32; rows * dim], vec![0f32; rows], vec![0f32; rows]);
    let (g, bl) = row_grid(rows);
    let ctx = format!("layernorm rows {rows} dim {dim} affine {affine}");
    run(
        "layernorm_fwd_f32",
        g,
        bl,
        EmuArgs::new()
            .i32(rows as i32)
            .i32(dim as i32)
            .f32(eps)
            .ptr(x.as_ptr())
            .ptr(wp)
            .ptr(bp)
            .ptr(out.as_mut_ptr())
            .ptr(mean.as_mut_ptr())
            .ptr(rstd.as_mut_ptr()),
    );
    let (mut r_out, mut r_mean, mut r_rstd) =
        (vec![0f32; rows * dim], vec![0f32; rows], vec![0f32; rows]);
    cpu::layernorm::layernorm_fwd_ref(
        rows,
        dim,
        eps,
        &x,
        wo,
        bo,
        &mut r_out,
        &mut r_mean,
        &mut r_rstd,
    );
    assert_close(&format!("{ctx}: out"), &out, &r_out, F32_TOL.0, F32_TOL.1);
    assert_close(
        &format!("{ctx}: mean"),
        &mean,
        &r_mean,
        F32_TOL.0,
        F32_TOL.1,
    );
    assert_close(
        &format!("{ctx}: rstd"),
        &rstd,
        &r_rstd,
        F32_TOL.0,
        F32_TOL.1,
    );

    let mut dx = vec![0f32; rows * dim];
    run(
        "layernorm_bwd_dx_f32",
        g,
        bl,
        EmuArgs::new()
            .i32(rows as i32)
            .i32(dim as i32)
            .ptr(x.as_ptr())
            .ptr(wp)
            .ptr(r_mean.as_ptr())
            .ptr(r_rstd.as_ptr())
            .ptr(dout.as_ptr())
            .ptr(dx.as_mut_ptr()),
    );
    let (mut dw, mut db) = (vec![0f32; dim], vec![0f32; dim]);
    run(
        "layernorm_bwd_params_f32",
        (dim.div_ceil(32) as u32, 1, 1),
        (32, 8, 1),
        EmuArgs::new()
            .i32(rows as i32)
            .i32(dim as i32)
            .ptr(x.as_ptr())
            .ptr(r_mean.as_ptr())
            .ptr(r_rstd.as_ptr())
            .ptr(dout.as_ptr())
            .ptr(dw.as_mut_ptr())
            .ptr(db.as_mut_ptr()),
    );
    let (mut r_dx, mut r_dw, mut r_db) = (vec![0f32; rows * dim], vec![0f32; dim], vec![0f32; dim]);
    cpu::layernorm::layernorm_bwd_ref(
        rows,
        dim,
        &x,
        wo,
        &r_mean,
        &r_rstd,
        &dout,
        &mut r_dx,
        Some(&mut r_dw),
        Some(&mut r_db),
    );
    assert_close(&format!("{ctx}: dx"), &dx, &r_dx, 1e-4, 1e-3);
    assert_close(&format!("{ctx}: dweight"), &dw, &r_dw, 1e-4, 1e-4);
    assert_close(&format!("{ctx}: dbias"), &db, &r_db, 1e-4, 1e-4);
}

#[test]
fn emu_layernorm_matches_reference() {
    for (rows, dim, affine) in [(1, 1, true), (1, 33, false), (5, 37, true), (9, 70, false)] {
        layernorm_case(rows, dim, affine);
    }
    // bf16 storage: the reference sees the rounded input.
    let (rows, dim) = (3, 45);
    let x = round_bf16(&data(rows * dim, 9, 2.0));
    let xb = to_bf16(&x);
    let mut ob = vec![0u16; rows * dim];
    let (mut mean, mut rstd) = (vec![0f32; rows], vec![0f32; rows]);
    let (g, bl) = row_grid(rows);
    run(
        "layernorm_fwd_bf16",
        g,
        bl,
        EmuArgs::new()
            .i32(rows as i32)
            .i32(dim as i32)
            .f32(1e-5)
            .ptr(xb.as_ptr())
            .ptr(std::ptr::null::<f32>())
            .ptr(std::ptr::null::<f32>())
            .ptr(ob.as_mut_ptr())
            .ptr(mean.as_mut_ptr())
            .ptr(rstd.as_mut_ptr()),
    );
    let (mut r_out, mut r_mean, mut r_rstd) =
        (vec![0f32; rows * dim], vec![0f32; rows], vec![0f32; rows]);
    cpu::layernorm::layernorm_fwd_ref(
        rows,
        dim,
        1e-5,
        &x,
        None,
        None,
        &mut r_out,
        &mut r_mean,
        &mut r_rstd,
    );
    assert_close(
        "layernorm_fwd_bf16",
        &from_bf16(&ob),
        &r_out,
        BF16_TOL.0,
        BF16_TOL.1,
    );
}

#[test]
fn emu_softmax_matches_reference() {
    for (rows, dim) in [(1usize, 1usize), (3, 31), (6, 100)] {
        let x = data(rows * dim, 10, 8.0);
        let dout = data(rows * dim, 11, 1.0);
        let (g, bl) = row_grid(rows);
        let (mut out, mut r_out) = (vec![0f32; rows * dim], vec![0f32; rows * dim]);
        run(
            "softmax_fwd_f32",
            g,
            bl,
            EmuArgs::new()
                .i32(rows as i32)
                .i32(dim as i32)
                .ptr(x.as_ptr())
                .ptr(out.as_mut_ptr()),
        );
        cpu::softmax::softmax_fwd_ref(rows, dim, &x, &mut r_out);
        assert_close("softmax_fwd_f32", &out, &r_out, F32_TOL.0, F32_TOL.1);
        let (mut dx, mut r_dx) = (vec![0f32; rows * dim], vec![0f32; rows * dim]);
        run(
            "softmax_bwd_f32",
            g,
            bl,
            EmuArgs::new()
                .i32(rows as i32)
                .i32(dim as i32)
                .ptr(r_out.as_ptr())
                .ptr(dout.as_ptr())
                .ptr(dx.as_mut_ptr()),
        );
        cpu::softmax::softmax_bwd_ref(rows, dim, &r_out, &dout, &mut r_dx);
        assert_close("softmax_bwd_f32", &dx, &r_dx, F32_TOL.0, F32_TOL.1);
    }
}

/// Partial sums with a few 64-thread blocks, then the one-block reduction, as the wrapper does.
fn mean_loss(kernel: &str, n: usize, z: &[f32], h: &[f32], beta: Option<f32>) -> f32 {
    let (g, bl) = stride_grid(n);
    let mut partial = vec![f32::NAN; g.0 as usize];
    let mut a = EmuArgs::new();
    a.i64(n as i64).ptr(z.as_ptr()).ptr(h.as_ptr());
    if let Some(b) = beta {
        a.f32(b);
    }
    run(kernel, g, bl, a.ptr(partial.as_mut_ptr()));
    let mut out = [f32::NAN];
    run(
        "reduce_sum_scaled_f32",
        (1, 1, 1),
        (96, 1, 1),
        EmuArgs::new()
            .i32(g.0 as i32)
            .ptr(partial.as_ptr())
            .f32(1.0 / n as f32)
            .ptr(out.as_mut_ptr()),
    );
    out[0]
}

#[test]
fn emu_losses_match_reference() {
    for n in [1usize, 65, 400] {
        let z = data(n, 12, 2.0);
        let h = data(n, 13, 2.0);
        for beta in [0.0f32, 0.5, 1.0] {
            let got = mean_loss("smooth_l1_partial_f32", n, &z, &h, Some(beta));
            let want = cpu::loss::smooth_l1_fwd_ref(&z, &h, beta);
            assert_close(
                &format!("smooth_l1 n {n} beta {beta}"),
                &[got],
                &[want],
                1e-6,
                1e-5,
            );
            let (g, bl) = stride_grid(n);
            let (mut dz, mut r_dz) = (vec![0f32; n], vec![0f32; n]);
            run(
                "smooth_l1_bwd_f32",
                g,
                bl,
                EmuArgs::new()
                    .i64(n as i64)
                    .ptr(z.as_ptr())
                    .ptr(h.as_ptr())
                    .f32(beta)
                    .f32(0.7)
                    .ptr(dz.as_mut_ptr()),
            );
            cpu::loss::smooth_l1_bwd_ref(&z, &h, beta, 0.7, &mut r_dz);
            assert_close(
                &format!("smooth_l1_bwd n {n} beta {beta}"),
                &dz,
                &r_dz,
                1e-7,
                1e-5,
            );
        }
        let got = mean_loss("mse_partial_f32", n, &z, &h, None);
        assert_close(
            &format!("mse n {n}"),
            &[got],
            &[cpu::loss::mse_fwd_ref(&z, &h)],
            1e-6,
            1e-5,
        );
        let (g, bl) = stride_grid(n);
        let (mut dz, mut r_dz) = (vec![0f32; n], vec![0f32; n]);
        run(
            "mse_bwd_f32",
            g,
            bl,
            EmuArgs::new()
                .i64(n as i64)
                .ptr(z.as_ptr())
                .ptr(h.as_ptr())
                .f32(1.5)
                .ptr(dz.as_mut_ptr()),
        );
        cpu::loss::mse_bwd_ref(&z, &h, 1.5, &mut r_dz);
        assert_close(&format!("mse_bwd n {n}"), &dz, &r_dz, 1e-7, 1e-5);
    }
    let n = 77;
    let (z, h) = (round_bf16(&data(n, 14, 2.0)), round_bf16(&data(n, 15, 2.0)));
    let (zb, hb) = (to_bf16(&z), to_bf16(&h));
    let (g, bl) = stride_grid(n);
    let mut partial = vec![f32::NAN; g.0 as usize];
    run(
        "smooth_l1_partial_bf16",
        g,
        bl,
        EmuArgs::new()
            .i64(n as i64)
            .ptr(zb.as_ptr())
            .ptr(hb.as_ptr())
            .f32(1.0)
            .ptr(partial.as_mut_ptr()),
    );
    let total: f32 = partial.iter().sum::<f32>() / n as f32;
    assert_close(
        "smooth_l1_bf16",
        &[total],
        &[cpu::loss::smooth_l1_fwd_ref(&z, &h, 1.0)],
        1e-6,
        1e-5,
    );
}

#[test]
fn emu_adamw_and_ema_match_reference() {
    let n = 131;
    let cfg = cpu::adamw::AdamW {
        lr: 1e-2,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.05,
    };
    let (mut p, g0) = (data(n, 16, 1.0), data(n, 17, 0.1));
    let (mut m, mut v) = (vec![0f32; n], vec![0f32; n]);
    let (mut rp, mut rm, mut rv) = (p.clone(), m.clone(), v.clone());
    let (g, bl) = stride_grid(n);
    for step in 1..=3u64 {
        let grad: Vec<f32> = g0.iter().map(|x| x * step as f32).collect();
        let bc1 = (1.0 - (cfg.beta1 as f64).powi(step as i32)) as f32;
        let bc2 = (1.0 - (cfg.beta2 as f64).powi(step as i32)) as f32;
        run(
            "adamw_step_f32",
            g,
            bl,
            EmuArgs::new()
                .i64(n as i64)
                .f32(cfg.lr)
                .f32(cfg.beta1)
                .f32(cfg.beta2)
                .f32(cfg.eps)
                .f32(cfg.weight_decay)
                .f32(bc1)
                .f32(bc2)
                .ptr(p.as_mut_ptr())
                .ptr(grad.as_ptr())
                .ptr(m.as_mut_ptr())
                .ptr(v.as_mut_ptr()),
        );
        cpu::adamw::adamw_step_ref(cfg, step, &mut rp, &grad, &mut rm, &mut rv);
    }
    assert_close("adamw param", &p, &rp, 1e-6, 1e-5);
    assert_close("adamw m", &m, &rm, 1e-7, 1e-5);
    assert_close("adamw v", &v, &rv, 1e-9, 1e-5);

    let (mut t, online) = (data(n, 18, 1.0), data(n, 19, 1.0));
    let mut rt = t.clone();
    run(
        "ema_update_f32",
        g,
        bl,
        EmuArgs::new()
            .i64(n as i64)
            .f32(0.996)
            .ptr(t.as_mut_ptr())
            .ptr(online.as_ptr()),
    );
    cpu::ema::ema_update_ref(0.996, &mut rt, &online);
    assert_close("ema", &t, &rt, 1e-7, 1e-6);
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
    let (mut out, mut want) = (vec![0f32; b * k * d], vec![0f32; b * k * d]);
    run(
        "gather_rows_f32",
        g,
        bl,
        EmuArgs::new()
            .i32(b as i32)
            .i32(n as i32)
            .i32(d as i32)
            .i32(k as i32)
            .ptr(x.as_ptr())
            .ptr(idx32.as_ptr())
            .ptr(out.as_mut_ptr()),
    );
    cpu::gather::gather_rows_ref(b, n, d, k, &x, &index, &mut want);
    assert_close("gather_rows", &out, &want, 0.0, 0.0);

    let dout = data(b * k * d, 22, 1.0);
    let (mut dx, mut r_dx) = (vec![0f32; b * n * d], vec![f32::NAN; b * n * d]);
    run(
        "scatter_add_rows_f32",
        g,
        bl,
        EmuArgs::new()
            .i32(b as i32)
            .i32(n as i32)
            .i32(d as i32)
            .i32(k as i32)
            .ptr(dout.as_ptr())
            .ptr(idx32.as_ptr())
            .ptr(dx.as_mut_ptr()),
    );
    cpu::gather::scatter_add_rows_ref(b, n, d, k, &dout, &index, &mut r_dx);
    assert_close("scatter_add_rows", &dx, &r_dx, 1e-6, 1e-6);

    let doutb = to_bf16(&dout);
    let mut dxb = vec![0f32; b * n * d];
    run(
        "scatter_add_rows_bf16",
        g,
        bl,
        EmuArgs::new()
            .i32(b as i32)
            .i32(n as i32)
            .i32(d as i32)
            .i32(k as i32)
            .ptr(doutb.as_ptr())
            .ptr(idx32.as_ptr())
            .ptr(dxb.as_mut_ptr()),
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
