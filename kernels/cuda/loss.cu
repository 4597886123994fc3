// loss.cu — regression losses between predictions z and targets h (mean over all elements),
// their gradients, and the final partial-sum reduction shared with the VICReg kernels.
//
//   smooth-L1: l = 0.5·d²/beta if |d| < beta else |d| − 0.5·beta,  d = z − h
//              dz = upstream/n · (|d| < beta ? d/beta : sign(d))      (beta = 0 is plain L1)
//   MSE:       l = d²,  dz = upstream/n · 2d
//
// Layout: z, h, dz contiguous `[n]`, f32 or bf16; partial `[gridDim.x]` f32; out `[1]` f32.
// Launch:
//   *_partial_*: grid-stride, 256 threads per block, grid ≤ 1024 blocks; each block writes the
//     sum of its elements to partial[blockIdx.x].
//   reduce_sum_scaled_f32: one block of 1024 threads; out[0] = scale · Σ partial.
//   *_bwd_*: grid-stride, 256 threads per block.
// Versions:
//   v1 (production): two launches (block partials, then one block) instead of a float atomicAdd
//      on one address: deterministic, and no contention on a single word.

#define LOSS_LOOP(i, n) \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (long long)gridDim.x * blockDim.x)

__device__ __forceinline__ float smooth_l1_term(float d, float beta) {
    float a = fabsf(d);
    return a < beta ? 0.5f * d * d / beta : a - 0.5f * beta;
}

template <typename T>
__device__ void smooth_l1_partial_body(long long n, const T* z, const T* h, float beta, float* partial,
                                       float* scratch) {
    float s = 0.0f;
    LOSS_LOOP(i, n) s += smooth_l1_term(load_f(z, i) - load_f(h, i), beta);
    s = block_sum(s, scratch);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

template <typename T>
__device__ void smooth_l1_bwd_body(long long n, const T* z, const T* h, float beta, float upstream, T* dz) {
    const float g = upstream / (float)n;
    LOSS_LOOP(i, n) {
        float d = load_f(z, i) - load_f(h, i);
        float dd = fabsf(d) < beta ? d / beta : (d > 0.0f ? 1.0f : (d < 0.0f ? -1.0f : 0.0f));
        store_f(dz, i, g * dd);
    }
}

template <typename T>
__device__ void mse_partial_body(long long n, const T* z, const T* h, float* partial, float* scratch) {
    float s = 0.0f;
    LOSS_LOOP(i, n) {
        float d = load_f(z, i) - load_f(h, i);
        s += d * d;
    }
    s = block_sum(s, scratch);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

template <typename T>
__device__ void mse_bwd_body(long long n, const T* z, const T* h, float upstream, T* dz) {
    const float g = 2.0f * upstream / (float)n;
    LOSS_LOOP(i, n) store_f(dz, i, g * (load_f(z, i) - load_f(h, i)));
}

extern "C" __global__ void smooth_l1_partial_f32(long long n, const float* z, const float* h, float beta, float* partial) {
    __shared__ float scratch[32];
    smooth_l1_partial_body(n, z, h, beta, partial, scratch);
}
extern "C" __global__ void smooth_l1_partial_bf16(long long n, const bf16_t* z, const bf16_t* h, float beta, float* partial) {
    __shared__ float scratch[32];
    smooth_l1_partial_body(n, z, h, beta, partial, scratch);
}
extern "C" __global__ void smooth_l1_bwd_f32(long long n, const float* z, const float* h, float beta, float upstream, float* dz) {
    smooth_l1_bwd_body(n, z, h, beta, upstream, dz);
}
extern "C" __global__ void smooth_l1_bwd_bf16(long long n, const bf16_t* z, const bf16_t* h, float beta, float upstream, bf16_t* dz) {
    smooth_l1_bwd_body(n, z, h, beta, upstream, dz);
}
extern "C" __global__ void mse_partial_f32(long long n, const float* z, const float* h, float* partial) {
    __shared__ float scratch[32];
    mse_partial_body(n, z, h, partial, scratch);
}
extern "C" __global__ void mse_partial_bf16(long long n, const bf16_t* z, const bf16_t* h, float* partial) {
    __shared__ float scratch[32];
    mse_partial_body(n, z, h, partial, scratch);
}
extern "C" __global__ void mse_bwd_f32(long long n, const float* z, const float* h, float upstream, float* dz) {
    mse_bwd_body(n, z, h, upstream, dz);
}
extern "C" __global__ void mse_bwd_bf16(long long n, const bf16_t* z, const bf16_t* h, float upstream, bf16_t* dz) {
    mse_bwd_body(n, z, h, upstream, dz);
}

// One block; blockDim a multiple of 32. Summation order is fixed, so the result is deterministic.
extern "C" __global__ void reduce_sum_scaled_f32(int nparts, const float* partial, float scale, float* out) {
    __shared__ float scratch[32];
    float s = 0.0f;
    for (int i = threadIdx.x; i < nparts; i += blockDim.x) s += partial[i];
    s = block_sum(s, scratch);
    if (threadIdx.x == 0) out[0] = s * scale;
}
