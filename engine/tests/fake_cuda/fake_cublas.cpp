// fake_cublas.cpp — a stand-in `libcublas.so` for run.sh: cuBLAS's column-major strided-batched
// GEMM over host memory (see fake_cuda.cpp), f32 (cublasSgemmStridedBatched) and bf16 with f32
// compute (cublasGemmStridedBatchedEx), so the engine's row-major operand swap, transpose flags,
// leading dimensions and batch strides are exercised exactly as cuBLAS would read them.
// Naive loops with f64 accumulation: a reference, not a fast path.
#include <cstdio>
#include <cstring>
#include <functional>

namespace {
constexpr int kSuccess = 0, kNotSupported = 15;
constexpr int kR32F = 0, kR16BF = 14, kCompute32F = 68;

float bf16_to_f32(unsigned short v) {
    unsigned u = (unsigned)v << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
unsigned short f32_to_bf16(float f) {  // round to nearest even, NaN stays NaN
    unsigned u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((u >> 16) | 0x40u);
    return (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

using Load = std::function<float(long long)>;
using Store = std::function<void(long long, float)>;

// C = alpha·op(A)·op(B) + beta·C, column-major, op(X) = X or Xᵀ (trans = 1).
void gemm(int ta, int tb, int m, int n, int k, float alpha, int lda, long long sa, int ldb, long long sb, float beta,
          int ldc, long long sc, int batch, const Load& a, const Load& b, const Load& c, const Store& store) {
    for (int z = 0; z < batch; ++z)
        for (int j = 0; j < n; ++j)
            for (int i = 0; i < m; ++i) {
                double acc = 0.0;
                for (int p = 0; p < k; ++p) {
                    const long long ia = z * sa + (ta ? p + (long long)i * lda : i + (long long)p * lda);
                    const long long ib = z * sb + (tb ? j + (long long)p * ldb : p + (long long)j * ldb);
                    acc += (double)a(ia) * (double)b(ib);
                }
                const long long ic = z * sc + i + (long long)j * ldc;
                const double prev = beta == 0.0f ? 0.0 : (double)beta * c(ic);  // beta 0 ignores C
                store(ic, (float)(alpha * acc + prev));
            }
}
int g_handle;
}  // namespace

extern "C" {
int cublasCreate_v2(void** h) { *h = &g_handle; return kSuccess; }
int cublasDestroy_v2(void*) { return kSuccess; }
int cublasSetStream_v2(void*, void*) { return kSuccess; }
const char* cublasGetStatusString(int) { return "fake_cublas status"; }

int cublasSgemmStridedBatched(void*, int ta, int tb, int m, int n, int k, const float* alpha, const float* A, int lda,
                              long long sa, const float* B, int ldb, long long sb, const float* beta, float* C,
                              int ldc, long long sc, int batch) {
    gemm(ta, tb, m, n, k, *alpha, lda, sa, ldb, sb, *beta, ldc, sc, batch, [&](long long i) { return A[i]; },
         [&](long long i) { return B[i]; }, [&](long long i) { return C[i]; },
         [&](long long i, float v) { C[i] = v; });
    return kSuccess;
}

int cublasGemmStridedBatchedEx(void*, int ta, int tb, int m, int n, int k, const void* alpha, const void* A, int at,
                               int lda, long long sa, const void* B, int bt, int ldb, long long sb, const void* beta,
                               void* C, int ct, int ldc, long long sc, int batch, int compute, int) {
    if (at != kR16BF || bt != kR16BF || ct != kR16BF || compute != kCompute32F) {
        std::fprintf(stderr, "fake_cublas: only bf16 with f32 compute is modelled (got %d %d %d %d; f32 is %d)\n", at,
                     bt, ct, compute, kR32F);
        return kNotSupported;
    }
    auto a = static_cast<const unsigned short*>(A);
    auto b = static_cast<const unsigned short*>(B);
    auto c = static_cast<unsigned short*>(C);
    gemm(ta, tb, m, n, k, *static_cast<const float*>(alpha), lda, sa, ldb, sb, *static_cast<const float*>(beta), ldc,
         sc, batch, [&](long long i) { return bf16_to_f32(a[i]); }, [&](long long i) { return bf16_to_f32(b[i]); },
         [&](long long i) { return bf16_to_f32(c[i]); }, [&](long long i, float v) { c[i] = f32_to_bf16(v); });
    return kSuccess;
}
}
