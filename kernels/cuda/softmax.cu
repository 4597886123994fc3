// softmax.cu — row softmax over the last dimension, forward and backward.
//
//   fwd: out_rj = exp(x_rj − max_r) / Σ_j exp(x_rj − max_r)
//   bwd: dx_rj  = out_rj · (dout_rj − Σ_j dout_rj·out_rj)
//
// Layout: x, out, dout, dx `[rows, dim]` contiguous, f32 or bf16 storage, f32 math.
// Launch: one warp per row, 128 threads (4 rows) per block, grid = ceil(rows/4).
// Versions:
//   v1 (production): warp per row, three passes (max, sum, write) reading the row from L1/L2.
//      expf, not __expf: rows of attention-sized logits are compared with an f64 reference.
//      A row of all −inf gives NaN, as in PyTorch; the attention kernels never produce one.

template <typename T>
__device__ void softmax_fwd_body(int rows, int dim, const T* x, T* out) {
    const int lane = threadIdx.x & 31;
    const int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (row >= rows) return;  // warp-uniform, no barriers in this kernel
    const long long base = (long long)row * dim;
    float m = NEG_INF_F;
    for (int j = lane; j < dim; j += 32) m = fmaxf(m, load_f(x, base + j));
    m = warp_max(m);
    float s = 0.0f;
    for (int j = lane; j < dim; j += 32) s += expf(load_f(x, base + j) - m);
    const float inv = 1.0f / warp_sum(s);
    for (int j = lane; j < dim; j += 32) store_f(out, base + j, expf(load_f(x, base + j) - m) * inv);
}

template <typename T>
__device__ void softmax_bwd_body(int rows, int dim, const T* out, const T* dout, T* dx) {
    const int lane = threadIdx.x & 31;
    const int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (row >= rows) return;
    const long long base = (long long)row * dim;
    float dot = 0.0f;
    for (int j = lane; j < dim; j += 32) dot += load_f(dout, base + j) * load_f(out, base + j);
    dot = warp_sum(dot);
    for (int j = lane; j < dim; j += 32) {
        store_f(dx, base + j, load_f(out, base + j) * (load_f(dout, base + j) - dot));
    }
}

extern "C" __global__ void softmax_fwd_f32(int rows, int dim, const float* x, float* out) { softmax_fwd_body(rows, dim, x, out); }
extern "C" __global__ void softmax_fwd_bf16(int rows, int dim, const bf16_t* x, bf16_t* out) { softmax_fwd_body(rows, dim, x, out); }
extern "C" __global__ void softmax_bwd_f32(int rows, int dim, const float* out, const float* dout, float* dx) {
    softmax_bwd_body(rows, dim, out, dout, dx);
}
extern "C" __global__ void softmax_bwd_bf16(int rows, int dim, const bf16_t* out, const bf16_t* dout, bf16_t* dx) {
    softmax_bwd_body(rows, dim, out, dout, dx);
}
