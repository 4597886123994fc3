//! Rung 5 for copy.cu and unary.cu: the public wrappers on a real GPU at sizes that span many
//! blocks, against the Rust references. Without a usable GPU every test prints `skipped: <reason>`
//! and returns, unless `REQUIRE_GPU=1` (then it fails).

#[path = "emu_util.rs"]
mod util;

use std::sync::Arc;

use jepa_kernels::cuda::launch::meta::{
    binary_strided_ref, reduce_ref, strided_copy_ref, BinaryOp, ReduceMeta, ReduceOp, StridedMeta,
};
use jepa_kernels::cuda::launch::{self, UnaryOp};
use jepa_kernels::cuda::{probe, CudaError, CudaRuntime};
use util::{assert_close, data, from_bf16, round_bf16, to_bf16};

fn gpu(test: &str) -> Option<Arc<CudaRuntime>> {
    match probe() {
        Ok(rt) => Some(rt),
        Err(reason) => {
            if std::env::var_os("REQUIRE_GPU").is_some_and(|v| v == "1") {
                panic!("{test}: REQUIRE_GPU=1 but no usable GPU: {reason}");
            }
            println!("skipped: {test}: {reason}");
            None
        }
    }
}

#[test]
fn gpu_strided_copy_and_binary() {
    let Some(rt) = gpu("gpu_strided_copy_and_binary") else {
        return;
    };
    let s = rt.stream();
    // Permute (2, 0, 1) of [64, 33, 129] with a start offset of 5.
    let (a, b, c) = (64usize, 33usize, 129usize);
    let m = StridedMeta::new(&[c, a, b], (&[1, b * c, c], 5), (&[a * b, b, 1], 0)).unwrap();
    let x = data(5 + a * b * c, 1, 2.0);
    let dx = s.clone_htod(&x).unwrap();
    let mut out = s.alloc_zeros::<f32>(a * b * c).unwrap();
    launch::strided_copy(&rt, &m, &dx, &mut out).unwrap();
    let mut want = vec![0f32; a * b * c];
    strided_copy_ref(&m, &x, &mut want);
    assert_close(
        "strided_copy",
        &s.clone_dtoh(&out).unwrap(),
        &want,
        0.0,
        0.0,
    );
    // A destination too short for the descriptor is an error, not a launch.
    let mut short = s.alloc_zeros::<f32>(10).unwrap();
    assert!(matches!(
        launch::strided_copy(&rt, &m, &dx, &mut short),
        Err(CudaError::InvalidArgument { .. })
    ));

    // [rows, 768] ⊙ broadcast [768], every op, f32 and bf16.
    let (rows, d) = (1000usize, 768usize);
    let bm = StridedMeta::new(&[rows, d], (&[d, 1], 0), (&[0, 1], 0)).unwrap();
    let (p, q) = (data(rows * d, 2, 2.0), data(d, 3, 1.0));
    let q: Vec<f32> = q.iter().map(|v| v.abs() + 0.5).collect();
    let (dp, dq) = (s.clone_htod(&p).unwrap(), s.clone_htod(&q).unwrap());
    let (pb, qb) = (to_bf16(&p), to_bf16(&q));
    let (dpb, dqb) = (s.clone_htod(&pb).unwrap(), s.clone_htod(&qb).unwrap());
    for op in [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div] {
        let mut o = s.alloc_zeros::<f32>(rows * d).unwrap();
        launch::binary_strided(&rt, op, &bm, &dp, &dq, &mut o).unwrap();
        let want = binary_strided_ref(op, &bm, &p, &q);
        assert_close(
            &format!("{op:?}"),
            &s.clone_dtoh(&o).unwrap(),
            &want,
            1e-6,
            1e-6,
        );
        let mut ob = s.alloc_zeros::<u16>(rows * d).unwrap();
        launch::binary_strided(&rt, op, &bm, &dpb, &dqb, &mut ob).unwrap();
        let want = round_bf16(&binary_strided_ref(
            op,
            &bm,
            &from_bf16(&pb),
            &from_bf16(&qb),
        ));
        assert_close(
            &format!("{op:?} bf16"),
            &from_bf16(&s.clone_dtoh(&ob).unwrap()),
            &want,
            0.0,
            8e-3,
        );
    }
}

#[test]
fn gpu_reductions_and_unary() {
    let Some(rt) = gpu("gpu_reductions_and_unary") else {
        return;
    };
    let s = rt.stream();
    let dims = [37usize, 300, 65];
    let strides = [300 * 65, 65, 1];
    let x = data(dims.iter().product(), 4, 2.0);
    let dx = s.clone_htod(&x).unwrap();
    for reduce in [
        [true, false, false],
        [false, false, true],
        [true, true, true],
        [false, true, false],
    ] {
        let m = ReduceMeta::new(&dims, &strides, 0, &reduce).unwrap();
        for op in [ReduceOp::Sum, ReduceOp::Max] {
            let mut out = s.alloc_zeros::<f32>(m.out_count()).unwrap();
            launch::reduce(&rt, op, &m, &dx, &mut out).unwrap();
            let want = reduce_ref(op, &m, &x);
            assert_close(
                &format!("reduce {op:?} {reduce:?}"),
                &s.clone_dtoh(&out).unwrap(),
                &want,
                1e-4,
                1e-4,
            );
        }
    }
    let n = (1 << 20) + 3;
    let (u, g) = (data(n, 5, 2.0), data(n, 6, 1.0));
    let pos: Vec<f32> = u.iter().map(|v| v.abs() + 0.25).collect();
    for op in [
        UnaryOp::Exp,
        UnaryOp::Log,
        UnaryOp::Tanh,
        UnaryOp::Powf(1.5),
        UnaryOp::Affine {
            mul: 2.0,
            add: -1.0,
        },
    ] {
        let xin = if matches!(op, UnaryOp::Log | UnaryOp::Powf(_)) {
            &pos
        } else {
            &u
        };
        let (dxin, dg) = (s.clone_htod(xin).unwrap(), s.clone_htod(&g).unwrap());
        let mut y = s.alloc_zeros::<f32>(n).unwrap();
        launch::unary_fwd(&rt, op, &dxin, &mut y).unwrap();
        let hy = s.clone_dtoh(&y).unwrap();
        let want: Vec<f32> = xin.iter().map(|&v| op.f(v)).collect();
        assert_close(&format!("{op:?} fwd"), &hy, &want, 1e-5, 1e-5);
        let saved = if op.uses_output() { &y } else { &dxin };
        let mut dxo = s.alloc_zeros::<f32>(n).unwrap();
        launch::unary_bwd(&rt, op, saved, &dg, &mut dxo).unwrap();
        let hs = if op.uses_output() { &hy } else { xin };
        let want: Vec<f32> = hs.iter().zip(&g).map(|(&v, &d)| d * op.df(v)).collect();
        assert_close(
            &format!("{op:?} bwd"),
            &s.clone_dtoh(&dxo).unwrap(),
            &want,
            1e-5,
            1e-5,
        );
    }
}
