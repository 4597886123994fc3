// gather.cu — masked gather of token rows and its backward, a scatter-add.
//
//   gather:      out[i, j, :] = x[i, index[i, j], :]
//   scatter_add: dx[i, index[i, j], :] += dout[i, j, :]   (dx zero-filled by the caller first)
//
// Layout: x, dx `[b, n, d]`; index `[b, k]` int32 with values in 0..n (validated by the caller;
// out-of-range entries are skipped rather than written out of bounds); out, dout `[b, k, d]`.
// x/out/dout in f32 or bf16; dx is always f32, because repeated indices accumulate.
// Launch: grid-stride over the b·k·d gathered elements, 256 threads per block.
// Versions:
//   v1 (production): one element per thread, float atomicAdd for the scatter. Indices repeat
//      (the context and target masks of I-JEPA overlap across predictor blocks), so a plain store
//      would lose contributions; rows are d ≥ 32 floats, so contention on one address is rare.
//      Atomics make the summation order, and so the last bits, vary run to run.

#define GATHER_LOOP(i, n) \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (long long)gridDim.x * blockDim.x)

template <typename T>
__device__ void gather_rows_body(int b, int n, int d, int k, const T* x, const int* index, T* out) {
    const long long total = (long long)b * k * d;
    GATHER_LOOP(t, total) {
        const long long row = t / d;  // row in [b·k]
        const int col = (int)(t - row * d);
        const int bi = (int)(row / k);
        const int src = index[row];
        out[t] = (src >= 0 && src < n) ? x[((long long)bi * n + src) * d + col] : (T)0;
    }
}

template <typename T>
__device__ void scatter_add_rows_body(int b, int n, int d, int k, const T* dout, const int* index, float* dx) {
    const long long total = (long long)b * k * d;
    GATHER_LOOP(t, total) {
        const long long row = t / d;
        const int col = (int)(t - row * d);
        const int bi = (int)(row / k);
        const int dst = index[row];
        if (dst >= 0 && dst < n) atomicAdd(&dx[((long long)bi * n + dst) * d + col], load_f(dout, t));
    }
}

extern "C" __global__ void gather_rows_f32(int b, int n, int d, int k, const float* x, const int* index, float* out) {
    gather_rows_body(b, n, d, k, x, index, out);
}
extern "C" __global__ void gather_rows_bf16(int b, int n, int d, int k, const bf16_t* x, const int* index, bf16_t* out) {
    gather_rows_body(b, n, d, k, x, index, out);
}
extern "C" __global__ void scatter_add_rows_f32(int b, int n, int d, int k, const float* dout, const int* index, float* dx) {
    scatter_add_rows_body(b, n, d, k, dout, index, dx);
}
extern "C" __global__ void scatter_add_rows_bf16(int b, int n, int d, int k, const bf16_t* dout, const int* index, float* dx) {
    scatter_add_rows_body(b, n, d, k, dout, index, dx);
}
