//! Criterion benches of the CPU kernels at the shapes of ../shared/perf/baseline.md, so the
//! numbers sit beside `bench_torch.py`'s. Run with `RAYON_NUM_THREADS=2 cargo bench -p jepa-benches`.

use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use jepa_benches::{attention_fwd_flops, random_vec};
use jepa_kernels::cpu::{attention, gather, gemm, layernorm, vicreg};
use std::hint::black_box;

fn bench_gemm(c: &mut Criterion) {
    let mut g = c.benchmark_group("gemm");
    for n in [512usize, 1024, 2048] {
        let a = random_vec(n * n, 1);
        let b = random_vec(n * n, 2);
        let mut out = vec![0f32; n * n];
        let s = gemm::Strides::row_major(n, n);
        g.throughput(Throughput::Elements(2 * (n * n * n) as u64));
        g.sample_size(if n >= 2048 { 10 } else { 20 });
        g.bench_function(BenchmarkId::from_parameter(n), |bch| {
            bch.iter(|| gemm::gemm(1, n, n, n, &a, s, &b, s, &mut out, None, false))
        });
    }
    g.finish();
}

fn bench_attention(c: &mut Criterion) {
    let mut g = c.benchmark_group("attention");
    for (b, h, n, d) in [(64usize, 3usize, 64usize, 64usize), (16, 12, 196, 64)] {
        let s = attention::AttnShape { b, h, n, d };
        let len = b * h * n * d;
        let (q, k, v, dout) = (
            random_vec(len, 1),
            random_vec(len, 2),
            random_vec(len, 3),
            random_vec(len, 4),
        );
        let (mut out, mut lse) = (vec![0f32; len], vec![0f32; b * h * n]);
        let (mut dq, mut dk, mut dv) = (vec![0f32; len], vec![0f32; len], vec![0f32; len]);
        let scale = (d as f32).powf(-0.5);
        let fl = attention_fwd_flops(b, h, n, d);
        let tag = format!("b{b}_h{h}_n{n}_d{d}");
        g.sample_size(20);
        g.throughput(Throughput::Elements(fl));
        g.bench_function(format!("fwd_{tag}"), |bch| {
            bch.iter(|| attention::attention_fwd(s, scale, &q, &k, &v, &mut out, &mut lse))
        });
        g.throughput(Throughput::Elements(3 * fl));
        g.bench_function(format!("fwd_bwd_{tag}"), |bch| {
            bch.iter(|| {
                attention::attention_fwd(s, scale, &q, &k, &v, &mut out, &mut lse);
                attention::attention_bwd(
                    s, scale, &q, &k, &v, &out, &lse, &dout, &mut dq, &mut dk, &mut dv,
                );
            })
        });
    }
    g.finish();
}

fn bench_layernorm(c: &mut Criterion) {
    let (rows, dim) = (4096usize, 192usize);
    let x = random_vec(rows * dim, 1);
    let dout = random_vec(rows * dim, 2);
    let (w, bias) = (random_vec(dim, 3), random_vec(dim, 4));
    let (mut out, mut dx) = (vec![0f32; rows * dim], vec![0f32; rows * dim]);
    let (mut mean, mut rstd) = (vec![0f32; rows], vec![0f32; rows]);
    let (mut dw, mut db) = (vec![0f32; dim], vec![0f32; dim]);
    let mut g = c.benchmark_group("layernorm");
    g.throughput(Throughput::Bytes((2 * rows * dim * 4) as u64));
    g.bench_function("fwd_4096x192", |bch| {
        bch.iter(|| {
            layernorm::layernorm_fwd(
                rows,
                dim,
                1e-6,
                &x,
                Some(&w),
                Some(&bias),
                &mut out,
                &mut mean,
                &mut rstd,
            )
        })
    });
    g.bench_function("fwd_bwd_4096x192", |bch| {
        bch.iter(|| {
            layernorm::layernorm_fwd(
                rows,
                dim,
                1e-6,
                &x,
                Some(&w),
                Some(&bias),
                &mut out,
                &mut mean,
                &mut rstd,
            );
            layernorm::layernorm_bwd(
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
            );
        })
    });
    g.finish();
}

fn bench_gather_vicreg(c: &mut Criterion) {
    // I-JEPA target gather: B64 × 4 blocks × 12 of 64 tokens, D 192.
    let (b, n, d, k) = (256usize, 64usize, 192usize, 12usize);
    let x = random_vec(b * n * d, 1);
    let index: Vec<usize> = (0..b * k).map(|i| (i * 7) % n).collect();
    let mut out = vec![0f32; b * k * d];
    let mut dx = vec![0f32; b * n * d];
    let mut g = c.benchmark_group("gather");
    g.throughput(Throughput::Bytes((2 * b * k * d * 4) as u64));
    g.bench_function("fwd_b256_n64_k12_d192", |bch| {
        bch.iter(|| gather::gather_rows(b, n, d, k, &x, &index, &mut out))
    });
    g.bench_function("bwd_b256_n64_k12_d192", |bch| {
        bch.iter(|| gather::scatter_add_rows(b, n, d, k, &out, &index, &mut dx))
    });
    g.finish();

    // C-JEPA pooled predictions: 4 blocks × batch 64 rows of width 192.
    let (rows, dim) = (256usize, 192usize);
    let e = random_vec(rows * dim, 5);
    let (mut dv, mut dc) = (vec![0f32; rows * dim], vec![0f32; rows * dim]);
    let mut g = c.benchmark_group("vicreg");
    g.throughput(Throughput::Elements(2 * 2 * (rows * dim * dim) as u64));
    g.bench_function("fwd_bwd_256x192", |bch| {
        bch.iter(|| {
            black_box(vicreg::vicreg(
                rows,
                dim,
                &e,
                1e-4,
                Some(&mut dv),
                Some(&mut dc),
            ))
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    bench_gemm,
    bench_attention,
    bench_layernorm,
    bench_gather_vicreg
);
/// Tensors on 64-byte boundaries, as in the `jepa` binary and in PyTorch (`cpu/alloc.rs`).
#[global_allocator]
static ALLOC: jepa_kernels::cpu::alloc::AlignedAlloc = jepa_kernels::cpu::alloc::AlignedAlloc;

/// `criterion_main!` with the groups run on a worker of rayon's pool, as `jepa bench` and
/// training run: from `main`, every parallel kernel call would also pay a hand-off to the pool
/// and back (35–50 µs on a 2-vCPU guest; see `jepa_engine::on_pool`).
fn main() {
    rayon::scope(|_| benches());
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}
