//! Rung 5: the emulation-test cases at real sizes on a real GPU, through the public launch and
//! cuBLAS wrappers, compared with the Rust CPU references. Every test calls the probe first and,
//! without a usable GPU, prints `skipped: <reason>` and returns — unless `REQUIRE_GPU=1`, which
//! turns the skip into a failure (GPU hosts; see scripts/gpu-check.sh).

#[path = "emu_util.rs"]
mod util;

use std::sync::Arc;

use jepa_kernels::cpu;
use jepa_kernels::cpu::attention::AttnShape;
use jepa_kernels::cpu::gemm::Strides;
use jepa_kernels::cuda::blas::{gemm_bf16, gemm_f32, GemmShape};
use jepa_kernels::cuda::{launch, probe, CudaRuntime, CudaSlice};
use util::{assert_close, data, from_bf16, round_bf16, to_bf16};

fn gpu(test: &str) -> Option<Arc<CudaRuntime>> {
    match probe() {
        Ok(rt) => {
            println!("{test}: running on {rt:?}");
            Some(rt)
        }
        Err(reason) => {
            if std::env::var_os("REQUIRE_GPU").is_some_and(|v| v == "1") {
                panic!("{test}: REQUIRE_GPU=1 but no usable GPU: {reason}");
            }
            println!("skipped: {test}: {reason}");
            None
        }
    }
}

fn up<T: jepa_kernels::cuda::DeviceRepr + Copy>(rt: &CudaRuntime, x: &[T]) -> CudaSlice<T> {
    rt.stream().clone_htod(x).expect("htod")
}
fn down<T: jepa_kernels::cuda::DeviceRepr + Copy + Default>(
    rt: &CudaRuntime,
    x: &CudaSlice<T>,
) -> Vec<T> {
    rt.stream().clone_dtoh(x).expect("dtoh")
}

#[test]
fn gpu_probe_is_cached_and_never_panics() {
    let a = probe();
    let b = probe();
    match (&a, &b) {
        (Ok(x), Ok(y)) => assert!(Arc::ptr_eq(x, y), "probe must cache one runtime"),
        (Err(x), Err(y)) => {
            assert_eq!(x, y, "probe must cache its failure");
            assert!(!x.to_string().is_empty());
        }
        _ => panic!("probe changed its answer"),
    }
    let _ = gpu("gpu_probe_is_cached_and_never_panics");
}

#[test]
fn gpu_pointwise_and_optimizer() {
    let Some(rt) = gpu("gpu_pointwise_and_optimizer") else {
        return;
    };
    let n = (1 << 20) + 3;
    let (x, dy) = (data(n, 1, 4.0), data(n, 2, 1.0));
    let (dx_, ddy) = (up(&rt, &x), up(&rt, &dy));
    let mut out = rt.stream().alloc_zeros::<f32>(n).unwrap();
    let mut want = vec![0f32; n];
    launch::gelu_fwd(&rt, &dx_, &mut out).unwrap();
    cpu::gelu::gelu_fwd_ref(&x, &mut want);
    assert_close("gelu_fwd", &down(&rt, &out), &want, 1e-5, 1e-4);
    launch::gelu_bwd(&rt, &dx_, &ddy, &mut out).unwrap();
    cpu::gelu::gelu_bwd_ref(&x, &dy, &mut want);
    assert_close("gelu_bwd", &down(&rt, &out), &want, 1e-5, 1e-4);
    let mut y = up(&rt, &dy);
    launch::axpy(&rt, 0.5, &dx_, &mut y).unwrap();
    let w: Vec<f32> = x.iter().zip(&dy).map(|(a, b)| 0.5 * a + b).collect();
    assert_close("axpy", &down(&rt, &y), &w, 1e-6, 1e-6);

    let cfg = cpu::adamw::AdamW {
        lr: 1e-3,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.05,
    };
    let (mut p, mut m, mut v) = (
        up(&rt, &x),
        rt.stream().alloc_zeros::<f32>(n).unwrap(),
        rt.stream().alloc_zeros::<f32>(n).unwrap(),
    );
    let (mut rp, mut rm, mut rv) = (x.clone(), vec![0f32; n], vec![0f32; n]);
    for step in 1..=2 {
        launch::adamw_step(&rt, cfg, step, &mut p, &ddy, &mut m, &mut v).unwrap();
        cpu::adamw::adamw_step_ref(cfg, step, &mut rp, &dy, &mut rm, &mut rv);
    }
    assert_close("adamw", &down(&rt, &p), &rp, 1e-6, 1e-5);
    let mut t = up(&rt, &dy);
    launch::ema_update(&rt, 0.996, &mut t, &dx_).unwrap();
    let mut rt_ = dy.clone();
    cpu::ema::ema_update_ref(0.996, &mut rt_, &x);
    assert_close("ema", &down(&rt, &t), &rt_, 1e-6, 1e-6);
}

#[test]
fn gpu_rows_layernorm_softmax() {
    let Some(rt) = gpu("gpu_rows_layernorm_softmax") else {
        return;
    };
    let (rows, dim) = (4099, 768);
    let x = data(rows * dim, 3, 2.0);
    let (w, b, dout) = (
        data(dim, 4, 1.0),
        data(dim, 5, 1.0),
        data(rows * dim, 6, 1.0),
    );
    let (gx, gw, gb, gd) = (up(&rt, &x), up(&rt, &w), up(&rt, &b), up(&rt, &dout));
    let mut out = rt.stream().alloc_zeros::<f32>(rows * dim).unwrap();
    let (mut mean, mut rstd) = (
        rt.stream().alloc_zeros::<f32>(rows).unwrap(),
        rt.stream().alloc_zeros::<f32>(rows).unwrap(),
    );
    launch::layernorm_fwd(
        &rt,
        rows,
        dim,
        1e-5,
        &gx,
        Some(&gw),
        Some(&gb),
        &mut out,
        &mut mean,
        &mut rstd,
    )
    .unwrap();
    let (mut ro, mut rm, mut rr) = (vec![0f32; rows * dim], vec![0f32; rows], vec![0f32; rows]);
    cpu::layernorm::layernorm_fwd_ref(
        rows,
        dim,
        1e-5,
        &x,
        Some(&w),
        Some(&b),
        &mut ro,
        &mut rm,
        &mut rr,
    );
    assert_close("layernorm out", &down(&rt, &out), &ro, 1e-5, 1e-4);
    let mut dx = rt.stream().alloc_zeros::<f32>(rows * dim).unwrap();
    let (mut dw, mut db) = (
        rt.stream().alloc_zeros::<f32>(dim).unwrap(),
        rt.stream().alloc_zeros::<f32>(dim).unwrap(),
    );
    launch::layernorm_bwd(
        &rt,
        rows,
        dim,
        &gx,
        Some(&gw),
        &mean,
        &rstd,
        &gd,
        &mut dx,
        Some(&mut dw),
        Some(&mut db),
    )
    .unwrap();
    let (mut rdx, mut rdw, mut rdb) = (vec![0f32; rows * dim], vec![0f32; dim], vec![0f32; dim]);
    cpu::layernorm::layernorm_bwd_ref(
        rows,
        dim,
        &x,
        Some(&w),
        &rm,
        &rr,
        &dout,
        &mut rdx,
        Some(&mut rdw),
        Some(&mut rdb),
    );
    assert_close("layernorm dx", &down(&rt, &dx), &rdx, 1e-4, 1e-3);
    assert_close("layernorm dweight", &down(&rt, &dw), &rdw, 1e-3, 1e-3);
    assert_close("layernorm dbias", &down(&rt, &db), &rdb, 1e-3, 1e-3);

    launch::softmax_fwd(&rt, rows, dim, &gx, &mut out).unwrap();
    cpu::softmax::softmax_fwd_ref(rows, dim, &x, &mut ro);
    assert_close("softmax", &down(&rt, &out), &ro, 1e-6, 1e-4);
}

fn attention_gpu_case(rt: &CudaRuntime, s: AttnShape, bf16: bool) {
    let len = s.b * s.h * s.n * s.d;
    let scale = 1.0 / (s.d as f32).sqrt();
    let prep = |x: Vec<f32>| if bf16 { round_bf16(&x) } else { x };
    let (q, k, v, dout) = (
        prep(data(len, 7, 1.5)),
        prep(data(len, 8, 1.5)),
        prep(data(len, 9, 1.0)),
        prep(data(len, 10, 1.0)),
    );
    let (mut ro, mut rl) = (vec![0f32; len], vec![0f32; s.b * s.h * s.n]);
    cpu::attention::attention_fwd_ref(s, scale, &q, &k, &v, &mut ro, &mut rl);
    let ro = prep(ro);
    let (mut rdq, mut rdk, mut rdv) = (vec![0f32; len], vec![0f32; len], vec![0f32; len]);
    cpu::attention::attention_bwd_ref(
        s, scale, &q, &k, &v, &ro, &rl, &dout, &mut rdq, &mut rdk, &mut rdv,
    );
    let mut lse = rt.stream().alloc_zeros::<f32>(s.b * s.h * s.n).unwrap();
    let ctx = format!("attention {s:?} bf16 {bf16}");
    let t0 = std::time::Instant::now();
    let (out, dq, dk, dv, tol) = if bf16 {
        let (gq, gk, gv, gd, gro) = (
            up(rt, &to_bf16(&q)),
            up(rt, &to_bf16(&k)),
            up(rt, &to_bf16(&v)),
            up(rt, &to_bf16(&dout)),
            up(rt, &to_bf16(&ro)),
        );
        let z = || rt.stream().alloc_zeros::<u16>(len).unwrap();
        let (mut out, mut dq, mut dk, mut dv) = (z(), z(), z(), z());
        launch::attention_fwd(rt, s, scale, &gq, &gk, &gv, &mut out, &mut lse).unwrap();
        let glse = up(rt, &rl);
        launch::attention_bwd(
            rt, s, scale, &gq, &gk, &gv, &gro, &glse, &gd, &mut dq, &mut dk, &mut dv,
        )
        .unwrap();
        let f = |x: &CudaSlice<u16>| from_bf16(&down(rt, x));
        (f(&out), f(&dq), f(&dk), f(&dv), (2e-2, 2e-2))
    } else {
        let (gq, gk, gv, gd, gro) = (
            up(rt, &q),
            up(rt, &k),
            up(rt, &v),
            up(rt, &dout),
            up(rt, &ro),
        );
        let z = || rt.stream().alloc_zeros::<f32>(len).unwrap();
        let (mut out, mut dq, mut dk, mut dv) = (z(), z(), z(), z());
        launch::attention_fwd(rt, s, scale, &gq, &gk, &gv, &mut out, &mut lse).unwrap();
        let glse = up(rt, &rl);
        launch::attention_bwd(
            rt, s, scale, &gq, &gk, &gv, &gro, &glse, &gd, &mut dq, &mut dk, &mut dv,
        )
        .unwrap();
        (
            down(rt, &out),
            down(rt, &dq),
            down(rt, &dk),
            down(rt, &dv),
            (2e-5, 5e-4),
        )
    };
    println!("{ctx}: fwd+bwd+copies {:?}", t0.elapsed());
    assert_close(&format!("{ctx}: out"), &out, &ro, tol.0, tol.1);
    assert_close(&format!("{ctx}: lse"), &down(rt, &lse), &rl, 1e-5, 1e-5);
    assert_close(&format!("{ctx}: dq"), &dq, &rdq, tol.0, tol.1);
    assert_close(&format!("{ctx}: dk"), &dk, &rdk, tol.0, tol.1);
    assert_close(&format!("{ctx}: dv"), &dv, &rdv, tol.0, tol.1);
}

#[test]
fn gpu_attention_real_sizes() {
    let Some(rt) = gpu("gpu_attention_real_sizes") else {
        return;
    };
    attention_gpu_case(
        &rt,
        AttnShape {
            b: 2,
            h: 6,
            n: 197,
            d: 64,
        },
        false,
    );
    attention_gpu_case(
        &rt,
        AttnShape {
            b: 1,
            h: 4,
            n: 256,
            d: 128,
        },
        false,
    );
    attention_gpu_case(
        &rt,
        AttnShape {
            b: 2,
            h: 3,
            n: 100,
            d: 32,
        },
        false,
    );
    attention_gpu_case(
        &rt,
        AttnShape {
            b: 2,
            h: 6,
            n: 197,
            d: 64,
        },
        true,
    );
}

#[test]
fn gpu_vicreg_gather_patchify_losses() {
    let Some(rt) = gpu("gpu_vicreg_gather_patchify_losses") else {
        return;
    };
    let (n, d) = (256, 384);
    let e: Vec<f32> = data(n * d, 11, 1.0)
        .iter()
        .enumerate()
        .map(|(i, x)| x * (0.3 + (i % d) as f32 * 0.01))
        .collect();
    let ge = up(&rt, &e);
    let mut scratch = launch::VicregScratch::new(&rt, n, d).unwrap();
    let mut losses = rt.stream().alloc_zeros::<f32>(2).unwrap();
    let (mut dvar, mut dcov) = (
        rt.stream().alloc_zeros::<f32>(n * d).unwrap(),
        rt.stream().alloc_zeros::<f32>(n * d).unwrap(),
    );
    launch::vicreg(
        &rt,
        n,
        d,
        &ge,
        1e-4,
        &mut scratch,
        &mut losses,
        Some(&mut dvar),
        Some(&mut dcov),
    )
    .unwrap();
    let (mut rv, mut rc) = (vec![0f32; n * d], vec![0f32; n * d]);
    let r = cpu::vicreg::vicreg_ref(n, d, &e, 1e-4, Some(&mut rv), Some(&mut rc));
    assert_close(
        "vicreg losses",
        &down(&rt, &losses),
        &[r.var_loss, r.cov_loss],
        1e-6,
        1e-4,
    );
    assert_close("vicreg de_var", &down(&rt, &dvar), &rv, 1e-7, 1e-4);
    assert_close("vicreg de_cov", &down(&rt, &dcov), &rc, 1e-7, 1e-3);

    let (b, nn, dd, k) = (8, 196, 384, 150);
    let x = data(b * nn * dd, 12, 1.0);
    let index: Vec<usize> = (0..b * k).map(|i| (i * 37 + i / 3) % nn).collect();
    let idx32: Vec<i32> = index.iter().map(|&i| i as i32).collect();
    let (gx, gi) = (up(&rt, &x), up(&rt, &idx32));
    let mut out = rt.stream().alloc_zeros::<f32>(b * k * dd).unwrap();
    launch::gather_rows(&rt, b, nn, dd, k, &gx, &gi, &mut out).unwrap();
    let mut want = vec![0f32; b * k * dd];
    cpu::gather::gather_rows_ref(b, nn, dd, k, &x, &index, &mut want);
    assert_close("gather", &down(&rt, &out), &want, 0.0, 0.0);
    let mut dx = rt.stream().alloc_zeros::<f32>(b * nn * dd).unwrap();
    launch::scatter_add_rows(&rt, b, nn, dd, k, &out, &gi, &mut dx).unwrap();
    let mut rdx = vec![0f32; b * nn * dd];
    cpu::gather::scatter_add_rows_ref(b, nn, dd, k, &want, &index, &mut rdx);
    assert_close("scatter_add", &down(&rt, &dx), &rdx, 1e-6, 1e-5);

    let (bi, c, h, w, p) = (4, 3, 224, 224, 16);
    let img = data(bi * c * h * w, 13, 1.0);
    let gimg = up(&rt, &img);
    let mut patches = rt.stream().alloc_zeros::<f32>(img.len()).unwrap();
    launch::patchify(&rt, bi, c, h, w, p, &gimg, &mut patches).unwrap();
    let mut rp = vec![0f32; img.len()];
    cpu::patchify::patchify_ref(bi, c, h, w, p, &img, &mut rp);
    assert_close("patchify", &down(&rt, &patches), &rp, 0.0, 0.0);

    let (z, hh) = (data(1 << 20, 14, 2.0), data(1 << 20, 15, 2.0));
    let (gz, gh) = (up(&rt, &z), up(&rt, &hh));
    let mut l = rt.stream().alloc_zeros::<f32>(1).unwrap();
    launch::smooth_l1_fwd(&rt, &gz, &gh, 1.0, &mut l).unwrap();
    assert_close(
        "smooth_l1",
        &down(&rt, &l),
        &[cpu::loss::smooth_l1_fwd_ref(&z, &hh, 1.0)],
        1e-6,
        1e-4,
    );
}

#[test]
fn gpu_cublas_gemm_row_major() {
    let Some(rt) = gpu("gpu_cublas_gemm_row_major") else {
        return;
    };
    let (batch, m, k, n) = (3, 67, 129, 45);
    for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
        let a = data(batch * m * k, 16, 1.0);
        let b = data(batch * k * n, 17, 1.0);
        let sa = if ta {
            Strides::transposed(m, k)
        } else {
            Strides::row_major(m, k)
        };
        let sb = if tb {
            Strides::transposed(k, n)
        } else {
            Strides::row_major(k, n)
        };
        let mut want = vec![0f32; batch * m * n];
        cpu::gemm::gemm_ref(batch, m, k, n, &a, sa, &b, sb, &mut want, None, false);
        let s = GemmShape {
            m,
            n,
            k,
            batch,
            trans_a: ta,
            trans_b: tb,
            stride_a: m * k,
            stride_b: k * n,
            stride_c: m * n,
        };
        let mut c = rt.stream().alloc_zeros::<f32>(batch * m * n).unwrap();
        gemm_f32(&rt, s, 1.0, &up(&rt, &a), &up(&rt, &b), 0.0, &mut c).unwrap();
        assert_close(
            &format!("gemm_f32 ta {ta} tb {tb}"),
            &down(&rt, &c),
            &want,
            1e-4,
            1e-4,
        );

        let (ab, bb) = (round_bf16(&a), round_bf16(&b));
        cpu::gemm::gemm_ref(batch, m, k, n, &ab, sa, &bb, sb, &mut want, None, false);
        let mut cb = rt.stream().alloc_zeros::<u16>(batch * m * n).unwrap();
        gemm_bf16(
            &rt,
            s,
            1.0,
            &up(&rt, &to_bf16(&ab)),
            &up(&rt, &to_bf16(&bb)),
            0.0,
            &mut cb,
        )
        .unwrap();
        assert_close(
            &format!("gemm_bf16 ta {ta} tb {tb}"),
            &from_bf16(&down(&rt, &cb)),
            &want,
            2e-2,
            1e-2,
        );
    }
}
