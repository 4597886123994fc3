//! Rung 2 for copy.cu and unary.cu: strided copies (transposes, narrows with offsets, broadcast
//! sources, strided destinations; f32, bf16, i64), strided binary ops with broadcasting,
//! reductions over leading / inner / middle / all dims (both kernels, sum and max), and every
//! unary op forward and backward, on the CPU through the emulation shim, against the Rust
//! references in `launch::meta` / `launch::UnaryOp`.

#[path = "emu_util.rs"]
mod util;

use jepa_kernels::cuda::emu::EmuArgs;
use jepa_kernels::cuda::launch::meta::{
    binary_strided_ref, reduce_ref, strided_copy_ref, BinaryOp, ReduceMeta, ReduceOp, StridedMeta,
};
use jepa_kernels::cuda::launch::UnaryOp;
use util::*;

/// An operand: element strides and start offset.
type Operand<'a> = (&'a [usize], usize);

/// Row-major strides of `dims`.
fn contiguous(dims: &[usize]) -> Vec<usize> {
    let mut s = vec![1; dims.len()];
    for i in (0..dims.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * dims[i + 1];
    }
    s
}

fn copy_case(dims: &[usize], src: Operand, dst: Operand, src_len: usize, dst_len: usize) {
    let m = StridedMeta::new(dims, src, dst).unwrap();
    assert!(
        m.span_a() <= src_len && m.span_b() <= dst_len,
        "test buffers too small"
    );
    let n = m.elem_count();
    let (g, b) = stride_grid(n);
    let x = data(src_len, 7, 2.0);
    let mut got = vec![-9.0f32; dst_len];
    run(
        "strided_copy_f32",
        g,
        b,
        EmuArgs::new()
            .i64(n as i64)
            .raw(&m)
            .ptr(x.as_ptr())
            .ptr(got.as_mut_ptr()),
    );
    let mut want = vec![-9.0f32; dst_len];
    strided_copy_ref(&m, &x, &mut want);
    assert_close("strided_copy_f32", &got, &want, 0.0, 0.0);

    let xb = to_bf16(&x);
    let mut gb = vec![0u16; dst_len];
    run(
        "strided_copy_bf16",
        g,
        b,
        EmuArgs::new()
            .i64(n as i64)
            .raw(&m)
            .ptr(xb.as_ptr())
            .ptr(gb.as_mut_ptr()),
    );
    let mut wb = vec![0u16; dst_len];
    strided_copy_ref(&m, &xb, &mut wb);
    assert_eq!(gb, wb, "strided_copy_bf16 is bitwise");

    let xi: Vec<i64> = (0..src_len as i64)
        .map(|v| v * 1_000_003 - (1 << 40))
        .collect();
    let mut gi = vec![0i64; dst_len];
    run(
        "strided_copy_i64",
        g,
        b,
        EmuArgs::new()
            .i64(n as i64)
            .raw(&m)
            .ptr(xi.as_ptr())
            .ptr(gi.as_mut_ptr()),
    );
    let mut wi = vec![0i64; dst_len];
    strided_copy_ref(&m, &xi, &mut wi);
    assert_eq!(gi, wi, "strided_copy_i64");
}

#[test]
fn emu_strided_copy_views() {
    // Permute (2, 0, 1) of a contiguous [3, 5, 7] into a contiguous [7, 3, 5].
    copy_case(
        &[7, 3, 5],
        (&[1, 35, 7], 0),
        (&contiguous(&[7, 3, 5]), 0),
        105,
        105,
    );
    // A narrow [2..5) of dim 1 in [4, 6, 3] with its start offset (merges to 2 dims).
    copy_case(
        &[4, 3, 3],
        (&[18, 3, 1], 6),
        (&contiguous(&[4, 3, 3]), 0),
        72,
        36,
    );
    // A broadcast row (stride 0) and a broadcast column.
    copy_case(&[5, 33], (&[0, 1], 3), (&contiguous(&[5, 33]), 0), 36, 165);
    copy_case(&[9, 4], (&[1, 0], 0), (&contiguous(&[9, 4]), 0), 9, 36);
    // Contiguous source into a strided destination (the concat / assign direction).
    copy_case(&[3, 4], (&contiguous(&[3, 4]), 0), (&[10, 1], 5), 12, 40);
    // One element, and a rank-0 copy.
    copy_case(&[1, 1], (&[5, 1], 2), (&[1, 1], 0), 3, 1);
    copy_case(&[], (&[], 4), (&[], 1), 5, 2);
    // Contiguous [2, 3, 4] merges into a single dim.
    assert_eq!(
        StridedMeta::new(&[2, 3, 4], (&[12, 4, 1], 0), (&[12, 4, 1], 0))
            .unwrap()
            .rank,
        1
    );
    assert!(StridedMeta::new(
        &[2; 9],
        (&[1, 3, 9, 27, 81, 243, 729, 2187, 6561], 0),
        (&[0; 9], 0)
    )
    .is_err());
}

#[test]
fn emu_binary_strided_broadcasts() {
    let ops = [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div];
    // [2, 3, 37] ⊙ [37] (row broadcast) and [37, 3] ⊙ transposed [3, 37].
    let cases: [(&[usize], Operand, Operand, usize, usize); 2] = [
        (&[2, 3, 37], (&[111, 37, 1], 0), (&[0, 0, 1], 2), 222, 40),
        (&[37, 3], (&[3, 1], 0), (&[1, 37], 0), 111, 111),
    ];
    for (dims, a, b, la, lb) in cases {
        let m = StridedMeta::new(dims, a, b).unwrap();
        let n = m.elem_count();
        let (g, bl) = stride_grid(n);
        let x = data(la, 1, 2.0);
        // Divisors kept away from 0.
        let y: Vec<f32> = data(lb, 2, 1.0).iter().map(|v| v.abs() + 0.5).collect();
        for op in ops {
            let mut out = vec![f32::NAN; n];
            run(
                "binary_strided_f32",
                g,
                bl,
                EmuArgs::new()
                    .i64(n as i64)
                    .i32(op as i32)
                    .raw(&m)
                    .ptr(x.as_ptr())
                    .ptr(y.as_ptr())
                    .ptr(out.as_mut_ptr()),
            );
            assert_close(
                &format!("{op:?} f32"),
                &out,
                &binary_strided_ref(op, &m, &x, &y),
                0.0,
                0.0,
            );
            let (xb, yb) = (to_bf16(&x), to_bf16(&y));
            let mut ob = vec![0u16; n];
            run(
                "binary_strided_bf16",
                g,
                bl,
                EmuArgs::new()
                    .i64(n as i64)
                    .i32(op as i32)
                    .raw(&m)
                    .ptr(xb.as_ptr())
                    .ptr(yb.as_ptr())
                    .ptr(ob.as_mut_ptr()),
            );
            let want = round_bf16(&binary_strided_ref(
                op,
                &m,
                &from_bf16(&xb),
                &from_bf16(&yb),
            ));
            assert_close(&format!("{op:?} bf16"), &from_bf16(&ob), &want, 0.0, 0.0);
        }
    }
}

fn reduce_case(dims: &[usize], reduce: &[bool], offset: usize) {
    let strides = contiguous(dims);
    let m = ReduceMeta::new(dims, &strides, offset, reduce).unwrap();
    let x = data(offset + dims.iter().product::<usize>(), 3, 2.0);
    let n_out = m.out_count();
    // Literal names, so the coverage test of emu.rs sees both dtypes of both kernels launched.
    let ((k_f32, k_bf16), grid, block) = if m.outputs_contiguous() {
        (
            ("reduce_cols_f32", "reduce_cols_bf16"),
            (n_out.div_ceil(32).clamp(1, 2) as u32, 1, 1),
            (32, 8, 1),
        )
    } else {
        (
            ("reduce_rows_f32", "reduce_rows_bf16"),
            (n_out.clamp(1, 3) as u32, 1, 1),
            (256, 1, 1),
        )
    };
    for op in [ReduceOp::Sum, ReduceOp::Max] {
        let mut out = vec![f32::NAN; n_out];
        run(
            k_f32,
            grid,
            block,
            EmuArgs::new()
                .i64(n_out as i64)
                .i64(m.red_count() as i64)
                .i32(op as i32)
                .raw(&m)
                .ptr(x.as_ptr())
                .ptr(out.as_mut_ptr()),
        );
        let what = format!("{k_f32} {op:?} {dims:?} {reduce:?}");
        assert_close(&what, &out, &reduce_ref(op, &m, &x), F32_TOL.0, F32_TOL.1);
        let xb = to_bf16(&x);
        let mut ob = vec![0u16; n_out];
        run(
            k_bf16,
            grid,
            block,
            EmuArgs::new()
                .i64(n_out as i64)
                .i64(m.red_count() as i64)
                .i32(op as i32)
                .raw(&m)
                .ptr(xb.as_ptr())
                .ptr(ob.as_mut_ptr()),
        );
        let want = round_bf16(&reduce_ref(op, &m, &from_bf16(&xb)));
        assert_close(
            &format!("{what} bf16"),
            &from_bf16(&ob),
            &want,
            BF16_TOL.0,
            BF16_TOL.1,
        );
    }
}

#[test]
fn emu_reduce_over_any_dims() {
    reduce_case(&[5, 300], &[false, true], 0); // rows: inner dim, more terms than threads
    reduce_case(&[300, 45], &[true, false], 1); // cols: leading dim, 45 outputs = 2 tiles
    reduce_case(&[3, 4, 5], &[false, true, false], 0); // middle dim, cols kernel
    reduce_case(&[3, 4, 5], &[true, false, true], 0); // outer and inner, rows kernel
    reduce_case(&[7, 11, 13], &[true, true, true], 2); // everything into one output
    reduce_case(&[4, 1, 3], &[false, true, false], 0); // size-1 reduced dim: a copy
    let m = ReduceMeta::new(&[3, 0], &[0, 1], 0, &[false, true]).unwrap();
    assert_eq!((m.out_count(), m.red_count()), (3, 0));
    let mut out = vec![f32::NAN; 3];
    let x = [0f32; 1];
    run(
        "reduce_rows_f32",
        (1, 1, 1),
        (256, 1, 1),
        EmuArgs::new()
            .i64(3)
            .i64(0)
            .i32(0)
            .raw(&m)
            .ptr(x.as_ptr())
            .ptr(out.as_mut_ptr()),
    );
    assert_eq!(out, vec![0.0; 3], "an empty sum is 0");
}

#[test]
fn emu_unary_ops_and_derivatives() {
    let ops = [
        UnaryOp::Sqr,
        UnaryOp::Sqrt,
        UnaryOp::Exp,
        UnaryOp::Log,
        UnaryOp::Relu,
        UnaryOp::Abs,
        UnaryOp::Tanh,
        UnaryOp::Powf(1.5),
        UnaryOp::Affine {
            mul: -2.5,
            add: 0.75,
        },
    ];
    let n = 257;
    let (g, b) = stride_grid(n);
    let dy = data(n, 5, 1.0);
    for op in ops {
        let (code, p0, p1) = op.code();
        let pos = matches!(op, UnaryOp::Sqrt | UnaryOp::Log | UnaryOp::Powf(_));
        let x: Vec<f32> = data(n, 4, 2.0)
            .into_iter()
            .map(|v| if pos { v.abs() + 0.25 } else { v })
            .collect();
        let mut y = vec![f32::NAN; n];
        run(
            "unary_fwd_f32",
            g,
            b,
            EmuArgs::new()
                .i64(n as i64)
                .i32(code)
                .f32(p0)
                .f32(p1)
                .ptr(x.as_ptr())
                .ptr(y.as_mut_ptr()),
        );
        let want: Vec<f32> = x.iter().map(|&v| op.f(v)).collect();
        assert_close(&format!("{op:?} fwd"), &y, &want, 1e-6, 1e-6);
        let saved = if op.uses_output() { &y } else { &x };
        let mut dx = vec![f32::NAN; n];
        run(
            "unary_bwd_f32",
            g,
            b,
            EmuArgs::new()
                .i64(n as i64)
                .i32(code)
                .f32(p0)
                .ptr(saved.as_ptr())
                .ptr(dy.as_ptr())
                .ptr(dx.as_mut_ptr()),
        );
        let want: Vec<f32> = saved.iter().zip(&dy).map(|(&s, &d)| d * op.df(s)).collect();
        assert_close(&format!("{op:?} bwd"), &dx, &want, 1e-6, 1e-6);

        let xb = to_bf16(&x);
        let mut yb = vec![0u16; n];
        run(
            "unary_fwd_bf16",
            g,
            b,
            EmuArgs::new()
                .i64(n as i64)
                .i32(code)
                .f32(p0)
                .f32(p1)
                .ptr(xb.as_ptr())
                .ptr(yb.as_mut_ptr()),
        );
        let want = round_bf16(&from_bf16(&xb).iter().map(|&v| op.f(v)).collect::<Vec<_>>());
        assert_close(
            &format!("{op:?} fwd bf16"),
            &from_bf16(&yb),
            &want,
            0.0,
            8e-3,
        );
        let (sb, db) = (
            if op.uses_output() {
                yb.clone()
            } else {
                xb.clone()
            },
            to_bf16(&dy),
        );
        let mut dxb = vec![0u16; n];
        run(
            "unary_bwd_bf16",
            g,
            b,
            EmuArgs::new()
                .i64(n as i64)
                .i32(code)
                .f32(p0)
                .ptr(sb.as_ptr())
                .ptr(db.as_ptr())
                .ptr(dxb.as_mut_ptr()),
        );
        let want = round_bf16(
            &from_bf16(&sb)
                .iter()
                .zip(from_bf16(&db))
                .map(|(&s, d)| d * op.df(s))
                .collect::<Vec<_>>(),
        );
        assert_close(
            &format!("{op:?} bwd bf16"),
            &from_bf16(&dxb),
            &want,
            0.0,
            8e-3,
        );
    }
}
