// driver.hpp — shared by the rung-3 sanitizer drivers (scripts/sanitize.sh). Each driver includes
// this, then ONE unmodified .cu, then runs every entry point of that file on 1–2 blocks with
// exact-size heap buffers (so AddressSanitizer's redzones catch any off-by-one), in the mode the
// script selects (OS threads for ThreadSanitizer, fibers or threads for ASan/UBSan).
#include "../emu_cuda.hpp"
#include "../../cuda/common.cuh"

#include <cstdio>
#include <cstdlib>
#include <vector>

namespace drv {

inline std::vector<float> data(size_t n, unsigned seed, float scale = 1.0f) {
    std::vector<float> v(n);
    unsigned s = seed * 2654435761u + 1u;
    for (auto& x : v) {
        s = s * 1664525u + 1013904223u;
        x = ((float)(s >> 8) / (float)(1u << 24) * 2.0f - 1.0f) * scale;
    }
    return v;
}

inline std::vector<unsigned short> bf16(const std::vector<float>& v) {
    std::vector<unsigned short> r(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
        unsigned u;
        std::memcpy(&u, &v[i], 4);
        r[i] = (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    }
    return r;
}

inline void require_finite(const char* what, const std::vector<float>& v) {
    for (size_t i = 0; i < v.size(); ++i)
        if (!std::isfinite(v[i])) {
            std::fprintf(stderr, "%s: element %zu is not finite (read of poisoned shared memory?)\n", what, i);
            std::exit(1);
        }
}

}  // namespace drv

// Launches and exits non-zero with the emulator's report on any fault.
#define LAUNCH(kernel, grid, block, ...)                                                        \
    do {                                                                                        \
        if (!emu::launch(kernel, grid, block, 0, __VA_ARGS__)) {                                \
            std::fprintf(stderr, "%s: %s\n", #kernel, emu::last_error());                       \
            std::exit(1);                                                                       \
        }                                                                                       \
    } while (0)
