// common.cuh — shared by every kernel file; the loader prepends it to each .cu source (the crate's
// files are not on disk at run time) and the emulation harness includes it before each .cu.
//
// Header-free on purpose: NVRTC 12.9 does not embed cuda_bf16.h, and the CPU emulator must build
// without NVIDIA headers. bf16 is therefore stored as `unsigned short` (the top 16 bits of an f32)
// and converted with the two helpers below; all arithmetic happens in f32.
#ifndef JEPA_COMMON_CUH
#define JEPA_COMMON_CUH

typedef unsigned short bf16_t;

// bf16 -> f32 is exact: the bf16 bits are the high half of the f32.
__device__ __forceinline__ float bf16_to_f32(bf16_t v) {
    return __uint_as_float(((unsigned int)v) << 16);
}

// f32 -> bf16, round to nearest even. NaN is kept a (quiet) NaN instead of rounding into inf.
__device__ __forceinline__ bf16_t f32_to_bf16(float f) {
    unsigned int u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) {
        return (bf16_t)((u >> 16) | 0x40u);
    }
    unsigned int rounding = 0x7fffu + ((u >> 16) & 1u);
    return (bf16_t)((u + rounding) >> 16);
}

// Uniform load/store so one kernel body serves both dtypes.
__device__ __forceinline__ float load_f(const float* p, long long i) { return p[i]; }
__device__ __forceinline__ float load_f(const bf16_t* p, long long i) { return bf16_to_f32(p[i]); }
__device__ __forceinline__ void store_f(float* p, long long i, float v) { p[i] = v; }
__device__ __forceinline__ void store_f(bf16_t* p, long long i, float v) { p[i] = f32_to_bf16(v); }

// NVRTC has no INFINITY macro and no <cmath>.
#define NEG_INF_F __int_as_float(0xff800000)
#define POS_INF_F __int_as_float(0x7f800000)

#define FULL_MASK 0xffffffffu

#ifndef EXTERN_SHARED
#define EXTERN_SHARED(T, name) extern __shared__ __align__(16) T name[]
#endif

// Butterfly reductions: every lane ends with the warp-wide result. Callers launch whole warps.
__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(FULL_MASK, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(FULL_MASK, v, o));
    return v;
}

// Block-wide sum for blockDim.x a multiple of 32 and at most 1024. `scratch` holds 32 floats.
// Every thread of the block must call it (it contains barriers); all threads get the result.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int nwarps = (blockDim.x + 31) >> 5;
    v = warp_sum(v);
    __syncthreads();  // scratch may still be read by a previous call
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    float t = lane < nwarps ? scratch[lane] : 0.0f;
    return warp_sum(t);
}

#endif  // JEPA_COMMON_CUH
