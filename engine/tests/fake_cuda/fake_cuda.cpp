// fake_cuda.cpp — a stand-in `libcuda.so` that lets the engine's CUDA paths run end to end on a
// machine without a GPU (a verification tool, see run.sh; never shipped).
//
// cudarc dlopens `libcuda.so` by name, so putting this library first on LD_LIBRARY_PATH makes the
// kernels' probe succeed. Kernel sources are still compiled for real by NVRTC (sm_80) exactly as
// on a GPU; the CUBIN is then ignored and cuLaunchKernel runs the same unmodified `.cu` kernel,
// compiled into this library through the emulation harness (kernels/emu), on the CPU in fiber
// mode. "Device memory" is host memory: CUdeviceptr is a host address, so the emulated kernels
// dereference it directly.
//
// Checks the real driver also makes, reported as errors: zero-byte allocations, unknown kernel
// names, copies and memsets outside any live allocation, frees of unknown pointers. Fresh
// allocations are filled with 0xFF bytes (NaN), so reading memory nothing wrote shows up.
// Not modelled: asynchrony (every call completes before it returns), multiple devices/streams.
//
// Environment: FAKE_CUDA_POOLS=0 reports no memory pools (cudarc then uses cuMemAlloc/cuMemFree
// instead of the stream-ordered cuMemAllocAsync/cuMemFreeAsync); FAKE_CUDA_FIBERS=0 runs kernels
// in the emulator's OS-thread mode (for sanitizers); FAKE_CUDA_TRACE=1 logs launches.
#include "../../../kernels/emu/harness.cpp"

#include <cstdio>
#include <map>

extern "C" {
typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef void* CUcontext;
typedef void* CUmodule;
typedef void* CUstream;
struct FakeFunction {
    std::string name;
};
typedef FakeFunction* CUfunction;
}

namespace {
constexpr CUresult kSuccess = 0, kInvalidValue = 1, kNotFound = 500, kLaunchFailed = 719;
constexpr int kAttrCcMajor = 75, kAttrCcMinor = 76, kAttrMemoryPools = 115;

std::mutex g_mu;
std::map<CUdeviceptr, size_t> g_allocs;  // base → bytes
thread_local CUcontext g_current = nullptr;
int g_primary_ctx;
const bool g_trace = std::getenv("FAKE_CUDA_TRACE") != nullptr;

bool env_off(const char* name) {
    const char* v = std::getenv(name);
    return v && std::strcmp(v, "0") == 0;
}

// Ok when [p, p + n) lies inside one live allocation.
CUresult check_range(CUdeviceptr p, size_t n, const char* what) {
    if (n == 0) return kSuccess;
    std::lock_guard<std::mutex> l(g_mu);
    auto it = g_allocs.upper_bound(p);
    if (it != g_allocs.begin()) {
        --it;
        if (p >= it->first && p + n <= it->first + it->second) return kSuccess;
    }
    std::fprintf(stderr, "fake_cuda: %s of %zu bytes at 0x%llx is outside every allocation\n", what, n, p);
    return kInvalidValue;
}

CUresult alloc(CUdeviceptr* p, size_t bytes) {
    if (bytes == 0) return kInvalidValue;  // as the real driver
    void* m = std::malloc(bytes);
    if (!m) return 2;  // CUDA_ERROR_OUT_OF_MEMORY
    std::memset(m, 0xFF, bytes);
    *p = (CUdeviceptr)m;
    std::lock_guard<std::mutex> l(g_mu);
    g_allocs[*p] = bytes;
    return kSuccess;
}

CUresult release(CUdeviceptr p) {
    std::lock_guard<std::mutex> l(g_mu);
    if (!g_allocs.erase(p)) {
        std::fprintf(stderr, "fake_cuda: free of unknown pointer 0x%llx\n", p);
        return kInvalidValue;
    }
    std::free((void*)p);
    return kSuccess;
}
}  // namespace

extern "C" {
CUresult cuDriverGetVersion(int* v) { *v = 12090; return kSuccess; }
CUresult cuInit(unsigned) { return kSuccess; }
CUresult cuDeviceGetCount(int* n) { *n = 1; return kSuccess; }
CUresult cuDeviceGet(CUdevice* d, int ordinal) {
    if (ordinal != 0) return 101;  // CUDA_ERROR_INVALID_DEVICE
    *d = 0;
    return kSuccess;
}
CUresult cuDevicePrimaryCtxRetain(CUcontext* c, CUdevice) { *c = &g_primary_ctx; return kSuccess; }
CUresult cuDevicePrimaryCtxRelease_v2(CUdevice) { return kSuccess; }
CUresult cuCtxGetCurrent(CUcontext* c) { *c = g_current; return kSuccess; }
CUresult cuCtxSetCurrent(CUcontext c) { g_current = c; return kSuccess; }
CUresult cuCtxSynchronize() { return kSuccess; }
CUresult cuStreamSynchronize(CUstream) { return kSuccess; }
CUresult cuDeviceGetAttribute(int* v, int attrib, CUdevice) {
    *v = attrib == kAttrCcMajor ? 8 : attrib == kAttrMemoryPools ? !env_off("FAKE_CUDA_POOLS") : 0;
    (void)kAttrCcMinor;
    return kSuccess;
}
CUresult cuDeviceGetName(char* name, int len, CUdevice) {
    std::snprintf(name, (size_t)len, "fake CUDA device (CPU emulator)");
    return kSuccess;
}
CUresult cuModuleLoadData(CUmodule* m, const void* image) {
    if (!image) return kInvalidValue;
    *m = new int(0);
    return kSuccess;
}
CUresult cuModuleUnload(CUmodule m) { delete static_cast<int*>(m); return kSuccess; }
CUresult cuModuleGetFunction(CUfunction* f, CUmodule, const char* name) {
    for (int i = 0; i < emu_kernel_count(); ++i)
        if (std::strcmp(emu_kernel_name(i), name) == 0) {
            *f = new FakeFunction{name};
            return kSuccess;
        }
    return kNotFound;
}
CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned smem, CUstream, void** params, void**) {
    EmuDims d{gx, gy, gz, bx, by, bz, smem};
    emu_set_fibers(!env_off("FAKE_CUDA_FIBERS"));
    if (g_trace)
        std::fprintf(stderr, "fake_cuda: %s<<<(%u,%u,%u), (%u,%u,%u)>>>\n", f->name.c_str(), gx, gy, gz, bx, by, bz);
    // cuLaunchKernel carries no argument count; the harness rejects a wrong one (code 2) before
    // running anything, so the first count it accepts is the kernel's arity.
    for (int n = 0; n <= 32; ++n) {
        const int rc = emu_launch(f->name.c_str(), d, params, n);
        if (rc == 2) continue;
        if (rc == 0) return kSuccess;
        std::fprintf(stderr, "fake_cuda: %s\n", emu_error());
        return kLaunchFailed;
    }
    return kInvalidValue;
}
CUresult cuMemAlloc_v2(CUdeviceptr* p, size_t bytes) { return alloc(p, bytes); }
CUresult cuMemAllocAsync(CUdeviceptr* p, size_t bytes, CUstream) { return alloc(p, bytes); }
CUresult cuMemFree_v2(CUdeviceptr p) { return release(p); }
CUresult cuMemFreeAsync(CUdeviceptr p, CUstream) { return release(p); }
CUresult cuMemsetD8Async(CUdeviceptr p, unsigned char v, size_t n, CUstream) {
    if (check_range(p, n, "memset")) return kInvalidValue;
    std::memset((void*)p, v, n);
    return kSuccess;
}
CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void* src, size_t n, CUstream) {
    if (check_range(dst, n, "htod")) return kInvalidValue;
    std::memcpy((void*)dst, src, n);
    return kSuccess;
}
CUresult cuMemcpyDtoHAsync_v2(void* dst, CUdeviceptr src, size_t n, CUstream) {
    if (check_range(src, n, "dtoh")) return kInvalidValue;
    std::memcpy(dst, (const void*)src, n);
    return kSuccess;
}
CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream) {
    if (check_range(src, n, "dtod source") || check_range(dst, n, "dtod destination")) return kInvalidValue;
    std::memmove((void*)dst, (const void*)src, n);
    return kSuccess;
}
CUresult cuGetErrorString(CUresult, const char** s) { *s = "fake_cuda: see the message printed above"; return kSuccess; }
CUresult cuGetErrorName(CUresult, const char** s) { *s = "FAKE_CUDA_ERROR"; return kSuccess; }
}
