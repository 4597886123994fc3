//! Cases for the transformer-block kernels: fused attention, LayerNorm, GELU, softmax, each in
//! f32 and bf16 storage. The hand-written kernels use no tensor-core `mma`, so their compute roof
//! is FP32 even for bf16 storage; bf16 halves their DRAM bytes.

use jepa_benches::attention_fwd_flops;
use jepa_benches::gpu::{upload, zeros, BenchElem};
use jepa_benches::roofline::{ComputeRoof, Work};
use jepa_kernels::cpu::attention::AttnShape;
use jepa_kernels::cuda::{launch, CudaError};

use crate::Runner;

/// ViT-Tiny at 32 px (64 tokens, 3 heads) and at 224 px (196 tokens), batch as in baseline.md.
const ATTN_SHAPES: [(usize, usize, usize, usize); 2] = [(64, 3, 64, 64), (16, 12, 196, 64)];
/// LayerNorm rows × width: 64 images × 64 tokens at D 192.
const LN: (usize, usize) = (4096, 192);
/// GELU input: the MLP hidden layer, 4096 tokens × 4·192.
const GELU_N: usize = 4096 * 768;
/// Unfused attention probabilities for the 196-token shape: rows b·h·n, width n.
const SOFTMAX: (usize, usize) = (16 * 12 * 196, 196);

pub fn attention(r: &mut Runner) -> Result<(), CudaError> {
    for (b, h, n, d) in ATTN_SHAPES {
        attention_case::<f32>(r, AttnShape { b, h, n, d })?;
        attention_case::<u16>(r, AttnShape { b, h, n, d })?;
    }
    Ok(())
}

fn attention_case<T: BenchElem>(r: &mut Runner, s: AttnShape) -> Result<(), CudaError> {
    let rt = r.rt();
    let len = s.b * s.h * s.n * s.d;
    let rows = (s.b * s.h * s.n) as u64;
    let (q, k, v, dout) = (
        upload::<T>(&rt, len, 1)?,
        upload::<T>(&rt, len, 2)?,
        upload::<T>(&rt, len, 3)?,
        upload::<T>(&rt, len, 4)?,
    );
    let (mut out, mut lse) = (zeros::<T>(&rt, len)?, zeros::<f32>(&rt, s.b * s.h * s.n)?);
    let (mut dq, mut dk, mut dv) = (
        zeros::<T>(&rt, len)?,
        zeros::<T>(&rt, len)?,
        zeros(&rt, len)?,
    );
    let scale = (s.d as f32).powf(-0.5);
    let fl = attention_fwd_flops(s.b, s.h, s.n, s.d);
    let x = len as u64 * T::BYTES;
    let tag = format!("{}_b{}_h{}_n{}_d{}", T::SUFFIX, s.b, s.h, s.n, s.d);

    // q, k, v in, out and lse out.
    let fwd = Work::compute(fl, 4 * x + 4 * rows, ComputeRoof::Fp32);
    r.case("attention", &format!("fwd_{tag}"), fwd, || {
        launch::attention_fwd(&rt, s, scale, &q, &k, &v, &mut out, &mut lse)
    });
    // FLOPs as baseline.md counts them (3× forward). Backward reads q, k, v, out, dout, lse and
    // writes dq, dk, dv; its per-call δ scratch allocation is part of what is timed.
    let fwd_bwd = Work::compute(3 * fl, 12 * x + 8 * rows, ComputeRoof::Fp32);
    r.case("attention", &format!("fwd_bwd_{tag}"), fwd_bwd, || {
        launch::attention_fwd(&rt, s, scale, &q, &k, &v, &mut out, &mut lse)?;
        launch::attention_bwd(
            &rt, s, scale, &q, &k, &v, &out, &lse, &dout, &mut dq, &mut dk, &mut dv,
        )
    });
    Ok(())
}

pub fn layernorm(r: &mut Runner) -> Result<(), CudaError> {
    layernorm_case::<f32>(r)?;
    layernorm_case::<u16>(r)
}

fn layernorm_case<T: BenchElem>(r: &mut Runner) -> Result<(), CudaError> {
    let rt = r.rt();
    let (rows, dim) = LN;
    let x = upload::<T>(&rt, rows * dim, 1)?;
    let dout = upload::<T>(&rt, rows * dim, 2)?;
    let (w, bias) = (upload::<f32>(&rt, dim, 3)?, upload::<f32>(&rt, dim, 4)?);
    let (mut out, mut dx) = (zeros::<T>(&rt, rows * dim)?, zeros::<T>(&rt, rows * dim)?);
    let (mut mean, mut rstd) = (zeros::<f32>(&rt, rows)?, zeros::<f32>(&rt, rows)?);
    let (mut dw, mut db) = (zeros::<f32>(&rt, dim)?, zeros::<f32>(&rt, dim)?);
    let act = (rows * dim) as u64 * T::BYTES;
    let (stats, params) = (8 * rows as u64, 4 * dim as u64);
    let tag = format!("{}_{rows}x{dim}", T::SUFFIX);

    let eps = 1e-6;
    let fwd = Work::memory(2 * act + stats + 2 * params);
    r.case("layernorm", &format!("fwd_{tag}"), fwd, || {
        launch::layernorm_fwd(
            &rt,
            rows,
            dim,
            eps,
            &x,
            Some(&w),
            Some(&bias),
            &mut out,
            &mut mean,
            &mut rstd,
        )
    });
    // x, dout in, dx out, plus the stats, weight and the two parameter gradients.
    let bwd = Work::memory(3 * act + stats + 3 * params);
    r.case("layernorm", &format!("bwd_{tag}"), bwd, || {
        launch::layernorm_bwd(
            &rt,
            rows,
            dim,
            &x,
            Some(&w),
            &mean,
            &rstd,
            &dout,
            &mut dx,
            Some(&mut dw),
            Some(&mut db),
        )
    });
    Ok(())
}

pub fn gelu(r: &mut Runner) -> Result<(), CudaError> {
    gelu_case::<f32>(r)?;
    gelu_case::<u16>(r)
}

fn gelu_case<T: BenchElem>(r: &mut Runner) -> Result<(), CudaError> {
    let rt = r.rt();
    let n = GELU_N;
    let (x, dout) = (upload::<T>(&rt, n, 1)?, upload::<T>(&rt, n, 2)?);
    let mut out = zeros::<T>(&rt, n)?;
    let bytes = n as u64 * T::BYTES;
    let tag = format!("{}_4096x768", T::SUFFIX);
    r.case(
        "gelu",
        &format!("fwd_{tag}"),
        Work::memory(2 * bytes),
        || launch::gelu_fwd(&rt, &x, &mut out),
    );
    r.case(
        "gelu",
        &format!("bwd_{tag}"),
        Work::memory(3 * bytes),
        || launch::gelu_bwd(&rt, &x, &dout, &mut out),
    );
    Ok(())
}

pub fn softmax(r: &mut Runner) -> Result<(), CudaError> {
    softmax_case::<f32>(r)?;
    softmax_case::<u16>(r)
}

fn softmax_case<T: BenchElem>(r: &mut Runner) -> Result<(), CudaError> {
    let rt = r.rt();
    let (rows, dim) = SOFTMAX;
    let (x, dout) = (
        upload::<T>(&rt, rows * dim, 1)?,
        upload::<T>(&rt, rows * dim, 2)?,
    );
    let (mut out, mut dx) = (zeros::<T>(&rt, rows * dim)?, zeros::<T>(&rt, rows * dim)?);
    let bytes = (rows * dim) as u64 * T::BYTES;
    let tag = format!("{}_{rows}x{dim}", T::SUFFIX);
    r.case(
        "softmax",
        &format!("fwd_{tag}"),
        Work::memory(2 * bytes),
        || launch::softmax_fwd(&rt, rows, dim, &x, &mut out),
    );
    r.case(
        "softmax",
        &format!("bwd_{tag}"),
        Work::memory(3 * bytes),
        || launch::softmax_bwd(&rt, rows, dim, &out, &dout, &mut dx),
    );
    Ok(())
}
