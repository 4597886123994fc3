// emu_cuda.hpp — runs the project's UNMODIFIED CUDA C kernels on the CPU (cuda.md §6, rung 2).
//
// g++ -std=c++20 compiles a .cu after this header. Blocks run one after another with all threads
// of a block live at once, in one of two modes chosen at run time:
//   - OS threads (default): one std::thread per CUDA thread, barriers on a mutex + condition
//     variable with a watchdog (EMU_WATCHDOG_S, default 20 s). ThreadSanitizer sees real races.
//   - fibers (EMU_FIBERS=1 or emu::set_fibers(true)): ucontext fibers on the calling thread,
//     switched only inside waits; deterministic, ~10x faster, deadlocks reported immediately.
// Checked, and reported as launch errors instead of undefined values: divergent __syncthreads
// (per-thread barrier counts differ), shuffles whose mask misses the caller, names lanes that do
// not exist or have exited, or whose source lane is outside the mask. Shared memory (static
// section and the dynamic buffer) is poisoned with 0xFF (NaN) before every block.
// Not emulated: tensor cores, cp.async, inline PTX, clocks; __CUDA_ARCH__ stays undefined.
#ifndef JEPA_EMU_CUDA_HPP
#define JEPA_EMU_CUDA_HPP

#include <math.h>
#include <ucontext.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

// ---- keywords --------------------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __constant__ static
#define __restrict__ __restrict
#define __align__(n) __attribute__((aligned(n)))
// A dedicated ELF section, so the launcher can poison every static __shared__ array at once.
#define __shared__ __attribute__((section("emu_shared"), aligned(16))) static
extern "C" __attribute__((weak)) char __start_emu_shared[];
extern "C" __attribute__((weak)) char __stop_emu_shared[];

struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
typedef dim3 uint3;

namespace emu {

struct Fault {
    std::string msg;
};
struct Abort {};  // another thread of the block failed; unwind quietly

struct Exchange {
    int state = 0;  // 0 free, 1 collecting, 2 reading
    uint32_t mask = 0, arrived = 0;
    int read = 0;
    uint64_t gen = 0;
    uint64_t vals[32] = {};
};

struct Fiber {
    ucontext_t ctx;
    std::unique_ptr<char[]> stack;
    bool done = false;
};

struct Block {
    int nthreads = 0;
    bool fibers = false;
    std::function<void()> body;
    std::mutex mu;
    std::condition_variable cv;
    int live = 0, arrived = 0, red_acc = 0, red_result = 0;
    uint64_t bar_gen = 0, progress = 0;
    std::vector<uint64_t> bar_count;
    std::vector<char> exited;
    std::vector<const char*> waiting;
    std::vector<uint64_t> bar_wait_gen;  // barrier generation a thread waits in
    std::vector<Exchange> exch;  // 4 per warp
    bool failed = false;
    std::string error;
    // fiber mode
    std::vector<Fiber> fib;
    ucontext_t sched;
    int current = 0;
};

inline thread_local uint3 tl_threadIdx, tl_blockIdx;
inline thread_local dim3 tl_blockDim, tl_gridDim;
inline thread_local Block* tl_block = nullptr;
inline thread_local int tl_tid = 0;
inline thread_local unsigned char* tl_dyn_smem = nullptr;
inline std::atomic<int> g_fibers{-1};  // -1: read EMU_FIBERS once
inline std::mutex g_launch_mu;         // __shared__ statics are process-wide
inline thread_local std::string g_last_error;

inline bool fibers_enabled() {
    int v = g_fibers.load();
    if (v < 0) {
        const char* e = std::getenv("EMU_FIBERS");
        v = (e && e[0] == '1') ? 1 : 0;
        g_fibers.store(v);
    }
    return v == 1;
}
inline void set_fibers(bool on) { g_fibers.store(on ? 1 : 0); }
inline const char* last_error() { return g_last_error.c_str(); }

inline double watchdog_s() {
    const char* e = std::getenv("EMU_WATCHDOG_S");
    return e ? std::atof(e) : 20.0;
}

// Lock that is a no-op in fiber mode (one OS thread owns the block).
struct Lock {
    Block& b;
    std::unique_lock<std::mutex> lk;
    explicit Lock(Block& b_) : b(b_), lk(b_.mu, std::defer_lock) {
        if (!b.fibers) lk.lock();
    }
};

inline void set_builtins(Block& b, int tid) {
    (void)b;
    tl_tid = tid;
    const dim3 bd = tl_blockDim;
    tl_threadIdx = uint3(tid % bd.x, (tid / bd.x) % bd.y, tid / (bd.x * bd.y));
}

[[noreturn]] inline void fault(Block& b, const std::string& msg) {
    if (!b.failed) {
        b.failed = true;
        b.error = msg;
    }
    if (!b.fibers) b.cv.notify_all();
    throw Fault{msg};
}

inline void notify(Block& b) {
    b.progress++;
    if (!b.fibers) b.cv.notify_all();
}

// Blocks the calling CUDA thread until pred() holds. Caller holds the Lock.
template <class P>
void wait(Lock& l, const char* what, P pred) {
    Block& b = l.b;
    b.waiting[tl_tid] = what;
    if (b.fibers) {
        while (!pred()) {
            if (b.failed) throw Abort{};
            swapcontext(&b.fib[tl_tid].ctx, &b.sched);
            set_builtins(b, tl_tid);  // the scheduler ran other fibers meanwhile
        }
    } else {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(watchdog_s());
        if (!b.cv.wait_until(l.lk, deadline, [&] { return b.failed || pred(); }))
            fault(b, std::string("watchdog: thread ") + std::to_string(tl_tid) + " stuck in " + what);
    }
    if (b.failed) throw Abort{};
    b.waiting[tl_tid] = nullptr;
}

// ---- barriers --------------------------------------------------------------------------------
inline int barrier(int pred) {
    Block& b = *tl_block;
    Lock l(b);
    b.bar_count[tl_tid]++;
    b.red_acc += pred ? 1 : 0;
    const uint64_t gen = b.bar_gen;
    if (++b.arrived == b.live) {
        b.red_result = b.red_acc;
        b.red_acc = 0;
        b.arrived = 0;
        b.bar_gen++;
    } else {
        b.bar_wait_gen[tl_tid] = gen;
        notify(b);
        wait(l, "__syncthreads", [&] { return b.bar_gen != gen; });
    }
    notify(b);
    return b.red_result;
}

// ---- warp collectives ------------------------------------------------------------------------
inline uint32_t lanes_present(const Block& b, int warp) {
    int n = b.nthreads - warp * 32;
    return n >= 32 ? 0xffffffffu : ((1u << n) - 1u);
}

// Every lane of `mask` publishes `v`; returns a copy of all 32 slots once all have arrived.
inline void exchange(uint32_t mask, uint64_t v, uint64_t out[32], const char* what) {
    Block& b = *tl_block;
    Lock l(b);
    const int lane = tl_tid & 31, warp = tl_tid >> 5;
    if (!((mask >> lane) & 1u))
        fault(b, std::string(what) + ": calling lane " + std::to_string(lane) + " not in mask");
    const uint32_t present = lanes_present(b, warp);
    if (mask & ~present)
        fault(b, std::string(what) + ": mask names lanes that do not exist (block size not a multiple of 32)");
    Exchange* ex = nullptr;
    for (int i = 0; i < 4 && !ex; ++i) {
        Exchange& e = b.exch[warp * 4 + i];
        if (e.state == 1 && e.mask == mask) ex = &e;
    }
    for (int i = 0; i < 4 && !ex; ++i) {
        Exchange& e = b.exch[warp * 4 + i];
        if (e.state == 0) {
            ex = &e;
            e.state = 1;
            e.mask = mask;
            e.arrived = 0;
        }
    }
    if (!ex) fault(b, std::string(what) + ": more than 4 concurrent masks in one warp");
    ex->vals[lane] = v;
    ex->arrived |= 1u << lane;
    const uint64_t gen = ex->gen;
    if (ex->arrived == mask) {
        ex->state = 2;
        ex->read = 0;
        ex->gen++;
    } else {
        notify(b);
        wait(l, what, [&] {
            if (ex->gen != gen) return true;
            for (int k = 0; k < 32; ++k) {
                if (!((mask >> k) & 1u) || ((ex->arrived >> k) & 1u)) continue;
                const int t = warp * 32 + k;
                if (b.exited[t])
                    fault(b, std::string(what) + ": divergent, lane " + std::to_string(k) + " of the mask has exited");
                // Still waiting in a barrier that has not been released (not merely unscheduled).
                if (b.waiting[t] && std::strcmp(b.waiting[t], "__syncthreads") == 0 && b.bar_wait_gen[t] == b.bar_gen)
                    fault(b, std::string(what) + ": divergent, lane " + std::to_string(k) + " waits in __syncthreads");
            }
            return false;
        });
    }
    std::memcpy(out, ex->vals, sizeof(ex->vals));
    const uint64_t gen2 = ex->gen;
    if (++ex->read == __builtin_popcount(mask)) {
        ex->state = 0;
        ex->gen++;
    } else {
        notify(b);
        wait(l, what, [&] { return ex->gen != gen2; });
    }
    notify(b);
}

template <class T>
uint64_t to_bits(T v) {
    static_assert(sizeof(T) <= 8, "shuffle values up to 8 bytes");
    uint64_t u = 0;
    std::memcpy(&u, &v, sizeof(T));
    return u;
}
template <class T>
T from_bits(uint64_t u) {
    T v;
    std::memcpy(&v, &u, sizeof(T));
    return v;
}

// Source lane per PTX shfl.sync; -1 means "return own value".
enum class Shfl { Idx, Up, Down, Xor };
inline int shfl_src(Shfl kind, int lane, int arg, int width) {
    const int seg = lane & ~(width - 1), seg_end = seg + width - 1;
    switch (kind) {
        case Shfl::Idx: return seg + (arg & (width - 1));
        case Shfl::Up: return (lane - seg) < arg ? -1 : lane - arg;
        case Shfl::Down: return lane + arg > seg_end ? -1 : lane + arg;
        case Shfl::Xor: { int s = lane ^ arg; return s > seg_end ? -1 : s; }
    }
    return -1;
}

template <class T>
T shfl(Shfl kind, uint32_t mask, T v, int arg, int width, const char* what) {
    uint64_t all[32];
    exchange(mask, to_bits(v), all, what);
    const int lane = tl_tid & 31;
    if (width < 1 || width > 32 || (width & (width - 1))) fault(*tl_block, std::string(what) + ": bad width");
    const int src = shfl_src(kind, lane, arg, width);
    if (src < 0) return v;
    if (!((mask >> src) & 1u))
        fault(*tl_block, std::string(what) + ": source lane " + std::to_string(src) + " outside the mask");
    return from_bits<T>(all[src]);
}

inline uint32_t ballot(uint32_t mask, int pred, const char* what) {
    uint64_t all[32];
    exchange(mask, pred ? 1 : 0, all, what);
    uint32_t r = 0;
    for (int k = 0; k < 32; ++k)
        if (((mask >> k) & 1u) && all[k]) r |= 1u << k;
    return r;
}

// ---- launch ----------------------------------------------------------------------------------
inline void thread_exit(Block& b, int tid) {
    Lock l(b);
    b.exited[tid] = 1;
    b.live--;
    if (b.arrived > 0 && b.arrived == b.live) {  // arrive-and-drop: release the others
        b.red_result = b.red_acc;
        b.red_acc = 0;
        b.arrived = 0;
        b.bar_gen++;
    }
    notify(b);
}

inline void run_thread(Block& b, int tid) {
    tl_block = &b;
    set_builtins(b, tid);
    try {
        b.body();
    } catch (const Fault&) {
    } catch (const Abort&) {
    }
    thread_exit(b, tid);
}

inline void fiber_entry() {
    Block& b = *tl_block;
    run_thread(b, b.current);
    b.fib[b.current].done = true;  // returning resumes the scheduler through uc_link
}

inline void run_block_fibers(Block& b) {
    constexpr size_t kStack = 256 * 1024;
    if (b.fib.size() != (size_t)b.nthreads) {
        b.fib = std::vector<Fiber>(b.nthreads);
        for (auto& f : b.fib) f.stack.reset(new char[kStack]);
    }
    for (int t = 0; t < b.nthreads; ++t) {
        Fiber& f = b.fib[t];
        f.done = false;
        getcontext(&f.ctx);
        f.ctx.uc_stack.ss_sp = f.stack.get();
        f.ctx.uc_stack.ss_size = kStack;
        f.ctx.uc_link = &b.sched;
        makecontext(&f.ctx, fiber_entry, 0);
    }
    int remaining = b.nthreads;
    while (remaining > 0) {
        const uint64_t before = b.progress;
        for (int t = 0; t < b.nthreads; ++t) {
            if (b.fib[t].done) continue;
            b.current = t;
            tl_block = &b;
            set_builtins(b, t);
            swapcontext(&b.sched, &b.fib[t].ctx);
            if (b.fib[t].done) remaining--;
        }
        if (remaining > 0 && b.progress == before && !b.failed) {
            std::string who;
            for (int t = 0; t < b.nthreads && who.size() < 200; ++t)
                if (!b.fib[t].done && b.waiting[t]) who += " t" + std::to_string(t) + ":" + b.waiting[t];
            b.failed = true;
            b.error = "deadlock: no thread can make progress;" + who;
        }
    }
}

inline void run_block_threads(Block& b) {
    std::vector<std::thread> ts;
    ts.reserve(b.nthreads);
    const dim3 bd = tl_blockDim, gd = tl_gridDim;
    const uint3 bi = tl_blockIdx;
    unsigned char* dyn = tl_dyn_smem;
    for (int t = 0; t < b.nthreads; ++t)
        ts.emplace_back([&b, t, bd, gd, bi, dyn] {
            tl_blockDim = bd;
            tl_gridDim = gd;
            tl_blockIdx = bi;
            tl_dyn_smem = dyn;
            run_thread(b, t);
        });
    for (auto& t : ts) t.join();
}

// Runs kernel<<<grid, block, dyn_smem>>>(args...). Returns false (see last_error()) on a fault.
template <class... P, class... A>
bool launch(void (*kernel)(P...), dim3 grid, dim3 block, size_t dyn_smem, A... args) {
    std::lock_guard<std::mutex> guard(g_launch_mu);
    g_last_error.clear();
    const long long nthreads = (long long)block.x * block.y * block.z;
    if (nthreads < 1 || nthreads > 1024 || grid.x == 0 || grid.y == 0 || grid.z == 0) {
        g_last_error = "invalid launch configuration";
        return false;
    }
    const bool fib = fibers_enabled();
    std::vector<unsigned char> dyn(dyn_smem + 16);
    std::vector<Fiber> fibers_cache;
    for (unsigned bz = 0; bz < grid.z; ++bz)
        for (unsigned by = 0; by < grid.y; ++by)
            for (unsigned bx = 0; bx < grid.x; ++bx) {
                Block b;
                b.nthreads = (int)nthreads;
                b.fibers = fib;
                b.live = b.nthreads;
                b.bar_count.assign(b.nthreads, 0);
                b.exited.assign(b.nthreads, 0);
                b.waiting.assign(b.nthreads, nullptr);
                b.bar_wait_gen.assign(b.nthreads, 0);
                b.exch.assign(((b.nthreads + 31) / 32) * 4, Exchange{});
                b.fib = std::move(fibers_cache);
                b.body = [&] { kernel(args...); };
                if (__start_emu_shared && __stop_emu_shared)
                    std::memset(__start_emu_shared, 0xFF, (size_t)(__stop_emu_shared - __start_emu_shared));
                std::memset(dyn.data(), 0xFF, dyn.size());
                tl_blockDim = block;
                tl_gridDim = grid;
                tl_blockIdx = uint3(bx, by, bz);
                tl_dyn_smem = dyn.data();
                if (fib) run_block_fibers(b); else run_block_threads(b);
                tl_block = nullptr;
                fibers_cache = std::move(b.fib);
                if (b.failed) {
                    g_last_error = "block (" + std::to_string(bx) + "," + std::to_string(by) + "," +
                                   std::to_string(bz) + "): " + b.error;
                    return false;
                }
                const char* allow = std::getenv("EMU_ALLOW_DIVERGENT_BARRIER");
                if (!(allow && allow[0] == '1'))
                    for (int t = 1; t < b.nthreads; ++t)
                        if (b.bar_count[t] != b.bar_count[0]) {
                            g_last_error = "divergent __syncthreads in block (" + std::to_string(bx) + "," +
                                           std::to_string(by) + "," + std::to_string(bz) + "): thread 0 passed " +
                                           std::to_string(b.bar_count[0]) + " barriers, thread " +
                                           std::to_string(t) + " passed " + std::to_string(b.bar_count[t]);
                            return false;
                        }
            }
    return true;
}

}  // namespace emu

// ---- built-in variables and functions ----------------------------------------------------------
#define threadIdx (emu::tl_threadIdx)
#define blockIdx (emu::tl_blockIdx)
#define blockDim (emu::tl_blockDim)
#define gridDim (emu::tl_gridDim)
#define warpSize 32
#define EXTERN_SHARED(T, name) T* name = reinterpret_cast<T*>(emu::tl_dyn_smem)

inline void __syncthreads() { emu::barrier(0); }
inline int __syncthreads_count(int p) { return emu::barrier(p); }
inline int __syncthreads_and(int p) { return emu::barrier(p) == emu::tl_block->live; }
inline int __syncthreads_or(int p) { return emu::barrier(p) != 0; }
inline void __syncwarp(unsigned mask = 0xffffffffu) { uint64_t all[32]; emu::exchange(mask, 0, all, "__syncwarp"); }
inline unsigned __ballot_sync(unsigned mask, int p) { return emu::ballot(mask, p, "__ballot_sync"); }
inline int __any_sync(unsigned mask, int p) { return emu::ballot(mask, p, "__any_sync") != 0; }
inline int __all_sync(unsigned mask, int p) { return emu::ballot(mask, p, "__all_sync") == mask; }
inline unsigned __activemask() {
    emu::Block& b = *emu::tl_block;
    emu::Lock l(b);
    const int warp = emu::tl_tid >> 5;
    unsigned m = 0;
    for (int k = 0; k < 32 && warp * 32 + k < b.nthreads; ++k)
        if (!b.exited[warp * 32 + k]) m |= 1u << k;
    return m;
}
template <class T> T __shfl_sync(unsigned m, T v, int src, int w = 32) { return emu::shfl(emu::Shfl::Idx, m, v, src, w, "__shfl_sync"); }
template <class T> T __shfl_up_sync(unsigned m, T v, unsigned d, int w = 32) { return emu::shfl(emu::Shfl::Up, m, v, (int)d, w, "__shfl_up_sync"); }
template <class T> T __shfl_down_sync(unsigned m, T v, unsigned d, int w = 32) { return emu::shfl(emu::Shfl::Down, m, v, (int)d, w, "__shfl_down_sync"); }
template <class T> T __shfl_xor_sync(unsigned m, T v, int lm, int w = 32) { return emu::shfl(emu::Shfl::Xor, m, v, lm, w, "__shfl_xor_sync"); }

// Atomics: std::atomic_ref on the plain object (C++20), so TSan sees them as atomic.
template <class T> T atomicAdd(T* p, T v) { return std::atomic_ref<T>(*p).fetch_add(v); }
template <class T> T atomicSub(T* p, T v) { return std::atomic_ref<T>(*p).fetch_sub(v); }
template <class T> T atomicExch(T* p, T v) { return std::atomic_ref<T>(*p).exchange(v); }
template <class T> T atomicCAS(T* p, T cmp, T v) { std::atomic_ref<T>(*p).compare_exchange_strong(cmp, v); return cmp; }
template <class T> T atomicMax(T* p, T v) {
    std::atomic_ref<T> a(*p);
    T old = a.load();
    while (old < v && !a.compare_exchange_weak(old, v)) {}
    return old;
}
template <class T> T atomicMin(T* p, T v) {
    std::atomic_ref<T> a(*p);
    T old = a.load();
    while (v < old && !a.compare_exchange_weak(old, v)) {}
    return old;
}
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_thread_fence(std::memory_order_seq_cst); }

inline float __int_as_float(int v) { float f; std::memcpy(&f, &v, 4); return f; }
inline int __float_as_int(float f) { int v; std::memcpy(&v, &f, 4); return v; }
inline float __uint_as_float(unsigned v) { float f; std::memcpy(&f, &v, 4); return f; }
inline unsigned __float_as_uint(float f) { unsigned v; std::memcpy(&v, &f, 4); return v; }
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline int __popc(unsigned v) { return __builtin_popcount(v); }
inline int __clz(int v) { return v == 0 ? 32 : __builtin_clz((unsigned)v); }
template <class T> T __ldg(const T* p) { return *p; }
template <class T> T min(T a, T b) { return b < a ? b : a; }
template <class T> T max(T a, T b) { return a < b ? b : a; }

#endif  // JEPA_EMU_CUDA_HPP
