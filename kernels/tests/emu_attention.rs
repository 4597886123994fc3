//! Rung 2 for the two tiled families: flash attention (forward, δ, dk/dv, dq) for every head dim
//! and VICReg (column stats, centring, Gram tiles with the fused square sum, covariance
//! gradient), run through the emulation shim and compared with the Rust references. Sequence
//! lengths are chosen around the tile sizes (1, below 16, between tiles, above 32).

#[path = "emu_util.rs"]
mod util;

use jepa_kernels::cpu;
use jepa_kernels::cpu::attention::AttnShape;
use jepa_kernels::cuda::emu::EmuArgs;
use util::*;

struct AttnOut {
    out: Vec<f32>,
    lse: Vec<f32>,
    dq: Vec<f32>,
    dk: Vec<f32>,
    dv: Vec<f32>,
}

/// Runs the four attention kernels for dtype `dt` on f32 data converted by `enc`/`dec`; the
/// backward consumes the reference's out/lse so each kernel is checked on its own.
#[allow(clippy::too_many_arguments)]
fn run_attention<T: Copy + Default>(
    dt: &str,
    s: AttnShape,
    scale: f32,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    dout: &[f32],
    r_out: &[f32],
    r_lse: &[f32],
    enc: fn(&[f32]) -> Vec<T>,
    dec: fn(&[T]) -> Vec<f32>,
) -> AttnOut {
    let (bh, n, d) = ((s.b * s.h) as u32, s.n, s.d);
    let len = s.b * s.h * n * d;
    let (qe, ke, ve, de, oe) = (enc(q), enc(k), enc(v), enc(dout), enc(r_out));
    let mut out = vec![T::default(); len];
    let mut lse = vec![f32::NAN; s.b * s.h * n];
    run(
        &format!("attention_fwd_d{d}_{dt}"),
        (n.div_ceil(16) as u32, bh, 1),
        (128, 1, 1),
        EmuArgs::new()
            .i32(n as i32)
            .f32(scale)
            .ptr(qe.as_ptr())
            .ptr(ke.as_ptr())
            .ptr(ve.as_ptr())
            .ptr(out.as_mut_ptr())
            .ptr(lse.as_mut_ptr()),
    );

    let rows = s.b * s.h * n;
    let mut delta = vec![f32::NAN; rows];
    let (g, bl) = row_grid(rows);
    run(
        &format!("attention_bwd_delta_{dt}"),
        g,
        bl,
        EmuArgs::new()
            .i64(rows as i64)
            .i32(d as i32)
            .ptr(oe.as_ptr())
            .ptr(de.as_ptr())
            .ptr(delta.as_mut_ptr()),
    );
    let per_block = if d == 128 { 8 } else { 16 };
    let (mut dq, mut dk, mut dv) = (
        vec![T::default(); len],
        vec![T::default(); len],
        vec![T::default(); len],
    );
    run(
        &format!("attention_bwd_dkdv_d{d}_{dt}"),
        (n.div_ceil(per_block) as u32, bh, 1),
        (128, 1, 1),
        EmuArgs::new()
            .i32(n as i32)
            .f32(scale)
            .ptr(qe.as_ptr())
            .ptr(ke.as_ptr())
            .ptr(ve.as_ptr())
            .ptr(r_lse.as_ptr())
            .ptr(delta.as_ptr())
            .ptr(de.as_ptr())
            .ptr(dk.as_mut_ptr())
            .ptr(dv.as_mut_ptr()),
    );
    run(
        &format!("attention_bwd_dq_d{d}_{dt}"),
        (n.div_ceil(per_block) as u32, bh, 1),
        (128, 1, 1),
        EmuArgs::new()
            .i32(n as i32)
            .f32(scale)
            .ptr(qe.as_ptr())
            .ptr(ke.as_ptr())
            .ptr(ve.as_ptr())
            .ptr(r_lse.as_ptr())
            .ptr(delta.as_ptr())
            .ptr(de.as_ptr())
            .ptr(dq.as_mut_ptr()),
    );
    AttnOut {
        out: dec(&out),
        lse,
        dq: dec(&dq),
        dk: dec(&dk),
        dv: dec(&dv),
    }
}

fn attention_case(s: AttnShape, bf16: bool) {
    let len = s.b * s.h * s.n * s.d;
    let scale = 1.0 / (s.d as f32).sqrt();
    let prep = |x: Vec<f32>| if bf16 { round_bf16(&x) } else { x };
    let (q, k, v) = (
        prep(data(len, 30, 1.5)),
        prep(data(len, 31, 1.5)),
        prep(data(len, 32, 1.0)),
    );
    let dout = prep(data(len, 33, 1.0));
    let (mut r_out, mut r_lse) = (vec![0f32; len], vec![0f32; s.b * s.h * s.n]);
    cpu::attention::attention_fwd_ref(s, scale, &q, &k, &v, &mut r_out, &mut r_lse);
    let r_out = prep(r_out);
    let (mut r_dq, mut r_dk, mut r_dv) = (vec![0f32; len], vec![0f32; len], vec![0f32; len]);
    cpu::attention::attention_bwd_ref(
        s, scale, &q, &k, &v, &r_out, &r_lse, &dout, &mut r_dq, &mut r_dk, &mut r_dv,
    );

    let (got, (atol, rtol)) = if bf16 {
        (
            run_attention(
                "bf16", s, scale, &q, &k, &v, &dout, &r_out, &r_lse, to_bf16, from_bf16,
            ),
            (2e-2, 2e-2),
        )
    } else {
        (
            run_attention(
                "f32",
                s,
                scale,
                &q,
                &k,
                &v,
                &dout,
                &r_out,
                &r_lse,
                |x| x.to_vec(),
                |x| x.to_vec(),
            ),
            (2e-5, 2e-4),
        )
    };
    let ctx = format!("attention {s:?} bf16 {bf16}");
    assert_close(&format!("{ctx}: out"), &got.out, &r_out, atol, rtol);
    assert_close(&format!("{ctx}: lse"), &got.lse, &r_lse, 1e-5, 1e-5);
    assert_close(&format!("{ctx}: dq"), &got.dq, &r_dq, atol, rtol);
    assert_close(&format!("{ctx}: dk"), &got.dk, &r_dk, atol, rtol);
    assert_close(&format!("{ctx}: dv"), &got.dv, &r_dv, atol, rtol);
}

#[test]
fn emu_attention_f32_every_head_dim() {
    for (b, h, n, d) in [
        (1, 1, 1, 32),
        (1, 2, 17, 32),
        (2, 1, 40, 64),
        (1, 1, 9, 64),
        (1, 2, 33, 128),
    ] {
        attention_case(AttnShape { b, h, n, d }, false);
    }
}

#[test]
fn emu_attention_bf16() {
    attention_case(
        AttnShape {
            b: 1,
            h: 2,
            n: 21,
            d: 64,
        },
        true,
    );
    attention_case(
        AttnShape {
            b: 1,
            h: 1,
            n: 5,
            d: 128,
        },
        true,
    );
}

fn vicreg_case(n: usize, d: usize) {
    let eps = 1e-4;
    // Mixed column scales so some std are below 1 (hinge active) and some above (inactive).
    let e: Vec<f32> = data(n * d, 40, 1.0)
        .iter()
        .enumerate()
        .map(|(i, x)| x * (0.5 + (i % d) as f32 * 0.1) + 0.3)
        .collect();
    let tiles = d.div_ceil(32) as u32;
    let (mut mean, mut std) = (vec![f32::NAN; d], vec![f32::NAN; d]);
    run(
        "vicreg_colstats_f32",
        (tiles, 1, 1),
        (32, 8, 1),
        EmuArgs::new()
            .i32(n as i32)
            .i32(d as i32)
            .f32(eps)
            .ptr(e.as_ptr())
            .ptr(mean.as_mut_ptr())
            .ptr(std.as_mut_ptr()),
    );
    let (mut ec, mut de_var) = (vec![f32::NAN; n * d], vec![f32::NAN; n * d]);
    let (g, bl) = stride_grid(n * d);
    run(
        "vicreg_center_f32",
        g,
        bl,
        EmuArgs::new()
            .i32(n as i32)
            .i32(d as i32)
            .ptr(e.as_ptr())
            .ptr(mean.as_ptr())
            .ptr(std.as_ptr())
            .ptr(ec.as_mut_ptr())
            .ptr(de_var.as_mut_ptr()),
    );
    let (mut coff, mut partial) = (
        vec![f32::NAN; d * d],
        vec![f32::NAN; (tiles * tiles) as usize],
    );
    run(
        "vicreg_gram_f32",
        (tiles, tiles, 1),
        (32, 8, 1),
        EmuArgs::new()
            .i32(n as i32)
            .i32(d as i32)
            .f32(1.0 / (n as f32 - 1.0))
            .ptr(ec.as_ptr())
            .ptr(coff.as_mut_ptr())
            .ptr(partial.as_mut_ptr()),
    );
    let mut losses = [f32::NAN; 2];
    run(
        "vicreg_finalize_f32",
        (1, 1, 1),
        (256, 1, 1),
        EmuArgs::new()
            .i32(d as i32)
            .i32((tiles * tiles) as i32)
            .ptr(std.as_ptr())
            .ptr(partial.as_ptr())
            .ptr(losses.as_mut_ptr()),
    );
    let mut de_cov = vec![f32::NAN; n * d];
    let scale = 4.0 / (d as f32 * (n as f32 - 1.0));
    run(
        "vicreg_cov_grad_f32",
        (tiles, n.div_ceil(32) as u32, 1),
        (32, 8, 1),
        EmuArgs::new()
            .i32(n as i32)
            .i32(d as i32)
            .f32(scale)
            .ptr(ec.as_ptr())
            .ptr(coff.as_ptr())
            .ptr(de_cov.as_mut_ptr()),
    );

    let (mut r_dvar, mut r_dcov) = (vec![0f32; n * d], vec![0f32; n * d]);
    let r = cpu::vicreg::vicreg_ref(n, d, &e, eps, Some(&mut r_dvar), Some(&mut r_dcov));
    let ctx = format!("vicreg n {n} d {d}");
    assert_close(
        &format!("{ctx}: var_loss"),
        &[losses[0]],
        &[r.var_loss],
        1e-6,
        1e-4,
    );
    assert_close(
        &format!("{ctx}: cov_loss"),
        &[losses[1]],
        &[r.cov_loss],
        1e-6,
        1e-4,
    );
    assert_close(&format!("{ctx}: de_var"), &de_var, &r_dvar, 1e-6, 1e-4);
    assert_close(&format!("{ctx}: de_cov"), &de_cov, &r_dcov, 1e-6, 1e-3);
}

#[test]
fn emu_vicreg_matches_reference() {
    for (n, d) in [(2, 1), (2, 5), (37, 40), (70, 33)] {
        vicreg_case(n, d);
    }
}
