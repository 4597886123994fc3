//! CPU kernel benchmarks at the shapes of the PyTorch baseline (shared/perf/baseline.md), so the
//! numbers can be read beside it. FLOP conventions follow that file: 2·n³ per GEMM, 4·B·H·N²·D
//! per attention forward and 3× that for forward + backward.

use jepa_kernels::cpu::{attention, gelu, gemm, layernorm, softmax};

use super::record::Work;

/// A benchmark ready to run: `run` is one timed call.
pub struct Case {
    pub name: String,
    pub work: Work,
    pub run: Box<dyn FnMut()>,
}

/// Deterministic values in [-1, 1).
pub fn random_vec(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

fn flops(f: f64) -> Work {
    Work {
        flops: Some(f),
        ..Work::default()
    }
}

fn gemm_case(n: usize) -> Case {
    let (a, b) = (random_vec(n * n, 1), random_vec(n * n, 2));
    let mut c = vec![0f32; n * n];
    let s = gemm::Strides::row_major(n, n);
    Case {
        name: format!("gemm_{n}"),
        work: flops(2.0 * (n * n * n) as f64),
        run: Box::new(move || gemm::gemm(1, n, n, n, &a, s, &b, s, &mut c, None, false)),
    }
}

fn attention_case(backward: bool, [b, h, n, d]: [usize; 4]) -> Case {
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
    let fwd = 4.0 * (b * h * n * n * d) as f64;
    let tag = format!("b{b}_h{h}_n{n}_d{d}");
    if backward {
        Case {
            name: format!("attention_fwd_bwd_{tag}"),
            work: flops(3.0 * fwd),
            run: Box::new(move || {
                attention::attention_fwd(s, scale, &q, &k, &v, &mut out, &mut lse);
                attention::attention_bwd(
                    s, scale, &q, &k, &v, &out, &lse, &dout, &mut dq, &mut dk, &mut dv,
                );
            }),
        }
    } else {
        Case {
            name: format!("attention_fwd_{tag}"),
            work: flops(fwd),
            run: Box::new(move || {
                attention::attention_fwd(s, scale, &q, &k, &v, &mut out, &mut lse)
            }),
        }
    }
}

fn layernorm_case(backward: bool, rows: usize, dim: usize) -> Case {
    let (x, dout) = (random_vec(rows * dim, 1), random_vec(rows * dim, 2));
    let (w, bias) = (random_vec(dim, 3), random_vec(dim, 4));
    let (mut out, mut dx) = (vec![0f32; rows * dim], vec![0f32; rows * dim]);
    let (mut mean, mut rstd) = (vec![0f32; rows], vec![0f32; rows]);
    let (mut dw, mut db) = (vec![0f32; dim], vec![0f32; dim]);
    // Forward reads x and writes out; backward also reads x, dout and writes dx.
    let tensor_bytes = (rows * dim * 4) as f64;
    let name = format!(
        "layernorm_{}_{rows}x{dim}",
        if backward { "fwd_bwd" } else { "fwd" }
    );
    let work = Work {
        bytes: Some(if backward { 5.0 } else { 2.0 } * tensor_bytes),
        ..Work::default()
    };
    let run: Box<dyn FnMut()> = Box::new(move || {
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
        if backward {
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
        }
    });
    Case { name, work, run }
}

/// Inputs uniform in [−1, 1); `gelu_fwd_wide` scales them to [−3, 3), so that most vectors
/// straddle GELU's erf split (|x| ≈ 1.77) and take its slower both-sides path (`gelu.rs`).
fn elementwise_case(name: &str, rows: usize, dim: usize) -> Case {
    let mut x = random_vec(rows * dim, 5);
    if name.ends_with("_wide") {
        x.iter_mut().for_each(|v| *v *= 3.0);
    }
    let mut out = vec![0f32; rows * dim];
    let bytes = Work {
        bytes: Some(2.0 * (rows * dim * 4) as f64),
        ..Work::default()
    };
    let run: Box<dyn FnMut()> = if name.starts_with("gelu") {
        Box::new(move || gelu::gelu_fwd(&x, &mut out))
    } else {
        Box::new(move || softmax::softmax_fwd(rows, dim, &x, &mut out))
    };
    Case {
        name: format!("{name}_{rows}x{dim}"),
        work: bytes,
        run,
    }
}

/// Names of the kernel benchmarks, in run order.
pub fn names() -> Vec<String> {
    builders().into_iter().map(|(n, _)| n).collect()
}

type Builder = Box<dyn FnOnce() -> Case>;

/// `(name, builder)` pairs: inputs are only allocated for the cases that pass the filter.
pub fn builders() -> Vec<(String, Builder)> {
    let mut v: Vec<(String, Builder)> = Vec::new();
    for n in [512usize, 1024, 2048] {
        v.push((format!("gemm_{n}"), Box::new(move || gemm_case(n))));
    }
    let small = [64, 3, 64, 64];
    let vit_b = [16, 12, 196, 64];
    for (bwd, shape) in [(false, small), (true, small), (false, vit_b), (true, vit_b)] {
        let [b, h, n, d] = shape;
        let kind = if bwd { "fwd_bwd" } else { "fwd" };
        v.push((
            format!("attention_{kind}_b{b}_h{h}_n{n}_d{d}"),
            Box::new(move || attention_case(bwd, shape)),
        ));
    }
    v.push((
        "layernorm_fwd_4096x192".into(),
        Box::new(|| layernorm_case(false, 4096, 192)),
    ));
    v.push((
        "layernorm_fwd_bwd_4096x192".into(),
        Box::new(|| layernorm_case(true, 4096, 192)),
    ));
    v.push((
        "gelu_fwd_4096x768".into(),
        Box::new(|| elementwise_case("gelu_fwd", 4096, 768)),
    ));
    v.push((
        "gelu_fwd_wide_4096x768".into(),
        Box::new(|| elementwise_case("gelu_fwd_wide", 4096, 768)),
    ));
    v.push((
        "softmax_fwd_12288x64".into(),
        Box::new(|| elementwise_case("softmax_fwd", 12288, 64)),
    ));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_names_match_the_cases_they_build() {
        for (name, build) in builders() {
            if name.contains("2048") || name.contains("n196") {
                continue; // large inputs; the names are checked by the listed-names test
            }
            let mut case = build();
            assert_eq!(case.name, name);
            (case.run)();
        }
    }

    #[test]
    fn required_names_are_listed() {
        let names = names();
        for want in [
            "gemm_512",
            "gemm_1024",
            "gemm_2048",
            "attention_fwd_b64_h3_n64_d64",
            "attention_fwd_bwd_b64_h3_n64_d64",
            "attention_fwd_bwd_b16_h12_n196_d64",
            "layernorm_fwd_4096x192",
        ] {
            assert!(names.iter().any(|n| n == want), "{want} missing");
        }
    }

    #[test]
    fn random_values_are_deterministic_and_in_range() {
        let a = random_vec(1000, 3);
        assert_eq!(a, random_vec(1000, 3));
        assert!(a.iter().all(|v| (-1.0..1.0).contains(v)));
        assert!(a.iter().any(|v| *v < -0.5) && a.iter().any(|v| *v > 0.5));
    }
}
