//! Optimisation for I-JEPA and its variants: AdamW with the official param groups, the LR / WD
//! / EMA-momentum schedules, and the target-encoder EMA.

mod adamw;
mod schedule;

pub use adamw::{AdamW, MomentState, ParamGroup};
pub use schedule::{CosineWd, EmaSchedule, WarmupCosine};

use crate::vit::{ModelResult, ParamStore};

/// `target ← m·target + (1 − m)·online` over the whole flat buffers (every parameter, fixed
/// pos embeds included, as the official loop over `parameters()`); layouts must match.
pub fn ema_update(target: &ParamStore, online: &ParamStore, momentum: f32) -> ModelResult<()> {
    target.check_same_layout(online)?;
    Ok(target.flat().ema_(online.flat(), momentum)?)
}
