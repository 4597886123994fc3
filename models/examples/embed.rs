//! Load a checkpoint and embed one image: average-pooled target-encoder features.
//!
//!     cargo run --release -p jepa-models --example embed -- runs/a/checkpoint.safetensors cat.jpg
//!
//! The architecture must match the checkpoint: ViT-Tiny/4 at 32 px is the default preset of
//! `jepa pretrain`; change the `VitConfig` line for other runs (`jepa inspect` shows the shapes;
//! `jepa embed` infers them from the file). The forward moves itself onto rayon's pool; a
//! program that runs many ops in a row should wrap the loop in `jepa_engine::on_pool`.

use jepa_engine::{Device, Tensor};
use jepa_models::data::{decode_image, EvalTransform, Transform};
use jepa_models::rng::Rng;
use jepa_models::vit::{VisionTransformer, VitConfig, VitSize};

// Tensors on 64-byte boundaries, as the `jepa` binary allocates them (jepa_kernels::cpu::alloc).
#[global_allocator]
static ALLOC: jepa_kernels::cpu::alloc::AlignedAlloc = jepa_kernels::cpu::alloc::AlignedAlloc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [checkpoint, image] = &args[..] else {
        return Err("usage: embed CHECKPOINT IMAGE".into());
    };
    let encoder = VisionTransformer::new(VitConfig::sized(VitSize::Tiny, 32, 4), vec![], 0, false)?;
    encoder.load_safetensors(checkpoint, "target_encoder.")?;
    let pixels = Transform::Eval(EvalTransform::plain(32))
        .apply(&decode_image(&std::fs::read(image)?)?, &mut Rng::new(0))?;
    let features = encoder
        .forward(&Tensor::from_vec(pixels, [1, 3, 32, 32], Device::Cpu)?)?
        .mean_dims(&[1], false)?;
    println!("{:?}", features.to_vec_f32()?);
    Ok(())
}
