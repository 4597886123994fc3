// vicreg.cu — VICReg variance and covariance losses of an embedding batch and their gradients
// (official-code normalisation).
//
//   mean_j = Σ_i e_ij / n,  ec = e − mean,  std_j = sqrt(Σ_i ec_ij² / (n−1) + eps)
//   var_loss = Σ_j relu(1 − std_j) / d
//   C = ecᵀ·ec / (n−1),  cov_loss = Σ_{i≠j} C_ij² / d
//   de_var_ij = std_j < 1 ? −ec_ij / (d·std_j·(n−1)) : 0
//   de_cov    = 4/(d·(n−1)) · ec · Coff,  Coff = C with a zero diagonal
// (The centring's own gradient vanishes: every column of ec, and so of ec·M, sums to zero.)
//
// Layout: e, ec, de_var, de_cov `[n, d]` f32 row-major; mean, std `[d]`; coff `[d, d]`;
// partial `[ceil(d/32)²]`; losses `[2]` = (var_loss, cov_loss). n ≥ 2. Embeddings are f32: the
// losses are computed in f32 even in a bf16 model (the engine casts first).
// Launch (host order): colstats → center (+ de_var) → gram → finalize → cov_grad (optional).
//   vicreg_colstats_f32:  block (32, 8), grid ceil(d/32); column sums over row slices.
//   vicreg_center_f32:    grid-stride, 256 threads.
//   vicreg_gram_f32:      block (32, 8), grid (ceil(d/32), ceil(d/32)); one 32×32 tile of C per
//                         block, each thread 4 entries; writes Coff and the tile's off-diagonal
//                         square sum to partial[by·gx + bx] in the same pass.
//   vicreg_finalize_f32:  one block of 256 threads.
//   vicreg_cov_grad_f32:  block (32, 8), grid (ceil(d/32), ceil(n/32)); tiled ec·Coff.
// Versions:
//   v1 (production): plain 32×32 smem tiles (padded to 33 against bank conflicts). C is
//      materialised once (d² floats) because the gradient needs it; the loss never needs C
//      twice, so its square sum is reduced in the GEMM epilogue. A v2 would compute only the
//      upper-triangular tiles (C is symmetric) and use tensor cores.

#define VIC_TILE 32

extern "C" __global__ void vicreg_colstats_f32(int n, int d, float eps, const float* e, float* mean, float* std_out) {
    __shared__ float red[8][33];
    const int col = blockIdx.x * VIC_TILE + threadIdx.x;
    float s = 0.0f;
    if (col < d)
        for (int r = threadIdx.y; r < n; r += 8) s += e[(long long)r * d + col];
    red[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    float mu = 0.0f;
    for (int k = 0; k < 8; ++k) mu += red[k][threadIdx.x];
    mu /= (float)n;
    __syncthreads();  // everyone has read `red` before it is reused
    float ss = 0.0f;
    if (col < d)
        for (int r = threadIdx.y; r < n; r += 8) {
            float c = e[(long long)r * d + col] - mu;
            ss += c * c;
        }
    red[threadIdx.y][threadIdx.x] = ss;
    __syncthreads();
    if (threadIdx.y == 0 && col < d) {
        float t = 0.0f;
        for (int k = 0; k < 8; ++k) t += red[k][threadIdx.x];
        mean[col] = mu;
        std_out[col] = sqrtf(t / (float)(n - 1) + eps);
    }
}

// de_var may be null (gradient not requested).
extern "C" __global__ void vicreg_center_f32(int n, int d, const float* e, const float* mean, const float* std_in,
                                             float* ec, float* de_var) {
    const long long total = (long long)n * d;
    const float g = -1.0f / ((float)d * (float)(n - 1));
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        const int col = (int)(i % d);
        const float c = e[i] - mean[col];
        ec[i] = c;
        if (de_var) de_var[i] = std_in[col] < 1.0f ? g * c / std_in[col] : 0.0f;
    }
}

extern "C" __global__ void vicreg_gram_f32(int n, int d, float inv_nm1, const float* ec, float* coff, float* partial) {
    __shared__ float sa[VIC_TILE][VIC_TILE + 1];
    __shared__ float sb[VIC_TILE][VIC_TILE + 1];
    __shared__ float scratch[32];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int row0 = blockIdx.y * VIC_TILE, col0 = blockIdx.x * VIC_TILE;
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int r0 = 0; r0 < n; r0 += VIC_TILE) {
        for (int rr = ty; rr < VIC_TILE; rr += 8) {
            const int r = r0 + rr;
            sa[rr][tx] = (r < n && row0 + tx < d) ? ec[(long long)r * d + row0 + tx] : 0.0f;
            sb[rr][tx] = (r < n && col0 + tx < d) ? ec[(long long)r * d + col0 + tx] : 0.0f;
        }
        __syncthreads();
        for (int rr = 0; rr < VIC_TILE; ++rr) {
            const float b = sb[rr][tx];
            for (int q = 0; q < 4; ++q) acc[q] += sa[rr][ty + 8 * q] * b;
        }
        __syncthreads();  // tiles are overwritten by the next chunk
    }
    float sq = 0.0f;
    const int j = col0 + tx;
    for (int q = 0; q < 4; ++q) {
        const int i = row0 + ty + 8 * q;
        if (i < d && j < d) {
            const float c = i == j ? 0.0f : acc[q] * inv_nm1;
            coff[(long long)i * d + j] = c;
            sq += c * c;
        }
    }
    // With blockDim (32, 8) each threadIdx.y is exactly one warp.
    sq = warp_sum(sq);
    if (tx == 0) scratch[ty] = sq;
    __syncthreads();
    if (ty == 0) {
        float t = tx < 8 ? scratch[tx] : 0.0f;
        t = warp_sum(t);
        if (tx == 0) partial[blockIdx.y * gridDim.x + blockIdx.x] = t;
    }
}

extern "C" __global__ void vicreg_finalize_f32(int d, int nparts, const float* std_in, const float* partial,
                                               float* losses) {
    __shared__ float scratch[32];
    float v = 0.0f, c = 0.0f;
    for (int j = threadIdx.x; j < d; j += blockDim.x) v += fmaxf(1.0f - std_in[j], 0.0f);
    for (int p = threadIdx.x; p < nparts; p += blockDim.x) c += partial[p];
    v = block_sum(v, scratch);
    c = block_sum(c, scratch);
    if (threadIdx.x == 0) {
        losses[0] = v / (float)d;
        losses[1] = c / (float)d;
    }
}

// de_cov = scale · ec · coff with scale = 4/(d·(n−1)).
extern "C" __global__ void vicreg_cov_grad_f32(int n, int d, float scale, const float* ec, const float* coff,
                                               float* de_cov) {
    __shared__ float sa[VIC_TILE][VIC_TILE + 1];
    __shared__ float sb[VIC_TILE][VIC_TILE + 1];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int row0 = blockIdx.y * VIC_TILE, col0 = blockIdx.x * VIC_TILE;
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int k0 = 0; k0 < d; k0 += VIC_TILE) {
        for (int rr = ty; rr < VIC_TILE; rr += 8) {
            const int r = row0 + rr, kk = k0 + rr;
            sa[rr][tx] = (r < n && k0 + tx < d) ? ec[(long long)r * d + k0 + tx] : 0.0f;
            sb[rr][tx] = (kk < d && col0 + tx < d) ? coff[(long long)kk * d + col0 + tx] : 0.0f;
        }
        __syncthreads();
        for (int kk = 0; kk < VIC_TILE; ++kk) {
            const float b = sb[kk][tx];
            for (int q = 0; q < 4; ++q) acc[q] += sa[ty + 8 * q][kk] * b;
        }
        __syncthreads();
    }
    const int j = col0 + tx;
    for (int q = 0; q < 4; ++q) {
        const int i = row0 + ty + 8 * q;
        if (i < n && j < d) de_cov[(long long)i * d + j] = scale * acc[q];
    }
}
