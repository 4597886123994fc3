//! The kernel registry: every `.cu` file, embedded with `include_str!`, and its entry points.
//!
//! The loader, the NVRTC budget test (rung 1) and the GPU tests all walk this one table, so a new
//! kernel that is not registered here is caught by a test instead of failing at first launch.

/// `common.cuh`, prepended to every kernel source (the crate's files are not on disk at run time).
pub const COMMON_CUH: &str = include_str!("../../cuda/common.cuh");

/// One `.cu` file: one NVRTC module holding every dtype instantiation of an op family.
#[derive(Debug)]
pub struct KernelFile {
    /// Stable name, also the module cache key (`"attention"` for `attention.cu`).
    pub name: &'static str,
    /// The `.cu` text as checked in (without `common.cuh`).
    pub source: &'static str,
    /// Every `extern "C"` entry point the file defines; unique across the crate.
    pub entries: &'static [&'static str],
    /// The largest block size any entry is launched with; bounds the register budget
    /// (65536 registers per SM / threads per block, at most 255).
    pub max_threads_per_block: u32,
}

impl KernelFile {
    /// The exact source NVRTC compiles: `common.cuh` followed by the file.
    pub fn full_source(&self) -> String {
        format!(
            "{COMMON_CUH}\n#line 1 \"{}.cu\"\n{}",
            self.name, self.source
        )
    }

    /// Register budget per thread implied by the launch configuration.
    pub fn register_budget(&self) -> u32 {
        (65536 / self.max_threads_per_block.max(1)).min(255)
    }
}

/// Static shared memory any entry may use (the default limit without opting in to more).
pub const STATIC_SMEM_BUDGET: u32 = 48 * 1024;

macro_rules! kernel_file {
    ($name:literal, $threads:expr, [$($entry:literal),* $(,)?]) => {
        KernelFile {
            name: $name,
            source: include_str!(concat!("../../cuda/", $name, ".cu")),
            entries: &[$($entry),*],
            max_threads_per_block: $threads,
        }
    };
}

/// All kernel files. Keep in sync with `kernels/cuda/*.cu` (the rung-1 test checks both ways).
pub static KERNEL_FILES: &[KernelFile] = &[
    kernel_file!(
        "elementwise",
        256,
        [
            "add_f32",
            "add_bf16",
            "mul_f32",
            "mul_bf16",
            "scale_f32",
            "scale_bf16",
            "axpy_f32",
            "axpy_bf16",
            "fill_f32",
            "fill_bf16",
            "cast_f32_to_bf16",
            "cast_bf16_to_f32",
        ]
    ),
    kernel_file!(
        "gelu",
        256,
        [
            "gelu_fwd_f32",
            "gelu_fwd_bf16",
            "gelu_bwd_f32",
            "gelu_bwd_bf16"
        ]
    ),
    kernel_file!(
        "layernorm",
        256,
        [
            "layernorm_fwd_f32",
            "layernorm_fwd_bf16",
            "layernorm_bwd_dx_f32",
            "layernorm_bwd_dx_bf16",
            "layernorm_bwd_params_f32",
            "layernorm_bwd_params_bf16",
        ]
    ),
    kernel_file!(
        "softmax",
        128,
        [
            "softmax_fwd_f32",
            "softmax_fwd_bf16",
            "softmax_bwd_f32",
            "softmax_bwd_bf16"
        ]
    ),
    kernel_file!(
        "loss",
        1024,
        [
            "smooth_l1_partial_f32",
            "smooth_l1_partial_bf16",
            "smooth_l1_bwd_f32",
            "smooth_l1_bwd_bf16",
            "mse_partial_f32",
            "mse_partial_bf16",
            "mse_bwd_f32",
            "mse_bwd_bf16",
            "reduce_sum_scaled_f32",
        ]
    ),
    kernel_file!("optim", 256, ["adamw_step_f32", "ema_update_f32"]),
    kernel_file!(
        "patchify",
        256,
        [
            "patchify_f32",
            "patchify_bf16",
            "unpatchify_f32",
            "unpatchify_bf16"
        ]
    ),
    kernel_file!(
        "gather",
        256,
        [
            "gather_rows_f32",
            "gather_rows_bf16",
            "scatter_add_rows_f32",
            "scatter_add_rows_bf16"
        ]
    ),
    kernel_file!(
        "vicreg",
        256,
        [
            "vicreg_colstats_f32",
            "vicreg_center_f32",
            "vicreg_gram_f32",
            "vicreg_finalize_f32",
            "vicreg_cov_grad_f32",
        ]
    ),
    kernel_file!(
        "attention",
        128,
        [
            "attention_fwd_d32_f32",
            "attention_fwd_d64_f32",
            "attention_fwd_d128_f32",
            "attention_fwd_d32_bf16",
            "attention_fwd_d64_bf16",
            "attention_fwd_d128_bf16",
            "attention_bwd_dkdv_d32_f32",
            "attention_bwd_dkdv_d64_f32",
            "attention_bwd_dkdv_d128_f32",
            "attention_bwd_dkdv_d32_bf16",
            "attention_bwd_dkdv_d64_bf16",
            "attention_bwd_dkdv_d128_bf16",
            "attention_bwd_dq_d32_f32",
            "attention_bwd_dq_d64_f32",
            "attention_bwd_dq_d128_f32",
            "attention_bwd_dq_d32_bf16",
            "attention_bwd_dq_d64_bf16",
            "attention_bwd_dq_d128_bf16",
            "attention_bwd_delta_f32",
            "attention_bwd_delta_bf16",
        ]
    ),
    kernel_file!(
        "copy",
        256,
        [
            "strided_copy_f32",
            "strided_copy_bf16",
            "strided_copy_i64",
            "binary_strided_f32",
            "binary_strided_bf16",
            "reduce_rows_f32",
            "reduce_rows_bf16",
            "reduce_cols_f32",
            "reduce_cols_bf16",
        ]
    ),
    kernel_file!(
        "unary",
        256,
        [
            "unary_fwd_f32",
            "unary_fwd_bf16",
            "unary_bwd_f32",
            "unary_bwd_bf16"
        ]
    ),
];

/// Looks a file up by name.
pub fn kernel_file(name: &str) -> Option<&'static KernelFile> {
    KERNEL_FILES.iter().find(|f| f.name == name)
}
