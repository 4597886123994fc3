//! I-JEPA and the project's C-JEPA / EC-IJEPA interpretations (methods.md §1, §3, §4).
//!
//! [`Jepa`] owns the context encoder, predictor, EMA target encoder and AdamW; one
//! [`Jepa::train_step`] is the official step (§1.10). [`JepaConfig`] selects the [`Method`],
//! the loss, the C-JEPA variant ([`CJepaConfig`]) and the EC-IJEPA conditioning
//! ([`EcConfig`]).

mod bench;
mod cjepa;
mod cond;
mod config;
mod model;

pub use bench::{bench_ijepa_step, bench_vit_forward, peak_rss_mib, tiny_step_config, BenchReport};
pub use cjepa::{pool, VicTerms};
pub use cond::{cond_specs, CondKeep};
pub use config::{
    CJepaConfig, CJepaVariant, Conditioning, EcConfig, EvalPolicy, JepaConfig, Method, OptimConfig,
    RegressionLoss,
};
pub use model::{Batch, Jepa, LossOutput, StepHyper, StepStats};
