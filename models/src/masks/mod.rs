//! I-JEPA multi-block masks (methods.md §2): per batch, `npred` target blocks and `nenc` context
//! masks per image, as patch indices on an `H × W` grid (row-major, `0..H·W`).
//!
//! Two modes: [`MaskMode::Parity`] reproduces the official collator's algorithm and quirks;
//! [`MaskMode::Fixed`] repairs them for small grids. Neither can loop forever: parity rejects the
//! configurations on which the official loop hangs, fixed caps its retries.

mod block;
mod collate;
mod config;
mod generator;

pub use block::{fixed_block_size, parity_block_size, BlockSize};
pub use collate::IndexBatch;
pub use config::{ContextLists, FixedOptions, MaskConfig, MaskMode};
pub use generator::{MaskBatch, MaskGenerator};

/// Mask-generator failures.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum MaskError {
    #[error("invalid mask config: {0}")]
    InvalidConfig(String),
    /// A configuration on which the official algorithm would never terminate.
    #[error("mask config would hang the official algorithm: {0}")]
    WouldHang(String),
    #[error("mask batch size must be >= 1")]
    EmptyBatch,
    /// Fixed mode: no context with enough free patches was found within the retry caps.
    #[error(
        "image {image}: no context block keeps >= {min_keep} patches outside the targets after \
         {attempts} attempts; lower min_keep, the target scale or npred"
    )]
    ContextTooSmall {
        image: usize,
        min_keep: usize,
        attempts: usize,
    },
    /// Parity: the bounded context loop ran out (cannot happen for a validated config).
    #[error("parity context loop exceeded {draws} draws")]
    RetryCap { draws: usize },
}
