use super::*;
use proptest::prelude::*;

/// Deterministic pseudo-random values in [-1, 1) (xorshift), so big cases need no proptest input.
fn fill(len: usize, seed: u64) -> Vec<f32> {
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

/// One operand laid out for a test: `rows × cols` per item, optionally stored transposed,
/// with `pad` spare elements between batch items (or a shared item when `broadcast`).
fn layout(
    batch: usize,
    rows: usize,
    cols: usize,
    trans: bool,
    pad: usize,
    broadcast: bool,
) -> (usize, Strides) {
    let item = rows * cols;
    let mut s = if trans {
        Strides::transposed(rows, cols)
    } else {
        Strides::row_major(rows, cols)
    };
    s.batch = if broadcast { 0 } else { item + pad };
    let items = if broadcast { 1 } else { batch };
    (items * (item + pad), s)
}

#[derive(Clone, Debug)]
struct Case {
    batch: usize,
    m: usize,
    k: usize,
    n: usize,
    ta: bool,
    tb: bool,
    pad: usize,
    broadcast_b: bool,
    bias: bool,
    accumulate: bool,
}

/// Runs `gemm` and `gemm_ref` on the same case; returns (fast, reference, per-element error bound).
fn run(cs: &Case, seed: u64) -> (Vec<f32>, Vec<f32>, Vec<f64>) {
    let (la, sa) = layout(cs.batch, cs.m, cs.k, cs.ta, cs.pad, false);
    let (lb, sb) = layout(cs.batch, cs.k, cs.n, cs.tb, cs.pad, cs.broadcast_b);
    let a = fill(la, seed);
    let b = fill(lb, seed + 1);
    let bias = fill(cs.n, seed + 2);
    let c0 = fill(cs.batch * cs.m * cs.n, seed + 3);
    let bias = cs.bias.then_some(bias.as_slice());
    let (mut fast, mut want) = (c0.clone(), c0.clone());
    gemm(
        cs.batch,
        cs.m,
        cs.k,
        cs.n,
        &a,
        sa,
        &b,
        sb,
        &mut fast,
        bias,
        cs.accumulate,
    );
    gemm_ref(
        cs.batch,
        cs.m,
        cs.k,
        cs.n,
        &a,
        sa,
        &b,
        sb,
        &mut want,
        bias,
        cs.accumulate,
    );
    // Entries are in [-1, 1): the f32 error of a length-k dot product is ≲ k·ε·Σ|a·b| ≤ k²·ε.
    let tol = vec![1e-6 * (1.0 + cs.k as f64) * 4.0; want.len()];
    (fast, want, tol)
}

fn assert_close(fast: &[f32], want: &[f32], tol: &[f64]) -> Result<(), TestCaseError> {
    prop_assert_eq!(fast.len(), want.len());
    for i in 0..want.len() {
        let d = (fast[i] as f64 - want[i] as f64).abs();
        prop_assert!(
            d <= tol[i],
            "element {}: fast {} ref {} (tol {})",
            i,
            fast[i],
            want[i],
            tol[i]
        );
    }
    Ok(())
}

fn dim() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(1usize),
        Just(7),
        Just(17),
        Just(63),
        Just(65),
        1usize..40
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn gemm_matches_ref(
        batch in 1usize..4, m in dim(), k in dim(), n in dim(),
        ta: bool, tb: bool, pad in 0usize..3, broadcast_b: bool, bias: bool, accumulate: bool,
        seed in 0u64..1000,
    ) {
        let cs = Case { batch, m, k, n, ta, tb, pad, broadcast_b, bias, accumulate };
        let (fast, want, tol) = run(&cs, seed);
        assert_close(&fast, &want, &tol)?;
    }
}

#[test]
fn gemm_zero_sized_dims() {
    for (batch, m, k, n) in [
        (0, 3, 4, 5),
        (2, 0, 4, 5),
        (2, 3, 0, 5),
        (2, 3, 4, 0),
        (0, 0, 0, 0),
    ] {
        for (bias, accumulate) in [(false, false), (true, false), (false, true), (true, true)] {
            let cs = Case {
                batch,
                m,
                k,
                n,
                ta: false,
                tb: true,
                pad: 0,
                broadcast_b: false,
                bias,
                accumulate,
            };
            let (fast, want, _) = run(&cs, 7);
            assert_eq!(
                fast, want,
                "shape {batch}x{m}x{k}x{n} bias {bias} acc {accumulate}"
            );
        }
    }
    // k = 0 without bias or accumulation must clear c, whatever it held.
    let mut c = vec![f32::NAN; 6];
    gemm(
        1,
        2,
        0,
        3,
        &[],
        Strides::row_major(2, 0),
        &[],
        Strides::row_major(0, 3),
        &mut c,
        None,
        false,
    );
    assert_eq!(c, vec![0.0; 6]);
}

#[test]
fn gemm_attention_sized_batch_matches_ref() {
    // 64×64×64 products over many items: the batch-parallel path with single-threaded items.
    let cs = Case {
        batch: 24,
        m: 64,
        k: 64,
        n: 64,
        ta: false,
        tb: true,
        pad: 0,
        broadcast_b: false,
        bias: false,
        accumulate: false,
    };
    let (fast, want, tol) = run(&cs, 11);
    assert_close(&fast, &want, &tol).unwrap();
}

/// `matrixmultiply` as an independent oracle on larger products: one item threaded inside the
/// crate, three big items (uneven over threads, so threaded inside each), four over the batch.
#[test]
fn gemm_large_matches_matrixmultiply() {
    let shapes = [(1, 193, 130, 257), (3, 300, 260, 257), (4, 193, 130, 65)];
    let modes = [(false, false), (true, false), (false, true), (true, true)];
    for ((batch, m, k, n), (ta, tb)) in shapes.into_iter().flat_map(|s| modes.map(|t| (s, t))) {
        let (la, sa) = layout(batch, m, k, ta, 5, false);
        let (lb, sb) = layout(batch, k, n, tb, 0, false);
        let a = fill(la, 21);
        let b = fill(lb, 22);
        let bias = fill(n, 23);
        let mut fast = fill(batch * m * n, 24);
        let mut want = fast.clone();
        gemm(batch, m, k, n, &a, sa, &b, sb, &mut fast, Some(&bias), true);
        for bi in 0..batch {
            let cb = &mut want[bi * m * n..(bi + 1) * m * n];
            for row in cb.chunks_exact_mut(n) {
                row.iter_mut().zip(&bias).for_each(|(o, v)| *o += v);
            }
            // SAFETY: strides and extents describe the vectors allocated above.
            unsafe {
                matrixmultiply::sgemm(
                    m,
                    k,
                    n,
                    1.0,
                    a.as_ptr().add(bi * sa.batch),
                    sa.row as isize,
                    sa.col as isize,
                    b.as_ptr().add(bi * sb.batch),
                    sb.row as isize,
                    sb.col as isize,
                    1.0,
                    cb.as_mut_ptr(),
                    n as isize,
                    1,
                );
            }
        }
        for (i, (f, w)) in fast.iter().zip(&want).enumerate() {
            assert!(
                (f - w).abs() <= 1e-4,
                "ta {ta} tb {tb} element {i}: {f} vs {w}"
            );
        }
    }
}

#[test]
fn check_gemm_args_reports_short_operands() {
    let a = vec![0.0; 6];
    let b = vec![0.0; 12];
    let c = vec![0.0; 8];
    let (sa, sb) = (Strides::row_major(2, 3), Strides::row_major(3, 4));
    assert_eq!(
        check_gemm_args(1, 2, 3, 4, &a, sa, &b, sb, &c, None),
        Ok(())
    );
    assert_eq!(
        check_gemm_args(2, 2, 3, 4, &a, sa, &b, sb, &c, None),
        Err(GemmArgError::TooShort {
            operand: "a",
            needed: 12,
            len: 6
        })
    );
    let err = check_gemm_args(1, 2, 3, 4, &a, sa, &b, sb, &c, Some(&[1.0; 3]));
    assert_eq!(
        err,
        Err(GemmArgError::TooShort {
            operand: "bias",
            needed: 4,
            len: 3
        })
    );
    let huge = Strides {
        batch: usize::MAX / 2,
        row: 1,
        col: 1,
    };
    assert_eq!(
        check_gemm_args(3, 2, 3, 4, &a, huge, &b, sb, &c, None),
        Err(GemmArgError::Overflow { operand: "a" })
    );
}

#[test]
#[should_panic(expected = "needs 12 elements")]
fn gemm_panics_with_message_on_short_operand() {
    let mut c = vec![0.0; 16];
    gemm(
        2,
        2,
        3,
        4,
        &[0.0; 6],
        Strides::row_major(2, 3),
        &[0.0; 24],
        Strides::row_major(3, 4),
        &mut c,
        None,
        false,
    );
}

/// Sizes around a blocked kernel's edges: tiles of `tile` and blocks of `block`.
fn edge_dim(tile: usize, block: usize) -> impl Strategy<Value = usize> {
    prop_oneof![
        1usize..3 * tile,
        (1usize..4).prop_flat_map(move |i| (i * tile - 1)..=(i * tile + 1)),
        (block - 2)..(block + 3),
        1usize..2 * block + 40,
    ]
}

/// The bf16 products a reduced precision computes, in f64: `Medium` multiplies `hi` parts,
/// `High` adds `lo·hi + hi·lo`.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
fn reduced_ref(
    three: bool,
    cs: &Case,
    a: &[f32],
    sa: Strides,
    b: &[f32],
    sb: Strides,
    c: &mut [f32],
    bias: Option<&[f32]>,
) {
    let parts = |v: &[f32]| -> (Vec<f64>, Vec<f64>) {
        v.iter()
            .map(|&x| {
                let (h, l) = super::bf16_pack::split(x);
                let f = |u: u16| f32::from_bits((u as u32) << 16) as f64;
                (f(h), f(l))
            })
            .unzip()
    };
    let ((ah, al), (bh, bl)) = (parts(a), parts(b));
    for bi in 0..cs.batch {
        for i in 0..cs.m {
            for j in 0..cs.n {
                let mut acc = bias.map_or(0.0, |b| b[j] as f64);
                for p in 0..cs.k {
                    let x = bi * sa.batch + i * sa.row + p * sa.col;
                    let y = bi * sb.batch + p * sb.row + j * sb.col;
                    acc += ah[x] * bh[y];
                    if three {
                        acc += al[x] * bh[y] + ah[x] * bl[y];
                    }
                }
                let o = &mut c[(bi * cs.m + i) * cs.n + j];
                *o = if cs.accumulate {
                    (*o as f64 + acc) as f32
                } else {
                    acc as f32
                };
            }
        }
    }
}

/// Runs one case at `High` or `Medium` and compares with what that precision must compute
/// here: the bf16 products where AMX takes the shape, the f32 product elsewhere.
fn check_reduced(cs: &Case, three: bool, seed: u64) -> Result<(), TestCaseError> {
    let precision = if three {
        MatmulPrecision::High
    } else {
        MatmulPrecision::Medium
    };
    let (la, sa) = layout(cs.batch, cs.m, cs.k, cs.ta, cs.pad, false);
    let (lb, sb) = layout(cs.batch, cs.k, cs.n, cs.tb, cs.pad, false);
    let (a, b) = (fill(la, seed), fill(lb, seed + 1));
    let bias_v = fill(cs.n, seed + 2);
    let bias = cs.bias.then_some(bias_v.as_slice());
    let c0 = fill(cs.batch * cs.m * cs.n, seed + 3);
    let (mut got, mut want) = (c0.clone(), c0.clone());
    let (batch, m, k, n) = (cs.batch, cs.m, cs.k, cs.n);
    gemm_at(
        precision,
        batch,
        m,
        k,
        n,
        &a,
        sa,
        &b,
        sb,
        &mut got,
        bias,
        cs.accumulate,
    );
    let amx_used = reduced_precision_available() && amx_pays(precision, m, k, n);
    #[cfg(target_arch = "x86_64")]
    if amx_used {
        reduced_ref(three, cs, &a, sa, &b, sb, &mut want, bias);
    }
    if !amx_used {
        gemm_ref(
            batch,
            m,
            k,
            n,
            &a,
            sa,
            &b,
            sb,
            &mut want,
            bias,
            cs.accumulate,
        );
    }
    let tol = vec![4e-6 * (2.0 + k as f64); want.len()];
    assert_close(&got, &want, &tol)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    /// `High` and `Medium` compute exactly the bf16 products they promise where AMX runs them
    /// (checked against an f64 evaluation of the same products, so packing, padding and the
    /// tile kernel are checked to f32 rounding), on shapes across the 32-wide blocks, the
    /// task blocks and the 1024-deep k blocks; elsewhere they must equal the f32 path.
    #[test]
    fn reduced_precision_matches_its_bf16_reference(
        m in edge_dim(32, 64), k in edge_dim(32, 1024), n in edge_dim(32, 64),
        ta: bool, tb: bool, bias: bool, accumulate: bool, batch in 1usize..3,
        three: bool, seed in 0u64..1000,
    ) {
        let cs = Case { batch, m, k, n, ta, tb, pad: 1, broadcast_b: false, bias, accumulate };
        check_reduced(&cs, three, seed)?;
    }
}

/// Shapes that take the AMX path at both precisions and cross a k block (1024) with partial
/// blocks on every edge, for each operand layout.
#[test]
fn reduced_precision_crosses_k_blocks() {
    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
        let cs = Case {
            batch: 1,
            m: 100,
            k: 1100,
            n: 70,
            ta,
            tb,
            pad: 0,
            broadcast_b: false,
            bias: true,
            accumulate: true,
        };
        for three in [false, true] {
            check_reduced(&cs, three, 7).unwrap();
        }
    }
}

/// The precisions' accuracy against exact f64 products, where AMX runs them: `High` keeps
/// about 16 significant bits per operand, `Medium` 8. Entries in [-1, 1), k = 700.
#[test]
fn reduced_precision_error_is_what_each_level_promises() {
    let (m, k, n) = (70, 700, 90);
    let (a, b) = (fill(m * k, 41), fill(k * n, 42));
    let (sa, sb) = (Strides::row_major(m, k), Strides::row_major(k, n));
    let mut exact = vec![0f32; m * n];
    gemm_ref(1, m, k, n, &a, sa, &b, sb, &mut exact, None, false);
    // Σ|a·b| per entry is about k/4 for uniform [-1, 1) entries.
    let scale = k as f64 / 4.0;
    for (precision, bound) in [
        (MatmulPrecision::High, 2e-5),
        (MatmulPrecision::Medium, 1e-2),
    ] {
        let mut got = vec![0f32; m * n];
        gemm_at(precision, 1, m, k, n, &a, sa, &b, sb, &mut got, None, false);
        let worst = got
            .iter()
            .zip(&exact)
            .map(|(g, e)| (*g as f64 - *e as f64).abs() / scale)
            .fold(0.0, f64::max);
        assert!(
            worst < bound,
            "{precision}: worst relative error {worst:e} ≥ {bound:e}"
        );
        if reduced_precision_available() && precision == MatmulPrecision::Medium {
            // Medium really rounds: an f32 path would be ~1e-7 here.
            assert!(
                worst > 1e-5,
                "medium looks like f32 ({worst:e}): AMX path not taken?"
            );
        }
    }
}

#[test]
fn matmul_precision_parses_and_is_process_wide() {
    for p in MatmulPrecision::ALL {
        assert_eq!(p.name().parse::<MatmulPrecision>(), Ok(p));
    }
    assert!("bf16"
        .parse::<MatmulPrecision>()
        .unwrap_err()
        .contains("expected highest"));
    assert_eq!(matmul_precision(), MatmulPrecision::Highest);
}

/// Operands that are neither row- nor column-contiguous (every other element of a wider
/// matrix) take the scalar packers; they must pack the same products.
#[test]
fn reduced_precision_packs_any_strides() {
    let (m, k, n) = (70, 300, 90);
    let sa = Strides {
        batch: 0,
        row: 2 * k,
        col: 2,
    };
    let sb = Strides {
        batch: 0,
        row: 3 * n,
        col: 3,
    };
    let (a, b) = (fill(m * 2 * k, 5), fill(k * 3 * n, 6));
    let cs = Case {
        batch: 1,
        m,
        k,
        n,
        ta: false,
        tb: false,
        pad: 0,
        broadcast_b: false,
        bias: false,
        accumulate: false,
    };
    for (three, p) in [
        (true, MatmulPrecision::High),
        (false, MatmulPrecision::Medium),
    ] {
        let mut got = vec![0f32; m * n];
        let mut want = vec![0f32; m * n];
        gemm_at(p, 1, m, k, n, &a, sa, &b, sb, &mut got, None, false);
        if reduced_precision_available() {
            #[cfg(target_arch = "x86_64")]
            reduced_ref(three, &cs, &a, sa, &b, sb, &mut want, None);
        } else {
            gemm_ref(1, m, k, n, &a, sa, &b, sb, &mut want, None, false);
        }
        assert_close(&got, &want, &vec![4e-6 * (2.0 + k as f64); m * n]).unwrap();
    }
}
