//! ViT encoder and I-JEPA predictor with the official facebookresearch/ijepa architecture and
//! state-dict names (methods.md §1.2–§1.5, §1.9), built on `jepa-engine` ops so the tape
//! differentiates them: each transformer block is the engine's fused block op, the rest
//! (patch embed, masks, conditioning, norms) primitive ops. One implementation serves training
//! and inference; what decides recording is whether the parameters are trainable.
//!
//! - [`VitConfig`] / [`VitSize`] / [`PredictorConfig`]: tiny … giant and custom sizes.
//! - [`VisionTransformer`]: forward over all tokens, masked forward (gather after the pos embed,
//!   before the blocks), optional per-block outputs and extra / additive conditioning inputs.
//! - [`VisionTransformerPredictor`]: block-major target sequences, official order.
//! - [`ParamStore`]: official-name → parameter map over one flat buffer (load / save
//!   safetensors 1:1, seeded init, flat views for the optimizer and the EMA).

mod block;
mod config;
mod encoder;
mod error;
pub mod index;
mod params;
pub mod pos_embed;
mod predictor;

pub use block::{block_specs, Block};
pub use config::{PredictorConfig, VitConfig, VitSize};
pub use encoder::{encoder_specs, EncoderInputs, EncoderOutput, VisionTransformer};
pub use error::{ModelError, ModelResult};
pub use params::{Init, Param, ParamSpec, ParamStore};
pub use predictor::{predictor_specs, VisionTransformerPredictor};
