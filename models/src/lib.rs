//! `jepa-models`: ViT encoder/predictor with official I-JEPA names, masks, JEPA variants, data,
//! evaluation and checkpoints.

pub mod checkpoint;
pub mod data;
pub mod eval;
pub mod jepa;
pub mod masks;
pub mod metrics;
pub mod optim;
pub mod rng;
pub mod train;
pub mod vit;
