// attention.cu — fused flash-style attention, forward and backward.
//
//   fwd:  s_ij = scale·q_i·k_j,  out_i = Σ_j softmax_j(s_i)·v_j,  lse_i = log Σ_j exp(s_ij)
//   bwd:  p_ij = exp(s_ij − lse_i),  δ_i = dout_i·out_i
//         dv_j = Σ_i p_ij·dout_i,  ds_ij = p_ij·(dout_i·v_j − δ_i)
//         dq_i = scale·Σ_j ds_ij·k_j,  dk_j = scale·Σ_i ds_ij·q_i
//
// Layout: q, k, v, out, dout, dq, dk, dv `[b, h, n, D]` contiguous, f32 or bf16 storage;
// lse, delta `[b, h, n]` f32. Any n ≥ 1; D ∈ {32, 64, 128} (one instantiation each, so the
// per-lane column loops unroll); all accumulation in f32.
// Launch (128 threads = 4 warps per block, grid.y = b·h):
//   attention_fwd_d{D}_{dt}:      grid.x = ceil(n/16); a block owns 16 query rows, 4 per warp.
//   attention_bwd_delta_{dt}:     one warp per row of [b·h·n], 128 threads, grid ceil(rows/4).
//   attention_bwd_dkdv_d{D}_{dt}: grid.x = ceil(n/KB), KB = 16 keys (8 for D = 128).
//   attention_bwd_dq_d{D}_{dt}:   grid.x = ceil(n/QB), QB = 16 query rows (8 for D = 128).
// Static shared memory stays below 48 KiB for every D (largest: ~42 KiB at D = 128).
// Versions:
//   v1 (production): K/V tiles of 32 keys in shared memory, one key per lane: lane j computes
//      s_ij with a full dot product (rows padded to D+1 floats so the 32 lanes hit 32 banks),
//      then an online softmax (running max m, running sum l, accumulator rescaled by
//      exp(m_old − m_new)) keeps only D/32 output columns per row and lane in registers. The
//      probabilities are broadcast through a per-warp shared row (one __syncwarp) instead of 32
//      shuffles. The backward splits into a key-parallel kernel (dk, dv) and a query-parallel
//      kernel (dq) that both recompute p from lse: no atomics, deterministic, no n×n buffer.
//      A v2 would use mma.sync tensor-core tiles on sm_80+; this generic path stays for others.

#define ATT_WARPS 4
#define ATT_BC 32

// ---- forward ---------------------------------------------------------------------------------

template <int D>
struct AttFwdCfg {
    static constexpr int RPW = 4;  // query rows per warp
    static constexpr int BR = ATT_WARPS * RPW;
    static constexpr int SMEM = BR * D + ATT_BC * (D + 1) + ATT_BC * D + ATT_WARPS * 32;
};

template <int D, typename T>
__device__ void attn_fwd_body(int n, float scale, const T* q, const T* k, const T* v, T* out, float* lse,
                              float* smem) {
    typedef AttFwdCfg<D> Cfg;
    constexpr int C = D / 32;
    float* sQ = smem;
    float* sK = sQ + Cfg::BR * D;
    float* sV = sK + ATT_BC * (D + 1);
    float* sP = sV + ATT_BC * D;
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int q0 = blockIdx.x * Cfg::BR;
    const long long head = (long long)blockIdx.y * n * D;

    for (int t = threadIdx.x; t < Cfg::BR * D; t += blockDim.x) {
        const int qi = q0 + t / D;
        sQ[t] = qi < n ? load_f(q, head + (long long)qi * D + t % D) : 0.0f;
    }
    float m[Cfg::RPW], l[Cfg::RPW], acc[Cfg::RPW][C];
    #pragma unroll
    for (int r = 0; r < Cfg::RPW; ++r) {
        m[r] = NEG_INF_F;
        l[r] = 0.0f;
        #pragma unroll
        for (int c = 0; c < C; ++c) acc[r][c] = 0.0f;
    }
    for (int k0 = 0; k0 < n; k0 += ATT_BC) {
        __syncthreads();  // the previous K/V tile is fully consumed (and sQ written, first time)
        for (int t = threadIdx.x; t < ATT_BC * D; t += blockDim.x) {
            const int r = t / D, c = t % D, kj = k0 + r;
            const long long g = head + (long long)kj * D + c;
            sK[r * (D + 1) + c] = kj < n ? load_f(k, g) : 0.0f;
            sV[r * D + c] = kj < n ? load_f(v, g) : 0.0f;
        }
        __syncthreads();
        const bool valid = k0 + lane < n;  // lane 0 is always valid, so the row max is finite
        #pragma unroll
        for (int r = 0; r < Cfg::RPW; ++r) {
            const float* qrow = sQ + (warp * Cfg::RPW + r) * D;
            const float* krow = sK + lane * (D + 1);
            float s = 0.0f;
            for (int c = 0; c < D; ++c) s += qrow[c] * krow[c];
            s = valid ? s * scale : NEG_INF_F;
            const float mnew = fmaxf(m[r], warp_max(s));
            const float p = valid ? expf(s - mnew) : 0.0f;
            const float corr = expf(m[r] - mnew);  // 0 on the first tile (m = −inf)
            l[r] = l[r] * corr + warp_sum(p);
            m[r] = mnew;
            sP[warp * 32 + lane] = p;
            __syncwarp();
            #pragma unroll
            for (int c = 0; c < C; ++c) {
                float a = acc[r][c] * corr;
                for (int j = 0; j < 32; ++j) a += sP[warp * 32 + j] * sV[j * D + c * 32 + lane];
                acc[r][c] = a;
            }
            __syncwarp();  // sP is rewritten for the next row
        }
    }
    #pragma unroll
    for (int r = 0; r < Cfg::RPW; ++r) {
        const int qi = q0 + warp * Cfg::RPW + r;
        if (qi >= n) continue;
        const float inv = 1.0f / l[r];
        #pragma unroll
        for (int c = 0; c < C; ++c) store_f(out, head + (long long)qi * D + c * 32 + lane, acc[r][c] * inv);
        if (lane == 0) lse[(long long)blockIdx.y * n + qi] = m[r] + logf(l[r]);
    }
}

// ---- backward: δ = rowsum(dout ⊙ out) ----------------------------------------------------------

template <typename T>
__device__ void attn_bwd_delta_body(long long rows, int d, const T* out, const T* dout, float* delta) {
    const int lane = threadIdx.x & 31;
    const long long row = (long long)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (row >= rows) return;  // warp-uniform, no barriers in this kernel
    float s = 0.0f;
    for (int c = lane; c < d; c += 32) s += load_f(out, row * d + c) * load_f(dout, row * d + c);
    s = warp_sum(s);
    if (lane == 0) delta[row] = s;
}

// ---- backward: dk, dv (key-parallel) -----------------------------------------------------------

template <int D>
struct AttDkdvCfg {
    static constexpr int KPW = D == 128 ? 2 : 4;  // keys per warp; D = 128 halves it for smem
    static constexpr int KB = ATT_WARPS * KPW;
    static constexpr int SMEM = 2 * ATT_BC * (D + 1) + 2 * KB * D + 2 * ATT_BC + 2 * ATT_WARPS * 32;
};

template <int D, typename T>
__device__ void attn_bwd_dkdv_body(int n, float scale, const T* q, const T* k, const T* v, const float* lse,
                                   const float* delta, const T* dout, T* dk, T* dv, float* smem) {
    typedef AttDkdvCfg<D> Cfg;
    constexpr int C = D / 32;
    float* sQ = smem;                     // [32][D+1]
    float* sO = sQ + ATT_BC * (D + 1);    // dout tile, [32][D+1]
    float* sK = sO + ATT_BC * (D + 1);    // [KB][D]
    float* sV = sK + Cfg::KB * D;         // [KB][D]
    float* sL = sV + Cfg::KB * D;         // lse tile [32]
    float* sDl = sL + ATT_BC;             // delta tile [32]
    float* sP = sDl + ATT_BC;             // [4][32]
    float* sS = sP + ATT_WARPS * 32;      // [4][32]
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int kb0 = blockIdx.x * Cfg::KB;
    const long long head = (long long)blockIdx.y * n * D;
    const long long hrow = (long long)blockIdx.y * n;

    for (int t = threadIdx.x; t < Cfg::KB * D; t += blockDim.x) {
        const int kj = kb0 + t / D;
        const long long g = head + (long long)kj * D + t % D;
        sK[t] = kj < n ? load_f(k, g) : 0.0f;
        sV[t] = kj < n ? load_f(v, g) : 0.0f;
    }
    float adk[Cfg::KPW][C], adv[Cfg::KPW][C];
    #pragma unroll
    for (int r = 0; r < Cfg::KPW; ++r)
        #pragma unroll
        for (int c = 0; c < C; ++c) adk[r][c] = adv[r][c] = 0.0f;

    for (int i0 = 0; i0 < n; i0 += ATT_BC) {
        __syncthreads();
        for (int t = threadIdx.x; t < ATT_BC * D; t += blockDim.x) {
            const int r = t / D, c = t % D, qi = i0 + r;
            const long long g = head + (long long)qi * D + c;
            sQ[r * (D + 1) + c] = qi < n ? load_f(q, g) : 0.0f;
            sO[r * (D + 1) + c] = qi < n ? load_f(dout, g) : 0.0f;
        }
        if (threadIdx.x < ATT_BC) {
            const int qi = i0 + threadIdx.x;
            sL[threadIdx.x] = qi < n ? lse[hrow + qi] : 0.0f;
            sDl[threadIdx.x] = qi < n ? delta[hrow + qi] : 0.0f;
        }
        __syncthreads();
        const bool valid = i0 + lane < n;
        #pragma unroll
        for (int r = 0; r < Cfg::KPW; ++r) {
            const float* krow = sK + (warp * Cfg::KPW + r) * D;
            const float* vrow = sV + (warp * Cfg::KPW + r) * D;
            const float* qrow = sQ + lane * (D + 1);
            const float* orow = sO + lane * (D + 1);
            float s = 0.0f, dp = 0.0f;
            for (int c = 0; c < D; ++c) {
                s += qrow[c] * krow[c];
                dp += orow[c] * vrow[c];
            }
            const float p = valid ? expf(s * scale - sL[lane]) : 0.0f;
            sP[warp * 32 + lane] = p;
            sS[warp * 32 + lane] = p * (dp - sDl[lane]);
            __syncwarp();
            #pragma unroll
            for (int c = 0; c < C; ++c) {
                float a = adv[r][c], b = adk[r][c];
                for (int i = 0; i < 32; ++i) {
                    a += sP[warp * 32 + i] * sO[i * (D + 1) + c * 32 + lane];
                    b += sS[warp * 32 + i] * sQ[i * (D + 1) + c * 32 + lane];
                }
                adv[r][c] = a;
                adk[r][c] = b;
            }
            __syncwarp();
        }
    }
    #pragma unroll
    for (int r = 0; r < Cfg::KPW; ++r) {
        const int kj = kb0 + warp * Cfg::KPW + r;
        if (kj >= n) continue;
        #pragma unroll
        for (int c = 0; c < C; ++c) {
            const long long g = head + (long long)kj * D + c * 32 + lane;
            store_f(dk, g, adk[r][c] * scale);
            store_f(dv, g, adv[r][c]);
        }
    }
}

// ---- backward: dq (query-parallel) -------------------------------------------------------------

template <int D>
struct AttDqCfg {
    static constexpr int RPW = D == 128 ? 2 : 4;
    static constexpr int BR = ATT_WARPS * RPW;
    static constexpr int SMEM = 2 * BR * D + 2 * ATT_BC * (D + 1) + ATT_WARPS * 32;
};

template <int D, typename T>
__device__ void attn_bwd_dq_body(int n, float scale, const T* q, const T* k, const T* v, const float* lse,
                                 const float* delta, const T* dout, T* dq, float* smem) {
    typedef AttDqCfg<D> Cfg;
    constexpr int C = D / 32;
    float* sQ = smem;                    // [BR][D]
    float* sO = sQ + Cfg::BR * D;        // [BR][D]
    float* sK = sO + Cfg::BR * D;        // [32][D+1]
    float* sV = sK + ATT_BC * (D + 1);   // [32][D+1]
    float* sS = sV + ATT_BC * (D + 1);   // [4][32]
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int q0 = blockIdx.x * Cfg::BR;
    const long long head = (long long)blockIdx.y * n * D;
    const long long hrow = (long long)blockIdx.y * n;

    for (int t = threadIdx.x; t < Cfg::BR * D; t += blockDim.x) {
        const int qi = q0 + t / D;
        const long long g = head + (long long)qi * D + t % D;
        sQ[t] = qi < n ? load_f(q, g) : 0.0f;
        sO[t] = qi < n ? load_f(dout, g) : 0.0f;
    }
    float rl[Cfg::RPW], rd[Cfg::RPW], acc[Cfg::RPW][C];
    #pragma unroll
    for (int r = 0; r < Cfg::RPW; ++r) {
        const int qi = q0 + warp * Cfg::RPW + r;
        rl[r] = qi < n ? lse[hrow + qi] : 0.0f;
        rd[r] = qi < n ? delta[hrow + qi] : 0.0f;
        #pragma unroll
        for (int c = 0; c < C; ++c) acc[r][c] = 0.0f;
    }
    for (int k0 = 0; k0 < n; k0 += ATT_BC) {
        __syncthreads();
        for (int t = threadIdx.x; t < ATT_BC * D; t += blockDim.x) {
            const int r = t / D, c = t % D, kj = k0 + r;
            const long long g = head + (long long)kj * D + c;
            sK[r * (D + 1) + c] = kj < n ? load_f(k, g) : 0.0f;
            sV[r * (D + 1) + c] = kj < n ? load_f(v, g) : 0.0f;
        }
        __syncthreads();
        const bool valid = k0 + lane < n;
        #pragma unroll
        for (int r = 0; r < Cfg::RPW; ++r) {
            const float* qrow = sQ + (warp * Cfg::RPW + r) * D;
            const float* orow = sO + (warp * Cfg::RPW + r) * D;
            const float* krow = sK + lane * (D + 1);
            const float* vrow = sV + lane * (D + 1);
            float s = 0.0f, dp = 0.0f;
            for (int c = 0; c < D; ++c) {
                s += qrow[c] * krow[c];
                dp += orow[c] * vrow[c];
            }
            const float p = valid ? expf(s * scale - rl[r]) : 0.0f;
            sS[warp * 32 + lane] = p * (dp - rd[r]);
            __syncwarp();
            #pragma unroll
            for (int c = 0; c < C; ++c) {
                float a = acc[r][c];
                for (int j = 0; j < 32; ++j) a += sS[warp * 32 + j] * sK[j * (D + 1) + c * 32 + lane];
                acc[r][c] = a;
            }
            __syncwarp();
        }
    }
    #pragma unroll
    for (int r = 0; r < Cfg::RPW; ++r) {
        const int qi = q0 + warp * Cfg::RPW + r;
        if (qi >= n) continue;
        #pragma unroll
        for (int c = 0; c < C; ++c) store_f(dq, head + (long long)qi * D + c * 32 + lane, acc[r][c] * scale);
    }
}

// ---- entry points ------------------------------------------------------------------------------
// Shared arrays live in the extern "C" kernels: template-function statics are COMDAT and would
// escape the emulator's shared-memory poisoning.

#define ATT_FWD_ENTRY(DIM, T, SUF)                                                                         \
    extern "C" __global__ void __launch_bounds__(128) attention_fwd_d##DIM##_##SUF(                       \
        int n, float scale, const T* q, const T* k, const T* v, T* out, float* lse) {                      \
        __shared__ __align__(16) float smem[AttFwdCfg<DIM>::SMEM];                                         \
        attn_fwd_body<DIM, T>(n, scale, q, k, v, out, lse, smem);                                          \
    }
#define ATT_DKDV_ENTRY(DIM, T, SUF)                                                                        \
    extern "C" __global__ void __launch_bounds__(128) attention_bwd_dkdv_d##DIM##_##SUF(                  \
        int n, float scale, const T* q, const T* k, const T* v, const float* lse, const float* delta,      \
        const T* dout, T* dk, T* dv) {                                                                     \
        __shared__ __align__(16) float smem[AttDkdvCfg<DIM>::SMEM];                                        \
        attn_bwd_dkdv_body<DIM, T>(n, scale, q, k, v, lse, delta, dout, dk, dv, smem);                     \
    }
#define ATT_DQ_ENTRY(DIM, T, SUF)                                                                          \
    extern "C" __global__ void __launch_bounds__(128) attention_bwd_dq_d##DIM##_##SUF(                    \
        int n, float scale, const T* q, const T* k, const T* v, const float* lse, const float* delta,      \
        const T* dout, T* dq) {                                                                            \
        __shared__ __align__(16) float smem[AttDqCfg<DIM>::SMEM];                                          \
        attn_bwd_dq_body<DIM, T>(n, scale, q, k, v, lse, delta, dout, dq, smem);                           \
    }

ATT_FWD_ENTRY(32, float, f32)
ATT_FWD_ENTRY(64, float, f32)
ATT_FWD_ENTRY(128, float, f32)
ATT_FWD_ENTRY(32, bf16_t, bf16)
ATT_FWD_ENTRY(64, bf16_t, bf16)
ATT_FWD_ENTRY(128, bf16_t, bf16)
ATT_DKDV_ENTRY(32, float, f32)
ATT_DKDV_ENTRY(64, float, f32)
ATT_DKDV_ENTRY(128, float, f32)
ATT_DKDV_ENTRY(32, bf16_t, bf16)
ATT_DKDV_ENTRY(64, bf16_t, bf16)
ATT_DKDV_ENTRY(128, bf16_t, bf16)
ATT_DQ_ENTRY(32, float, f32)
ATT_DQ_ENTRY(64, float, f32)
ATT_DQ_ENTRY(128, float, f32)
ATT_DQ_ENTRY(32, bf16_t, bf16)
ATT_DQ_ENTRY(64, bf16_t, bf16)
ATT_DQ_ENTRY(128, bf16_t, bf16)

extern "C" __global__ void attention_bwd_delta_f32(long long rows, int d, const float* out, const float* dout, float* delta) {
    attn_bwd_delta_body(rows, d, out, dout, delta);
}
extern "C" __global__ void attention_bwd_delta_bf16(long long rows, int d, const bf16_t* out, const bf16_t* dout, float* delta) {
    attn_bwd_delta_body(rows, d, out, dout, delta);
}
