//! The model layer's error type: engine failures plus configuration, parameter-store and mask
//! problems, each naming the offending parameter or argument.

/// `Result` with [`ModelError`].
pub type ModelResult<T> = std::result::Result<T, ModelError>;

/// Everything the ViT / JEPA API can fail with. No public function panics on bad input.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A tensor op or safetensors IO failed.
    #[error(transparent)]
    Engine(#[from] jepa_engine::Error),
    /// An invalid model, optimizer or method configuration.
    #[error("invalid config: {0}")]
    Config(String),
    /// A parameter the model needs is absent from a state dict.
    #[error("parameter `{name}` missing from {origin}")]
    MissingParam { name: String, origin: String },
    /// A state dict holds a name the model does not have.
    #[error("unexpected parameter `{name}` in {origin}")]
    UnknownParam { name: String, origin: String },
    /// A parameter or gradient with the wrong shape.
    #[error("parameter `{name}`: expected shape {expected:?}, got {found:?}")]
    ParamShape {
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    /// A stored fixed position embedding that is not the sin-cos table (wrong layout or grid).
    #[error("`{name}` differs from the 2-D sin-cos table by {max_diff:e}")]
    PosEmbedMismatch { name: String, max_diff: f64 },
    /// Mask index lists that do not fit the batch or the patch grid.
    #[error("invalid masks: {0}")]
    Mask(String),
    /// Input tensors of the wrong shape (images, features).
    #[error("invalid input: {0}")]
    Input(String),
    /// A training step's loss came out NaN or infinite; it is checked before backward, so the
    /// parameters are untouched.
    #[error("non-finite loss {loss}")]
    NonFiniteLoss { loss: f32 },
}
