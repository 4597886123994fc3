//! Rung 2 for the row kernels: GELU, layernorm and softmax run on the CPU through the emulation
//! shim (fiber mode) and compared with the Rust CPU reference on awkward shapes (one row, one
//! element, dims not a multiple of the warp), in f32 and bf16 storage, forward and backward.

#[path = "emu_util.rs"]
mod util;

use jepa_kernels::cpu;
use jepa_kernels::cuda::emu::EmuArgs;
use util::*;
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

/// Launches a `layernorm_bwd_params_*` kernel as the wrapper does: one 32×8 block per 32
/// columns. `x` and `dout` are in the kernel's dtype; mean, rstd and the outputs are f32.
fn layernorm_bwd_params(
    kernel: &str,
    (rows, dim): (usize, usize),
    (x, dout): (*const u8, *const u8),
    (mean, rstd): (&[f32], &[f32]),
    (dw, db): (&mut [f32], &mut [f32]),
) {
    run(
        kernel,
        (dim.div_ceil(32) as u32, 1, 1),
        (32, 8, 1),
        EmuArgs::new()
            .i32(rows as i32)
            .i32(dim as i32)
            .ptr(x)
            .ptr(mean.as_ptr())
            .ptr(rstd.as_ptr())
            .ptr(dout)
            .ptr(dw.as_mut_ptr())
            .ptr(db.as_mut_ptr()),
    );
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
    layernorm_bwd_params(
        "layernorm_bwd_params_f32",
        (rows, dim),
        (x.as_ptr().cast(), dout.as_ptr().cast()),
        (&r_mean, &r_rstd),
        (&mut dw, &mut db),
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

/// The bf16 backward kernels (and softmax forward): inputs rounded once, the reference run on
/// the rounded values in f32, so the only error left is the kernel's final rounding (outputs
/// stored as bf16) or f32 summation order (layernorm's f32 parameter gradients).
#[test]
fn emu_row_kernels_bf16_match_reference() {
    let n = 300;
    let (x, dout) = (round_bf16(&data(n, 40, 4.0)), round_bf16(&data(n, 41, 1.0)));
    let (xb, doutb) = (to_bf16(&x), to_bf16(&dout));
    let (g, bl) = stride_grid(n);
    let (mut ob, mut want) = (vec![0u16; n], vec![0f32; n]);
    run(
        "gelu_bwd_bf16",
        g,
        bl,
        EmuArgs::new()
            .i64(n as i64)
            .ptr(xb.as_ptr())
            .ptr(doutb.as_ptr())
            .ptr(ob.as_mut_ptr()),
    );
    cpu::gelu::gelu_bwd_ref(&x, &dout, &mut want);
    assert_close(
        "gelu_bwd_bf16",
        &from_bf16(&ob),
        &want,
        BF16_TOL.0,
        BF16_TOL.1,
    );

    for (rows, dim) in [(1usize, 1usize), (3, 31), (5, 100)] {
        let len = rows * dim;
        let x = round_bf16(&data(len, 42, 8.0));
        let dout = round_bf16(&data(len, 43, 1.0));
        let (xb, doutb) = (to_bf16(&x), to_bf16(&dout));
        let (g, bl) = row_grid(rows);
        let mut ob = vec![0u16; len];
        run(
            "softmax_fwd_bf16",
            g,
            bl,
            EmuArgs::new()
                .i32(rows as i32)
                .i32(dim as i32)
                .ptr(xb.as_ptr())
                .ptr(ob.as_mut_ptr()),
        );
        let mut r_out = vec![0f32; len];
        cpu::softmax::softmax_fwd_ref(rows, dim, &x, &mut r_out);
        let ctx = format!("softmax rows {rows} dim {dim}");
        assert_close(
            &format!("{ctx}: fwd bf16"),
            &from_bf16(&ob),
            &r_out,
            BF16_TOL.0,
            BF16_TOL.1,
        );
        // Backward from the stored (rounded) probabilities, as the autograd does.
        let p = from_bf16(&ob);
        let mut dxb = vec![0u16; len];
        run(
            "softmax_bwd_bf16",
            g,
            bl,
            EmuArgs::new()
                .i32(rows as i32)
                .i32(dim as i32)
                .ptr(ob.as_ptr())
                .ptr(doutb.as_ptr())
                .ptr(dxb.as_mut_ptr()),
        );
        let mut r_dx = vec![0f32; len];
        cpu::softmax::softmax_bwd_ref(rows, dim, &p, &dout, &mut r_dx);
        assert_close(
            &format!("{ctx}: bwd bf16"),
            &from_bf16(&dxb),
            &r_dx,
            BF16_TOL.0,
            BF16_TOL.1,
        );
    }

    for (rows, dim, affine) in [(1usize, 1usize, true), (3, 45, false), (6, 70, true)] {
        layernorm_bwd_bf16_case(rows, dim, affine);
    }
}

fn layernorm_bwd_bf16_case(rows: usize, dim: usize, affine: bool) {
    let len = rows * dim;
    let x: Vec<f32> = round_bf16(
        &data(len, 44, 2.0)
            .iter()
            .map(|v| v + 3.0)
            .collect::<Vec<_>>(),
    );
    let dout = round_bf16(&data(len, 45, 1.0));
    let w = data(dim, 46, 1.0);
    let (xb, doutb) = (to_bf16(&x), to_bf16(&dout));
    let (mut mean, mut rstd, mut r_out) = (vec![0f32; rows], vec![0f32; rows], vec![0f32; len]);
    cpu::layernorm::layernorm_fwd_ref(
        rows, dim, 1e-5, &x, None, None, &mut r_out, &mut mean, &mut rstd,
    );
    let wp = if affine { w.as_ptr() } else { std::ptr::null() };
    let (g, bl) = row_grid(rows);
    let mut dxb = vec![0u16; len];
    run(
        "layernorm_bwd_dx_bf16",
        g,
        bl,
        EmuArgs::new()
            .i32(rows as i32)
            .i32(dim as i32)
            .ptr(xb.as_ptr())
            .ptr(wp)
            .ptr(mean.as_ptr())
            .ptr(rstd.as_ptr())
            .ptr(doutb.as_ptr())
            .ptr(dxb.as_mut_ptr()),
    );
    let (mut dw, mut db) = (vec![f32::NAN; dim], vec![f32::NAN; dim]);
    layernorm_bwd_params(
        "layernorm_bwd_params_bf16",
        (rows, dim),
        (xb.as_ptr().cast(), doutb.as_ptr().cast()),
        (&mean, &rstd),
        (&mut dw, &mut db),
    );
    let (mut r_dx, mut r_dw, mut r_db) = (vec![0f32; len], vec![0f32; dim], vec![0f32; dim]);
    let wo = if affine { Some(&w[..]) } else { None };
    cpu::layernorm::layernorm_bwd_ref(
        rows,
        dim,
        &x,
        wo,
        &mean,
        &rstd,
        &dout,
        &mut r_dx,
        Some(&mut r_dw),
        Some(&mut r_db),
    );
    let ctx = format!("layernorm bf16 rows {rows} dim {dim} affine {affine}");
    assert_close(
        &format!("{ctx}: dx"),
        &from_bf16(&dxb),
        &r_dx,
        BF16_TOL.0,
        BF16_TOL.1,
    );
    assert_close(&format!("{ctx}: dweight"), &dw, &r_dw, 1e-4, 1e-4);
    assert_close(&format!("{ctx}: dbias"), &db, &r_db, 1e-4, 1e-4);
}
