// layernorm.cu — LayerNorm over the last dimension (biased variance), forward and backward.
//
//   fwd: mean_r = Σ_j x_rj / dim, rstd_r = 1/sqrt(Σ_j (x_rj − mean_r)²/dim + eps)
//        out_rj = (x_rj − mean_r)·rstd_r·w_j + b_j           (w, b optional: null = 1, 0)
//   bwd: xhat = (x − mean)·rstd, g = dout·w
//        dx_rj = rstd_r·(g_rj − mean_j(g_r) − xhat_rj·mean_j(g_r·xhat_r))
//        dw_j  = Σ_r dout_rj·xhat_rj, db_j = Σ_r dout_rj          (separate params kernel)
//
// Layout: x, out, dout, dx `[rows, dim]` contiguous, in the kernel dtype (f32 or bf16);
// weight, bias, dweight, dbias `[dim]` f32; mean, rstd `[rows]` f32.
// Launch:
//   layernorm_fwd_*, layernorm_bwd_dx_*: one warp per row, 128 threads (4 rows) per block,
//     grid = ceil(rows/4). Rows past the end are whole warps that skip their work.
//   layernorm_bwd_params_*: block (32 columns × 8 row slices) = 256 threads, grid = ceil(dim/32).
// Versions:
//   v1 (production): warp per row, two passes over the row (mean, then centred variance). The
//      centred second pass costs one more read from L1/L2 but avoids E[x²]−E[x]² cancellation,
//      which loses all precision for rows with a large mean. dweight/dbias are a column reduction
//      in a separate kernel instead of atomics so results are deterministic run to run.

template <typename T>
__device__ void layernorm_fwd_body(int rows, int dim, float eps, const T* x, const float* weight,
                                   const float* bias, T* out, float* mean, float* rstd) {
    const int lane = threadIdx.x & 31;
    const int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (row >= rows) return;  // warp-uniform: the whole warp leaves together, no barriers here
    const long long base = (long long)row * dim;
    float s = 0.0f;
    for (int j = lane; j < dim; j += 32) s += load_f(x, base + j);
    const float mu = warp_sum(s) / (float)dim;
    float ss = 0.0f;
    for (int j = lane; j < dim; j += 32) {
        float d = load_f(x, base + j) - mu;
        ss += d * d;
    }
    const float rs = rsqrtf(warp_sum(ss) / (float)dim + eps);
    for (int j = lane; j < dim; j += 32) {
        float y = (load_f(x, base + j) - mu) * rs;
        if (weight) y *= weight[j];
        if (bias) y += bias[j];
        store_f(out, base + j, y);
    }
    if (lane == 0) {
        mean[row] = mu;
        rstd[row] = rs;
    }
}

template <typename T>
__device__ void layernorm_bwd_dx_body(int rows, int dim, const T* x, const float* weight,
                                      const float* mean, const float* rstd, const T* dout, T* dx) {
    const int lane = threadIdx.x & 31;
    const int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (row >= rows) return;  // warp-uniform
    const long long base = (long long)row * dim;
    const float mu = mean[row];
    const float rs = rstd[row];
    float sg = 0.0f, sgx = 0.0f;
    for (int j = lane; j < dim; j += 32) {
        float g = load_f(dout, base + j) * (weight ? weight[j] : 1.0f);
        sg += g;
        sgx += g * (load_f(x, base + j) - mu) * rs;
    }
    const float mg = warp_sum(sg) / (float)dim;
    const float mgx = warp_sum(sgx) / (float)dim;
    for (int j = lane; j < dim; j += 32) {
        float g = load_f(dout, base + j) * (weight ? weight[j] : 1.0f);
        float xhat = (load_f(x, base + j) - mu) * rs;
        store_f(dx, base + j, rs * (g - mg - xhat * mgx));
    }
}

// blockDim must be (32, 8). dweight/dbias may be null (then that sum is skipped). Shared arrays
// are declared in the extern "C" kernels, not here: statics of template functions are COMDAT
// and would escape the emulator's shared-memory poisoning.
template <typename T>
__device__ void layernorm_bwd_params_body(int rows, int dim, const T* x, const float* mean,
                                          const float* rstd, const T* dout, float* dweight,
                                          float* dbias, float (*sw)[33], float (*sb)[33]) {
    const int col = blockIdx.x * 32 + threadIdx.x;
    float aw = 0.0f, ab = 0.0f;
    if (col < dim) {
        for (int r = threadIdx.y; r < rows; r += 8) {
            long long i = (long long)r * dim + col;
            float d = load_f(dout, i);
            aw += d * (load_f(x, i) - mean[r]) * rstd[r];
            ab += d;
        }
    }
    sw[threadIdx.y][threadIdx.x] = aw;
    sb[threadIdx.y][threadIdx.x] = ab;
    __syncthreads();
    if (threadIdx.y == 0 && col < dim) {
        float tw = 0.0f, tb = 0.0f;
        for (int k = 0; k < 8; ++k) {
            tw += sw[k][threadIdx.x];
            tb += sb[k][threadIdx.x];
        }
        if (dweight) dweight[col] = tw;
        if (dbias) dbias[col] = tb;
    }
}

extern "C" __global__ void layernorm_fwd_f32(int rows, int dim, float eps, const float* x, const float* weight,
                                             const float* bias, float* out, float* mean, float* rstd) {
    layernorm_fwd_body(rows, dim, eps, x, weight, bias, out, mean, rstd);
}
extern "C" __global__ void layernorm_fwd_bf16(int rows, int dim, float eps, const bf16_t* x, const float* weight,
                                              const float* bias, bf16_t* out, float* mean, float* rstd) {
    layernorm_fwd_body(rows, dim, eps, x, weight, bias, out, mean, rstd);
}
extern "C" __global__ void layernorm_bwd_dx_f32(int rows, int dim, const float* x, const float* weight,
                                                const float* mean, const float* rstd, const float* dout, float* dx) {
    layernorm_bwd_dx_body(rows, dim, x, weight, mean, rstd, dout, dx);
}
extern "C" __global__ void layernorm_bwd_dx_bf16(int rows, int dim, const bf16_t* x, const float* weight,
                                                 const float* mean, const float* rstd, const bf16_t* dout, bf16_t* dx) {
    layernorm_bwd_dx_body(rows, dim, x, weight, mean, rstd, dout, dx);
}
extern "C" __global__ void layernorm_bwd_params_f32(int rows, int dim, const float* x, const float* mean,
                                                    const float* rstd, const float* dout, float* dweight, float* dbias) {
    __shared__ float sw[8][33];
    __shared__ float sb[8][33];
    layernorm_bwd_params_body(rows, dim, x, mean, rstd, dout, dweight, dbias, sw, sb);
}
extern "C" __global__ void layernorm_bwd_params_bf16(int rows, int dim, const bf16_t* x, const float* mean,
                                                     const float* rstd, const bf16_t* dout, float* dweight, float* dbias) {
    __shared__ float sw[8][33];
    __shared__ float sb[8][33];
    layernorm_bwd_params_body(rows, dim, x, mean, rstd, dout, dweight, dbias, sw, sb);
}
