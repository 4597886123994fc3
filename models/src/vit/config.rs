//! ViT and predictor configurations (methods.md §1.2, §1.4): the official sizes and a custom one.

use super::error::{ModelError, ModelResult};

/// The official encoder sizes (D / depth / heads).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VitSize {
    Tiny,
    Small,
    Base,
    Large,
    Huge,
    Giant,
}

impl VitSize {
    /// `(dim, depth, heads, mlp_hidden)`; giant uses mlp_ratio 48/11.
    pub fn dims(self) -> (usize, usize, usize, usize) {
        match self {
            VitSize::Tiny => (192, 12, 3, 768),
            VitSize::Small => (384, 12, 6, 1536),
            VitSize::Base => (768, 12, 12, 3072),
            VitSize::Large => (1024, 24, 16, 4096),
            VitSize::Huge => (1280, 32, 16, 5120),
            // int(1408 * 48 / 11) = 6144, as the official factory computes it.
            VitSize::Giant => (1408, 40, 16, 6144),
        }
    }
    /// Parses `tiny`, `vit_tiny`, `small`, … (case-insensitive).
    pub fn parse(s: &str) -> Option<VitSize> {
        let s = s.to_ascii_lowercase();
        let s = s.strip_prefix("vit_").unwrap_or(&s);
        Some(match s {
            "tiny" => VitSize::Tiny,
            "small" => VitSize::Small,
            "base" => VitSize::Base,
            "large" => VitSize::Large,
            "huge" => VitSize::Huge,
            "giant" => VitSize::Giant,
            _ => return None,
        })
    }
}

/// A ViT encoder: patch embed, fixed sin-cos position embedding, pre-norm blocks, final norm.
#[derive(Clone, Debug, PartialEq)]
pub struct VitConfig {
    pub img_size: usize,
    pub patch_size: usize,
    pub in_chans: usize,
    pub dim: usize,
    pub depth: usize,
    pub heads: usize,
    pub mlp_hidden: usize,
    pub qkv_bias: bool,
    /// Every LayerNorm in the encoder (official: 1e-6).
    pub ln_eps: f32,
}

impl VitConfig {
    /// An official size at the given image and patch size.
    pub fn sized(size: VitSize, img_size: usize, patch_size: usize) -> VitConfig {
        let (dim, depth, heads, mlp_hidden) = size.dims();
        VitConfig {
            img_size,
            patch_size,
            in_chans: 3,
            dim,
            depth,
            heads,
            mlp_hidden,
            qkv_bias: true,
            ln_eps: 1e-6,
        }
    }
    /// A custom width / depth / heads with mlp_ratio 4.
    pub fn custom(
        dim: usize,
        depth: usize,
        heads: usize,
        img_size: usize,
        patch_size: usize,
    ) -> VitConfig {
        VitConfig {
            img_size,
            patch_size,
            in_chans: 3,
            dim,
            depth,
            heads,
            mlp_hidden: 4 * dim,
            qkv_bias: true,
            ln_eps: 1e-6,
        }
    }
    /// Patches per side.
    pub fn grid(&self) -> usize {
        self.img_size / self.patch_size.max(1)
    }
    /// Tokens per image, N = grid².
    pub fn num_patches(&self) -> usize {
        self.grid() * self.grid()
    }
    /// Flattened patch length `C·p·p` (the patch-embed GEMM's inner dim).
    pub fn patch_dim(&self) -> usize {
        self.in_chans * self.patch_size * self.patch_size
    }
    /// Checks the sizes fit together.
    pub fn validate(&self) -> ModelResult<()> {
        let bad = |m: String| Err(ModelError::Config(m));
        if self.patch_size == 0
            || self.img_size == 0
            || !self.img_size.is_multiple_of(self.patch_size)
        {
            return bad(format!(
                "image size {} is not a positive multiple of patch size {}",
                self.img_size, self.patch_size
            ));
        }
        check_width("encoder", self.dim, self.heads)?;
        if self.depth == 0 || self.mlp_hidden == 0 || self.in_chans == 0 {
            return bad("depth, mlp_hidden and in_chans must be >= 1".into());
        }
        check_eps(self.ln_eps)
    }
}

/// The I-JEPA predictor: narrow ViT over context tokens plus mask tokens (methods.md §1.4).
#[derive(Clone, Debug, PartialEq)]
pub struct PredictorConfig {
    /// Encoder width D (input and output width).
    pub enc_dim: usize,
    /// Tokens per image of the encoder grid.
    pub num_patches: usize,
    /// Predictor width Dp.
    pub dim: usize,
    pub depth: usize,
    /// Official: equal to the encoder's heads.
    pub heads: usize,
    pub mlp_hidden: usize,
    pub qkv_bias: bool,
    pub ln_eps: f32,
}

impl PredictorConfig {
    /// A predictor of width `dim` and `depth` blocks for `enc`, with the encoder's heads.
    pub fn for_encoder(enc: &VitConfig, dim: usize, depth: usize) -> PredictorConfig {
        PredictorConfig {
            enc_dim: enc.dim,
            num_patches: enc.num_patches(),
            dim,
            depth,
            heads: enc.heads,
            mlp_hidden: 4 * dim,
            qkv_bias: true,
            ln_eps: enc.ln_eps,
        }
    }
    /// Patches per side (the predictor's pos-embed grid).
    pub fn grid(&self) -> usize {
        (self.num_patches as f64).sqrt().round() as usize
    }
    pub fn validate(&self) -> ModelResult<()> {
        let g = self.grid();
        if self.num_patches == 0 || g * g != self.num_patches {
            return Err(ModelError::Config(format!(
                "predictor needs a square grid, got {} patches",
                self.num_patches
            )));
        }
        check_width("predictor", self.dim, self.heads)?;
        if self.enc_dim == 0 || self.depth == 0 || self.mlp_hidden == 0 {
            return Err(ModelError::Config(
                "predictor enc_dim, depth and mlp_hidden must be >= 1".into(),
            ));
        }
        check_eps(self.ln_eps)
    }
}

fn check_width(what: &str, dim: usize, heads: usize) -> ModelResult<()> {
    if heads == 0 || dim == 0 || !dim.is_multiple_of(heads) {
        return Err(ModelError::Config(format!(
            "{what} width {dim} is not a positive multiple of {heads} heads"
        )));
    }
    if !dim.is_multiple_of(4) {
        return Err(ModelError::Config(format!(
            "{what} width {dim} must be a multiple of 4 for the 2-D sin-cos embedding"
        )));
    }
    Ok(())
}

fn check_eps(eps: f32) -> ModelResult<()> {
    if eps.is_finite() && eps >= 0.0 {
        Ok(())
    } else {
        Err(ModelError::Config(format!(
            "LayerNorm eps {eps} must be finite and >= 0"
        )))
    }
}
