//! Rung 2 for the losses and the optimizer: smooth-L1 and MSE (partial sums, the one-block
//! reduction, backward), AdamW and EMA run on the CPU through the emulation shim (fiber mode) and
//! compared with the Rust CPU reference, in f32 and bf16 storage.

#[path = "emu_util.rs"]
mod util;

use jepa_kernels::cpu;
use jepa_kernels::cuda::emu::EmuArgs;
use util::*;

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

/// The bf16 instances of the MSE and smooth-L1 backward and of the MSE partial sums: inputs
/// rounded once, so the partial sums match the f32 reference to summation order and the
/// gradients to their final rounding.
#[test]
fn emu_losses_bf16_match_reference() {
    for n in [1usize, 77, 400] {
        let (z, h) = (round_bf16(&data(n, 50, 2.0)), round_bf16(&data(n, 51, 2.0)));
        let (zb, hb) = (to_bf16(&z), to_bf16(&h));
        let (g, bl) = stride_grid(n);
        let mut partial = vec![f32::NAN; g.0 as usize];
        run(
            "mse_partial_bf16",
            g,
            bl,
            EmuArgs::new()
                .i64(n as i64)
                .ptr(zb.as_ptr())
                .ptr(hb.as_ptr())
                .ptr(partial.as_mut_ptr()),
        );
        let total: f32 = partial.iter().sum::<f32>() / n as f32;
        let want = cpu::loss::mse_fwd_ref(&z, &h);
        assert_close(&format!("mse_bf16 n {n}"), &[total], &[want], 1e-6, 1e-5);

        let (mut dzb, mut r_dz) = (vec![0u16; n], vec![0f32; n]);
        run(
            "mse_bwd_bf16",
            g,
            bl,
            EmuArgs::new()
                .i64(n as i64)
                .ptr(zb.as_ptr())
                .ptr(hb.as_ptr())
                .f32(1.5)
                .ptr(dzb.as_mut_ptr()),
        );
        cpu::loss::mse_bwd_ref(&z, &h, 1.5, &mut r_dz);
        assert_close(
            &format!("mse_bwd_bf16 n {n}"),
            &from_bf16(&dzb),
            &r_dz,
            BF16_TOL.0,
            BF16_TOL.1,
        );

        for beta in [0.0f32, 1.0] {
            run(
                "smooth_l1_bwd_bf16",
                g,
                bl,
                EmuArgs::new()
                    .i64(n as i64)
                    .ptr(zb.as_ptr())
                    .ptr(hb.as_ptr())
                    .f32(beta)
                    .f32(0.7)
                    .ptr(dzb.as_mut_ptr()),
            );
            cpu::loss::smooth_l1_bwd_ref(&z, &h, beta, 0.7, &mut r_dz);
            assert_close(
                &format!("smooth_l1_bwd_bf16 n {n} beta {beta}"),
                &from_bf16(&dzb),
                &r_dz,
                BF16_TOL.0,
                BF16_TOL.1,
            );
        }
    }
}
