//! The one comparison helper every op test calls (tinygrad-style): forward against an f64
//! reference, gradients against central finite differences, then the same op in bf16 against
//! the f32 results.
//!
//! Finite-difference choice: inputs are random multiples of 2⁻¹⁰ in a small range and the step
//! is h = 2⁻⁷, so `x ± h` is exact in f32 and the step in the quotient is exactly `2h`. The
//! loss `Σ op(x) ⊙ r` is summed in f64 from the f32 forward; its rounding noise divided by 2h
//! plus the O(h²) truncation stays well below the 2e-3·max(1, |g|max) tolerance for the smooth
//! ops tested here (inputs are kept away from kinks such as relu's 0).

use crate::{with_no_grad, DType, Device, Gradients, Result, Tensor};

const H: f64 = 1.0 / 128.0;

/// Random f32 tensor with entries k/1024 in [-1, 1] (exactly representable, see module doc).
pub(crate) fn rand(shape: &[usize], seed: u64) -> Tensor {
    rand_in(shape, -1.0, 1.0, seed)
}

/// Random f32 tensor with entries k/1024 in [lo, hi].
pub(crate) fn rand_in(shape: &[usize], lo: f32, hi: f32, seed: u64) -> Tensor {
    let t = Tensor::rand_uniform(shape.to_vec(), lo, hi, seed, Device::Cpu).unwrap();
    let v = t
        .to_vec_f32()
        .unwrap()
        .into_iter()
        .map(|x| (x * 1024.0).round() / 1024.0)
        .collect();
    Tensor::from_vec(v, shape.to_vec(), Device::Cpu).unwrap()
}

/// Asserts `|got - want| <= tol · max(1, max|want|)` elementwise.
pub(crate) fn assert_close(got: &[f32], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(1f64, |m, w| m.max(w.abs()));
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let err = (g as f64 - w).abs();
        assert!(
            err <= tol * scale,
            "{what}[{i}]: got {g}, want {w} (err {err:.3e}, tol {:.3e})",
            tol * scale
        );
    }
}

fn to_f64(t: &Tensor) -> Vec<f64> {
    t.to_vec_f32().unwrap().into_iter().map(f64::from).collect()
}

/// Analytic gradients of `Σ f(x) ⊙ r` for leaves made from `inputs` (None where unreached).
fn analytic(
    inputs: &[Tensor],
    f: &dyn Fn(&[Tensor]) -> Result<Tensor>,
    r: &Tensor,
) -> (Tensor, Vec<Option<Tensor>>) {
    let leaves: Vec<Tensor> = inputs.iter().map(Tensor::requires_grad).collect();
    let y = f(&leaves).expect("forward");
    let mut grads = Gradients::new();
    y.backward_with(&r.to_dtype(y.dtype()).unwrap(), &mut grads)
        .expect("backward");
    let g = leaves.iter().map(|l| grads.get(l).cloned()).collect();
    (y, g)
}

/// Checks the gradients of `f` at `inputs` (f32) against central finite differences.
pub(crate) fn check_grad(inputs: &[Tensor], f: impl Fn(&[Tensor]) -> Result<Tensor>) {
    let y = with_no_grad(|| f(inputs)).expect("forward");
    let r = rand(y.dims(), 0x5eed);
    let (_, grads) = analytic(inputs, &f, &r);
    let rv = to_f64(&r);
    let loss = |xs: &[Tensor]| -> f64 {
        let y = with_no_grad(|| f(xs)).expect("forward");
        to_f64(&y).iter().zip(&rv).map(|(a, b)| a * b).sum()
    };
    for (i, x) in inputs.iter().enumerate() {
        let mut xs = inputs.to_vec();
        let mut data = x.to_vec_f32().unwrap();
        let mut numeric = Vec::with_capacity(data.len());
        for j in 0..data.len() {
            let x0 = data[j];
            let mut eval = |v: f32| {
                data[j] = v;
                xs[i] = Tensor::from_vec(data.clone(), x.shape().clone(), Device::Cpu).unwrap();
                loss(&xs)
            };
            let (lp, lm) = (eval(x0 + H as f32), eval(x0 - H as f32));
            data[j] = x0;
            numeric.push((lp - lm) / (2.0 * H));
        }
        let got = match &grads[i] {
            Some(g) => g.to_vec_f32().unwrap(),
            None => vec![0.0; numeric.len()],
        };
        assert_close(&got, &numeric, 2e-3, &format!("grad of input {i}"));
    }
}

/// Forward against `reference` (f64 on the input values), gradients by finite differences,
/// and the bf16 version of the op against both (looser tolerance: bf16 keeps 8 mantissa bits).
pub(crate) fn check(
    inputs: &[Tensor],
    f: impl Fn(&[Tensor]) -> Result<Tensor>,
    reference: impl Fn(&[Vec<f64>]) -> Vec<f64>,
) {
    let vals: Vec<Vec<f64>> = inputs.iter().map(to_f64).collect();
    let y = with_no_grad(|| f(inputs)).expect("forward");
    assert_close(
        &y.to_vec_f32().unwrap(),
        &reference(&vals),
        1e-5,
        "forward f32",
    );
    check_grad(inputs, &f);

    let r = rand(y.dims(), 0x5eed);
    let (_, g32) = analytic(inputs, &f, &r);
    let lowp: Vec<Tensor> = inputs
        .iter()
        .map(|x| x.to_dtype(DType::BF16).unwrap())
        .collect();
    let (y16, g16) = analytic(&lowp, &f, &r);
    assert_eq!(y16.dtype(), DType::BF16, "bf16 in, bf16 out");
    let vals16: Vec<Vec<f64>> = lowp.iter().map(to_f64).collect();
    assert_close(
        &y16.to_vec_f32().unwrap(),
        &reference(&vals16),
        3e-2,
        "forward bf16",
    );
    for (i, (a, b)) in g16.iter().zip(&g32).enumerate() {
        if let (Some(a), Some(b)) = (a, b) {
            assert_eq!(a.dtype(), DType::BF16, "bf16 gradient dtype");
            assert_close(
                &a.to_vec_f32().unwrap(),
                &to_f64(b),
                6e-2,
                &format!("bf16 grad of input {i}"),
            );
        }
    }
}
