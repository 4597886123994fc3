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
