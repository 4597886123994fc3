// elementwise.cu — the pointwise ops the autograd needs, f32 and bf16 (f32 arithmetic).
//
//   add:   out[i] = a[i] + b[i]
//   mul:   out[i] = a[i] * b[i]
//   scale: out[i] = alpha * x[i]
//   axpy:  y[i]   = alpha * x[i] + y[i]          (in place, the gradient-accumulation op)
//   fill:  out[i] = value
//   cast:  f32 <-> bf16 (round to nearest even)
//
// Layout: contiguous 1-D buffers of n elements (the engine makes views contiguous first).
// Launch: grid-stride loop, 256 threads per block, grid = min(ceil(n/256), 65535·k); any n.
// Versions:
//   v1 (production): one element per thread per stride step. These ops are bandwidth bound and
//      a grid-stride loop keeps the launch independent of n; vectorised float4 loads would need
//      alignment guarantees that engine views do not give.

#define EW_LOOP(i, n) \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (long long)gridDim.x * blockDim.x)

template <typename T>
__device__ void add_body(long long n, const T* a, const T* b, T* out) {
    EW_LOOP(i, n) store_f(out, i, load_f(a, i) + load_f(b, i));
}
template <typename T>
__device__ void mul_body(long long n, const T* a, const T* b, T* out) {
    EW_LOOP(i, n) store_f(out, i, load_f(a, i) * load_f(b, i));
}
template <typename T>
__device__ void scale_body(long long n, float alpha, const T* x, T* out) {
    EW_LOOP(i, n) store_f(out, i, alpha * load_f(x, i));
}
template <typename T>
__device__ void axpy_body(long long n, float alpha, const T* x, T* y) {
    EW_LOOP(i, n) store_f(y, i, alpha * load_f(x, i) + load_f(y, i));
}
template <typename T>
__device__ void fill_body(long long n, float value, T* out) {
    EW_LOOP(i, n) store_f(out, i, value);
}

extern "C" __global__ void add_f32(long long n, const float* a, const float* b, float* out) { add_body(n, a, b, out); }
extern "C" __global__ void add_bf16(long long n, const bf16_t* a, const bf16_t* b, bf16_t* out) { add_body(n, a, b, out); }
extern "C" __global__ void mul_f32(long long n, const float* a, const float* b, float* out) { mul_body(n, a, b, out); }
extern "C" __global__ void mul_bf16(long long n, const bf16_t* a, const bf16_t* b, bf16_t* out) { mul_body(n, a, b, out); }
extern "C" __global__ void scale_f32(long long n, float alpha, const float* x, float* out) { scale_body(n, alpha, x, out); }
extern "C" __global__ void scale_bf16(long long n, float alpha, const bf16_t* x, bf16_t* out) { scale_body(n, alpha, x, out); }
extern "C" __global__ void axpy_f32(long long n, float alpha, const float* x, float* y) { axpy_body(n, alpha, x, y); }
extern "C" __global__ void axpy_bf16(long long n, float alpha, const bf16_t* x, bf16_t* y) { axpy_body(n, alpha, x, y); }
extern "C" __global__ void fill_f32(long long n, float value, float* out) { fill_body(n, value, out); }
extern "C" __global__ void fill_bf16(long long n, float value, bf16_t* out) { fill_body(n, value, out); }

extern "C" __global__ void cast_f32_to_bf16(long long n, const float* x, bf16_t* out) {
    EW_LOOP(i, n) out[i] = f32_to_bf16(x[i]);
}
extern "C" __global__ void cast_bf16_to_f32(long long n, const bf16_t* x, float* out) {
    EW_LOOP(i, n) out[i] = bf16_to_f32(x[i]);
}
