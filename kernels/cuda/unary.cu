// unary.cu — the engine's elementwise unary ops and their derivatives, one kernel per direction
// with the op as a parameter.
//
//   unary_fwd: out[i] = f(x[i])                       f by op code (UnaryOpCode below)
//   unary_bwd: dx[i]  = g[i] · f'(s[i])               s is the input x, or the output y for
//                                                     sqrt, exp and tanh (cheaper from y)
//   ops: sqr x², sqrt √x, exp eˣ, log ln x, relu max(x, 0), abs |x|, tanh, powf xᵖ (p0 = p),
//        affine p0·x + p1 (its derivative is the constant p0)
//   Derivatives at kinks follow the CPU engine: relu' = [x > 0], abs' = sign(x)·[x ≠ 0].
//
// Layout: contiguous `[n]` buffers, f32 or bf16 (f32 arithmetic, rounded once on store).
// Launch: grid-stride over n, 256 threads per block.
// Versions:
//   v1 (production): one element per thread per stride step; the op code is uniform across the
//      launch, so the switch costs no divergence, and one entry point per dtype keeps the
//      registry small instead of eighteen near-identical kernels.

enum UnaryOpCode {
    UN_SQR = 0,
    UN_SQRT = 1,
    UN_EXP = 2,
    UN_LOG = 3,
    UN_RELU = 4,
    UN_ABS = 5,
    UN_TANH = 6,
    UN_POWF = 7,
    UN_AFFINE = 8
};

#define UNARY_LOOP(i, n) \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (long long)gridDim.x * blockDim.x)

__device__ __forceinline__ float unary_f(int op, float p0, float p1, float x) {
    switch (op) {
        case UN_SQR: return x * x;
        case UN_SQRT: return sqrtf(x);
        case UN_EXP: return expf(x);
        case UN_LOG: return logf(x);
        case UN_RELU: return fmaxf(x, 0.0f);
        case UN_ABS: return fabsf(x);
        case UN_TANH: return tanhf(x);
        case UN_POWF: return powf(x, p0);
        default: return p0 * x + p1;
    }
}

// d f / d x, given x (or y = f(x) for sqrt, exp, tanh).
__device__ __forceinline__ float unary_df(int op, float p0, float v) {
    switch (op) {
        case UN_SQR: return 2.0f * v;
        case UN_SQRT: return 0.5f / v;
        case UN_EXP: return v;
        case UN_LOG: return 1.0f / v;
        case UN_RELU: return v > 0.0f ? 1.0f : 0.0f;
        case UN_ABS: return v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : 0.0f);
        case UN_TANH: return 1.0f - v * v;
        case UN_POWF: return p0 * powf(v, p0 - 1.0f);
        default: return p0;
    }
}

template <typename T>
__device__ void unary_fwd_body(long long n, int op, float p0, float p1, const T* x, T* out) {
    UNARY_LOOP(i, n) store_f(out, i, unary_f(op, p0, p1, load_f(x, i)));
}

template <typename T>
__device__ void unary_bwd_body(long long n, int op, float p0, const T* saved, const T* g, T* dx) {
    UNARY_LOOP(i, n) store_f(dx, i, load_f(g, i) * unary_df(op, p0, load_f(saved, i)));
}

extern "C" __global__ void unary_fwd_f32(long long n, int op, float p0, float p1, const float* x, float* out) {
    unary_fwd_body(n, op, p0, p1, x, out);
}
extern "C" __global__ void unary_fwd_bf16(long long n, int op, float p0, float p1, const bf16_t* x, bf16_t* out) {
    unary_fwd_body(n, op, p0, p1, x, out);
}
extern "C" __global__ void unary_bwd_f32(long long n, int op, float p0, const float* saved, const float* g,
                                         float* dx) {
    unary_bwd_body(n, op, p0, saved, g, dx);
}
extern "C" __global__ void unary_bwd_bf16(long long n, int op, float p0, const bf16_t* saved, const bf16_t* g,
                                          bf16_t* dx) {
    unary_bwd_body(n, op, p0, saved, g, dx);
}
