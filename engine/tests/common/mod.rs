//! One test body per device (design.md §1, candle-style): [`device_test!`] runs a body on the CPU
//! and, when `jepa_kernels::cuda::probe()` finds a usable GPU, again on `Device::Cuda(0)`.
//! Without one the CUDA half prints `skipped: <test> on cuda:0: <reason>`; `REQUIRE_GPU=1`
//! turns that skip into a failure (GPU hosts).
//!
//! [`check`] is the device-generic op check: the forward on the device against an f64
//! reference, the gradients of `Σ f(x) ⊙ r` from backward on the device against central finite
//! differences evaluated on the same device, the same op in bf16 against both, and every result
//! asserted to live on the device under test (no silent host fallback). Finite differences use
//! inputs that are multiples of 2⁻¹⁰ and a step of 2⁻⁷, so `x ± h` is exact in f32 (see the
//! engine's `ops::check`).
#![allow(dead_code)]

use jepa_engine::{with_no_grad, DType, Device, Gradients, Result, Tensor};

const H: f64 = 1.0 / 128.0;

/// The devices a test body runs on.
pub fn devices(test: &str) -> Vec<Device> {
    let mut v = vec![Device::Cpu];
    match jepa_kernels::cuda::probe() {
        Ok(_) => v.push(Device::Cuda(0)),
        Err(reason) => {
            if std::env::var_os("REQUIRE_GPU").is_some_and(|v| v == "1") {
                panic!("{test}: REQUIRE_GPU=1 but no usable GPU: {reason}");
            }
            println!("skipped: {test} on cuda:0: {reason}");
        }
    }
    v
}

/// `#[test] fn $name()` running `$body` once per device in [`devices`], with `$dev` bound.
#[macro_export]
macro_rules! device_test {
    ($name:ident, |$dev:ident| $body:block) => {
        #[test]
        fn $name() {
            for $dev in common::devices(stringify!($name)) {
                println!("{} on {}", stringify!($name), $dev);
                $body
            }
        }
    };
}

/// Forward tolerance relative to `max(1, max|want|)`: the GPU's `expf`/`rsqrtf`, cuBLAS and the
/// f32 device reductions round differently from the CPU's f64 accumulation.
pub fn fwd_tol(dev: Device) -> f64 {
    if dev.is_cpu() {
        1e-5
    } else {
        5e-5
    }
}

/// Random CPU f32 tensor with entries k/1024 in [-1, 1].
pub fn rand(shape: &[usize], seed: u64) -> Tensor {
    rand_in(shape, -1.0, 1.0, seed)
}

/// Random CPU f32 tensor with entries k/1024 in [lo, hi].
pub fn rand_in(shape: &[usize], lo: f32, hi: f32, seed: u64) -> Tensor {
    let t = Tensor::rand_uniform(shape.to_vec(), lo, hi, seed, Device::Cpu).unwrap();
    let v = t
        .to_vec_f32()
        .unwrap()
        .into_iter()
        .map(|x| (x * 1024.0).round() / 1024.0)
        .collect();
    Tensor::from_vec(v, shape.to_vec(), Device::Cpu).unwrap()
}

/// Asserts `|got − want| ≤ tol · max(1, max|want|)` elementwise.
pub fn assert_close(got: &[f32], want: &[f64], tol: f64, what: &str) {
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

pub fn to_f64(t: &Tensor) -> Vec<f64> {
    t.to_vec_f32().unwrap().into_iter().map(f64::from).collect()
}

/// Moves CPU inputs to `dev`.
pub fn on(dev: Device, xs: &[Tensor]) -> Vec<Tensor> {
    xs.iter().map(|x| x.to_device(dev).unwrap()).collect()
}

/// Output of `f` and gradients of `Σ f(x) ⊙ r` at `inputs` (already on the device).
fn analytic(
    inputs: &[Tensor],
    f: &dyn Fn(&[Tensor]) -> Result<Tensor>,
    r: &Tensor,
) -> (Tensor, Vec<Option<Tensor>>) {
    let leaves: Vec<Tensor> = inputs.iter().map(Tensor::requires_grad).collect();
    let y = f(&leaves).expect("forward");
    let mut grads = Gradients::new();
    let r = r
        .to_device(y.device())
        .unwrap()
        .to_dtype(y.dtype())
        .unwrap();
    y.backward_with(&r, &mut grads).expect("backward");
    (y, leaves.iter().map(|l| grads.get(l).cloned()).collect())
}

/// Gradients of `f` at CPU `inputs`, computed on `dev`, against finite differences on `dev`.
pub fn check_grad(dev: Device, inputs: &[Tensor], f: impl Fn(&[Tensor]) -> Result<Tensor>) {
    let xs = on(dev, inputs);
    let y = with_no_grad(|| f(&xs)).expect("forward");
    let r = rand(y.dims(), 0x5eed);
    let (_, grads) = analytic(&xs, &f, &r);
    let rv = to_f64(&r);
    let loss = |xs: &[Tensor]| -> f64 {
        let y = with_no_grad(|| f(xs)).expect("forward");
        to_f64(&y).iter().zip(&rv).map(|(a, b)| a * b).sum()
    };
    for (i, x) in inputs.iter().enumerate() {
        let mut cur = xs.clone();
        let mut data = x.to_vec_f32().unwrap();
        let mut numeric = Vec::with_capacity(data.len());
        for j in 0..data.len() {
            let x0 = data[j];
            let mut eval = |v: f32| {
                data[j] = v;
                cur[i] = Tensor::from_vec(data.clone(), x.shape().clone(), dev).unwrap();
                loss(&cur)
            };
            let (lp, lm) = (eval(x0 + H as f32), eval(x0 - H as f32));
            data[j] = x0;
            numeric.push((lp - lm) / (2.0 * H));
        }
        let got = match &grads[i] {
            Some(g) => {
                assert_eq!(g.device(), dev, "gradient of input {i} left the device");
                g.to_vec_f32().unwrap()
            }
            None => vec![0.0; numeric.len()],
        };
        assert_close(&got, &numeric, 2e-3, &format!("{dev}: grad of input {i}"));
    }
}

/// The full per-device op check (module docs): f32 forward vs `reference`, gradients vs finite
/// differences, then bf16 forward and gradients.
pub fn check(
    dev: Device,
    inputs: &[Tensor],
    f: impl Fn(&[Tensor]) -> Result<Tensor>,
    reference: impl Fn(&[Vec<f64>]) -> Vec<f64>,
) {
    let vals: Vec<Vec<f64>> = inputs.iter().map(to_f64).collect();
    let xs = on(dev, inputs);
    let y = with_no_grad(|| f(&xs)).expect("forward");
    assert_eq!(y.device(), dev, "forward left the device");
    assert_close(
        &y.to_vec_f32().unwrap(),
        &reference(&vals),
        fwd_tol(dev),
        &format!("{dev}: forward f32"),
    );
    check_grad(dev, inputs, &f);

    let r = rand(y.dims(), 0x5eed);
    let (_, g32) = analytic(&xs, &f, &r);
    let lowp: Vec<Tensor> = xs
        .iter()
        .map(|x| x.to_dtype(DType::BF16).unwrap())
        .collect();
    let (y16, g16) = analytic(&lowp, &f, &r);
    assert_eq!(
        (y16.dtype(), y16.device()),
        (DType::BF16, dev),
        "bf16 in, bf16 out"
    );
    let vals16: Vec<Vec<f64>> = lowp.iter().map(to_f64).collect();
    assert_close(
        &y16.to_vec_f32().unwrap(),
        &reference(&vals16),
        3e-2,
        &format!("{dev}: forward bf16"),
    );
    for (i, (a, b)) in g16.iter().zip(&g32).enumerate() {
        if let (Some(a), Some(b)) = (a, b) {
            assert_eq!((a.dtype(), a.device()), (DType::BF16, dev), "bf16 gradient");
            assert_close(
                &a.to_vec_f32().unwrap(),
                &to_f64(b),
                6e-2,
                &format!("{dev}: bf16 grad of input {i}"),
            );
        }
    }
}

/// A reference that evaluates `f` on the CPU in f32 (for ops whose CPU version is itself
/// checked against an f64 reference in the engine's unit tests): makes the device half a
/// device-vs-CPU comparison.
pub fn cpu_reference<'a>(
    shapes: Vec<Vec<usize>>,
    f: impl Fn(&[Tensor]) -> Result<Tensor> + 'a,
) -> impl Fn(&[Vec<f64>]) -> Vec<f64> + 'a {
    move |vals: &[Vec<f64>]| {
        let xs: Vec<Tensor> = vals
            .iter()
            .zip(&shapes)
            .map(|(v, s)| {
                let v: Vec<f32> = v.iter().map(|&x| x as f32).collect();
                Tensor::from_vec(v, s.clone(), Device::Cpu).unwrap()
            })
            .collect();
        to_f64(&with_no_grad(|| f(&xs)).expect("cpu reference"))
    }
}
