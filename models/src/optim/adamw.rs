//! AdamW over the official four parameter groups ({encoder, predictor} × {decay, no-decay},
//! methods.md §1.8) on the parameter stores' flat buffers, with the kernels' fused update.
//!
//! Moments live in flat vectors laid out like each store, so a parameter is a slice at the same
//! offset in param, m and v. Step counts are per parameter, as in PyTorch: a parameter that
//! received no gradient in a step is skipped and keeps its count.

use crate::vit::{ModelError, ModelResult, ParamStore};
use jepa_engine::{AdamWStep, DType, Gradients, Tensor};

/// One parameter group: parameters of one model (store index) with one lr and weight decay.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamGroup {
    pub name: String,
    /// Index into the stores passed to [`AdamW::step`].
    pub model: usize,
    /// Parameter indices into that store.
    pub params: Vec<usize>,
    pub lr: f64,
    pub weight_decay: f64,
    /// The official `WD_exclude` flag: the weight-decay schedule never writes this group.
    pub wd_exclude: bool,
}

/// Per-store optimizer state: flat moment tensors laid out like the store (on its device).
#[derive(Clone, Debug)]
pub struct MomentState {
    pub m: Tensor,
    pub v: Tensor,
    /// Steps taken by each parameter of the store.
    pub steps: Vec<u64>,
}

/// AdamW with param groups.
#[derive(Clone, Debug)]
pub struct AdamW {
    pub betas: (f32, f32),
    pub eps: f32,
    pub groups: Vec<ParamGroup>,
    state: Vec<MomentState>,
    layouts: Vec<(usize, usize)>,
}

impl AdamW {
    /// The official grouping over `models` (`(name, store)`, e.g. encoder then predictor): all
    /// decay groups first, then the no-decay groups (weight decay 0, `wd_exclude`). Only
    /// trainable parameters of trainable stores are included.
    pub fn official(
        models: &[(&str, &ParamStore)],
        lr: f64,
        weight_decay: f64,
        betas: (f32, f32),
        eps: f32,
    ) -> ModelResult<AdamW> {
        let mut groups = Vec::new();
        for decay in [true, false] {
            for (mi, (name, store)) in models.iter().enumerate() {
                let params = store
                    .params()
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| p.var().is_some() && p.decayed() == decay)
                    .map(|(i, _)| i)
                    .collect();
                groups.push(ParamGroup {
                    name: format!("{name}.{}", if decay { "decay" } else { "no_decay" }),
                    model: mi,
                    params,
                    lr,
                    weight_decay: if decay { weight_decay } else { 0.0 },
                    wd_exclude: !decay,
                });
            }
        }
        let state = models
            .iter()
            .map(|(_, s)| {
                let zeros = || Tensor::zeros([s.numel()], DType::F32, s.flat().device());
                Ok(MomentState {
                    m: zeros()?,
                    v: zeros()?,
                    steps: vec![0; s.len()],
                })
            })
            .collect::<ModelResult<_>>()?;
        let layouts = models.iter().map(|(_, s)| (s.numel(), s.len())).collect();
        Ok(AdamW {
            betas,
            eps,
            groups,
            state,
            layouts,
        })
    }

    /// Writes `lr` into every group.
    pub fn set_lr(&mut self, lr: f64) {
        self.groups.iter_mut().for_each(|g| g.lr = lr);
    }
    /// Writes `wd` into the groups without `wd_exclude` (the official WD schedule).
    pub fn set_weight_decay(&mut self, wd: f64) {
        self.groups
            .iter_mut()
            .filter(|g| !g.wd_exclude)
            .for_each(|g| g.weight_decay = wd);
    }
    /// Optimizer state per store.
    pub fn state(&self) -> &[MomentState] {
        &self.state
    }
    /// Replaces the state (checkpoint resume); layouts must match.
    pub fn set_state(&mut self, state: Vec<MomentState>) -> ModelResult<()> {
        let ok = state.len() == self.layouts.len()
            && state
                .iter()
                .zip(&self.layouts)
                .all(|(s, &(n, k))| s.m.dims() == [n] && s.v.dims() == [n] && s.steps.len() == k);
        if !ok {
            return Err(ModelError::Config(
                "optimizer state does not match the model layout".into(),
            ));
        }
        self.state = state;
        Ok(())
    }

    fn check_stores(&self, stores: &[&ParamStore]) -> ModelResult<()> {
        if stores.len() != self.layouts.len()
            || stores
                .iter()
                .zip(&self.layouts)
                .any(|(s, &(n, k))| s.numel() != n || s.len() != k)
        {
            return Err(ModelError::Config(
                "stores passed to AdamW::step differ from those it was built for".into(),
            ));
        }
        Ok(())
    }

    /// One update of every parameter that has a gradient in `grads` (the engine's in-place
    /// `adamw_` on the parameter, a slice of the moments at its offset, and its gradient).
    pub fn step(&mut self, stores: &[&ParamStore], grads: &Gradients) -> ModelResult<()> {
        self.check_stores(stores)?;
        for g in &self.groups {
            let store = stores[g.model];
            let st = &mut self.state[g.model];
            for &pi in &g.params {
                let p = &store.params()[pi];
                let Some(grad) = p.var().and_then(|v| v.grad(grads)) else {
                    continue;
                };
                let (off, n) = (p.offset(), p.numel());
                let step = st.steps[pi] + 1;
                let hp = AdamWStep {
                    lr: g.lr as f32,
                    beta1: self.betas.0,
                    beta2: self.betas.1,
                    eps: self.eps,
                    weight_decay: g.weight_decay as f32,
                    step,
                };
                let flat = |t: &Tensor| t.narrow(0, off, n)?.reshape(p.shape().to_vec());
                let (m, v) = (flat(&st.m)?, flat(&st.v)?);
                p.value().adamw_(grad, &m, &v, hp)?;
                st.steps[pi] = step;
            }
        }
        Ok(())
    }
}
