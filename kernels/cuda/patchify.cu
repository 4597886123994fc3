// patchify.cu — the stride = kernel patch-embedding conv as a relayout, and its adjoint.
//
//   patchify:   img `[b, c, h, w]` → out `[b, (h/p)·(w/p), c·p·p]`; patch (gy, gx) in row-major
//               grid order, each patch flattened as (c, py, px), the layout of a conv weight
//               `[D, c, p, p]` reshaped to `[D, c·p·p]` (so out·Wᵀ is the conv).
//   unpatchify: the inverse relayout (patches do not overlap, so the adjoint is a pure copy).
//
// Layout: contiguous, f32 or bf16. h and w are multiples of p (validated by the caller).
// Launch: grid-stride over output elements, 256 threads per block.
// Versions:
//   v1 (production): one output element per thread; consecutive threads write consecutive
//      outputs (coalesced stores) and read runs of p contiguous pixels.

#define PATCH_LOOP(i, n) \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (long long)gridDim.x * blockDim.x)

// Maps an index into the patch layout to the index of the same value in the image layout.
__device__ __forceinline__ long long patch_to_pixel(long long i, int c, int h, int w, int p) {
    const int gw = w / p;
    const long long per_patch = (long long)c * p * p;
    const long long per_img = (long long)(h / p) * gw * per_patch;
    const long long bi = i / per_img;
    long long r = i - bi * per_img;
    const long long patch = r / per_patch;
    long long e = r - patch * per_patch;
    const int ci = (int)(e / (p * p));
    e -= (long long)ci * p * p;
    const int py = (int)(e / p), px = (int)(e - (long long)py * p);
    const int gy = (int)(patch / gw), gx = (int)(patch - (long long)gy * gw);
    return ((bi * c + ci) * h + (long long)gy * p + py) * w + (long long)gx * p + px;
}

template <typename T>
__device__ void patchify_body(int b, int c, int h, int w, int p, const T* img, T* out) {
    const long long n = (long long)b * c * h * w;
    PATCH_LOOP(i, n) out[i] = img[patch_to_pixel(i, c, h, w, p)];
}

template <typename T>
__device__ void unpatchify_body(int b, int c, int h, int w, int p, const T* patches, T* dimg) {
    const long long n = (long long)b * c * h * w;
    PATCH_LOOP(i, n) dimg[patch_to_pixel(i, c, h, w, p)] = patches[i];
}

extern "C" __global__ void patchify_f32(int b, int c, int h, int w, int p, const float* img, float* out) {
    patchify_body(b, c, h, w, p, img, out);
}
extern "C" __global__ void patchify_bf16(int b, int c, int h, int w, int p, const bf16_t* img, bf16_t* out) {
    patchify_body(b, c, h, w, p, img, out);
}
extern "C" __global__ void unpatchify_f32(int b, int c, int h, int w, int p, const float* patches, float* dimg) {
    unpatchify_body(b, c, h, w, p, patches, dimg);
}
extern "C" __global__ void unpatchify_bf16(int b, int c, int h, int w, int p, const bf16_t* patches, bf16_t* dimg) {
    unpatchify_body(b, c, h, w, p, patches, dimg);
}
