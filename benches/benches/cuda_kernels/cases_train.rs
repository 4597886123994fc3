//! Cases for the training-step kernels: masked gather / scatter-add, VICReg, smooth-L1, the
//! AdamW and EMA updates over a ViT-Tiny's parameters, and cuBLAS GEMM.

use jepa_benches::gpu::{upload, upload_slice, zeros, BenchElem};
use jepa_benches::roofline::{ComputeRoof, Work};
use jepa_kernels::cpu::adamw::AdamW;
use jepa_kernels::cuda::blas::{gemm_bf16, gemm_f32, GemmShape};
use jepa_kernels::cuda::launch::{self, VicregScratch};
use jepa_kernels::cuda::CudaError;

use crate::Runner;

/// I-JEPA target gather, as in cpu_kernels: batch 64 × 4 blocks of 12 of 64 tokens, D 192.
const GATHER: (usize, usize, usize, usize) = (256, 64, 192, 12);
/// C-JEPA pooled predictions: 4 blocks × batch 64 rows of width 192.
const VICREG: (usize, usize) = (256, 192);
/// Parameters of ViT-Tiny/16 (timm `vit_tiny_patch16_224`, 1000-class head included).
const VIT_TINY_PARAMS: usize = 5_717_416;

pub fn gather(r: &mut Runner) -> Result<(), CudaError> {
    gather_case::<f32>(r)?;
    gather_case::<u16>(r)
}

fn gather_case<T: BenchElem>(r: &mut Runner) -> Result<(), CudaError> {
    let rt = r.rt();
    let (b, n, d, k) = GATHER;
    let x = upload::<T>(&rt, b * n * d, 1)?;
    let dout = upload::<T>(&rt, b * k * d, 2)?;
    // Distinct rows per batch item (7 is coprime with 64), as a mask's indices are.
    let idx: Vec<i32> = (0..b * k).map(|i| ((i * 7) % n) as i32).collect();
    let index = upload_slice(&rt, &idx)?;
    let mut out = zeros::<T>(&rt, b * k * d)?;
    let mut dx = zeros::<f32>(&rt, b * n * d)?;
    let rows = (b * k * d) as u64;
    let idx_bytes = 4 * (b * k) as u64;
    let tag = format!("{}_b{b}_n{n}_k{k}_d{d}", T::SUFFIX);

    let fwd = Work::memory(2 * rows * T::BYTES + idx_bytes);
    r.case("gather", &format!("fwd_{tag}"), fwd, || {
        launch::gather_rows(&rt, b, n, d, k, &x, &index, &mut out)
    });
    // Zeroing all of dx, reading dout, and an f32 read-modify-write per gathered element.
    let bwd = Work::memory(4 * (b * n * d) as u64 + rows * (T::BYTES + 8) + idx_bytes);
    r.case("gather", &format!("scatter_add_{tag}"), bwd, || {
        launch::scatter_add_rows(&rt, b, n, d, k, &dout, &index, &mut dx)
    });
    Ok(())
}

pub fn vicreg(r: &mut Runner) -> Result<(), CudaError> {
    let rt = r.rt();
    let (n, d) = VICREG;
    let e = upload::<f32>(&rt, n * d, 5)?;
    let mut scratch = VicregScratch::new(&rt, n, d)?;
    let mut losses = zeros::<f32>(&rt, 2)?;
    let (mut dvar, mut dcov) = (zeros::<f32>(&rt, n * d)?, zeros::<f32>(&rt, n * d)?);
    // Gram matrix and covariance gradient, 2·n·d² each; e in, two gradients out.
    let work = Work::compute(
        4 * (n * d * d) as u64,
        12 * (n * d) as u64,
        ComputeRoof::Fp32,
    );
    r.case("vicreg", &format!("loss_grad_f32_{n}x{d}"), work, || {
        launch::vicreg(
            &rt,
            n,
            d,
            &e,
            1e-4,
            &mut scratch,
            &mut losses,
            Some(&mut dvar),
            Some(&mut dcov),
        )
    });
    Ok(())
}

pub fn smooth_l1(r: &mut Runner) -> Result<(), CudaError> {
    smooth_l1_case::<f32>(r)?;
    smooth_l1_case::<u16>(r)
}

fn smooth_l1_case<T: BenchElem>(r: &mut Runner) -> Result<(), CudaError> {
    let rt = r.rt();
    // The predictor's outputs for the gather shape above.
    let (b, _, d, k) = GATHER;
    let n = b * k * d;
    let (z, h) = (upload::<T>(&rt, n, 1)?, upload::<T>(&rt, n, 2)?);
    let mut loss = zeros::<f32>(&rt, 1)?;
    let mut dz = zeros::<T>(&rt, n)?;
    let bytes = n as u64 * T::BYTES;
    let tag = format!("{}_{n}", T::SUFFIX);
    r.case(
        "smooth_l1",
        &format!("fwd_{tag}"),
        Work::memory(2 * bytes),
        || launch::smooth_l1_fwd(&rt, &z, &h, 1.0, &mut loss),
    );
    r.case(
        "smooth_l1",
        &format!("bwd_{tag}"),
        Work::memory(3 * bytes),
        || launch::smooth_l1_bwd(&rt, &z, &h, 1.0, 1.0, &mut dz),
    );
    Ok(())
}

pub fn optim(r: &mut Runner) -> Result<(), CudaError> {
    let rt = r.rt();
    let n = VIT_TINY_PARAMS;
    let mut param = upload::<f32>(&rt, n, 1)?;
    let grad = upload::<f32>(&rt, n, 2)?;
    let (mut m, mut v) = (zeros::<f32>(&rt, n)?, zeros::<f32>(&rt, n)?);
    let mut target = upload::<f32>(&rt, n, 3)?;
    let cfg = AdamW {
        lr: 1e-3,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 0.05,
    };
    let bytes = 4 * n as u64;
    let mut step = 0u64;
    // param, grad, m, v in; param, m, v out.
    r.case(
        "optim",
        "adamw_f32_vit_tiny",
        Work::memory(7 * bytes),
        || {
            step += 1;
            launch::adamw_step(&rt, cfg, step, &mut param, &grad, &mut m, &mut v)
        },
    );
    r.case("optim", "ema_f32_vit_tiny", Work::memory(3 * bytes), || {
        launch::ema_update(&rt, 0.996, &mut target, &param)
    });
    Ok(())
}

pub fn gemm(r: &mut Runner) -> Result<(), CudaError> {
    let rt = r.rt();
    for n in [1024usize, 2048, 4096] {
        let s = GemmShape::new(n, n, n);
        let flops = 2 * (n as u64).pow(3);
        let elems = 3 * (n * n) as u64;
        let (a, b) = (upload::<f32>(&rt, n * n, 1)?, upload::<f32>(&rt, n * n, 2)?);
        let mut c = zeros::<f32>(&rt, n * n)?;
        // FP32 math (no TF32): the CUDA-core roof.
        let w = Work::compute(flops, 4 * elems, ComputeRoof::Fp32);
        r.case("gemm", &format!("sgemm_{n}"), w, || {
            gemm_f32(&rt, s, 1.0, &a, &b, 0.0, &mut c)
        });
        drop((a, b, c));
        let (a, b) = (upload::<u16>(&rt, n * n, 1)?, upload::<u16>(&rt, n * n, 2)?);
        let mut c = zeros::<u16>(&rt, n * n)?;
        let w = Work::compute(flops, 2 * elems, ComputeRoof::Bf16Tensor);
        r.case("gemm", &format!("bf16_{n}"), w, || {
            gemm_bf16(&rt, s, 1.0, &a, &b, 0.0, &mut c)
        });
    }
    Ok(())
}
