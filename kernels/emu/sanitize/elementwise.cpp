#include "driver.hpp"
#include "../../cuda/elementwise.cu"

int main() {
    const long long n = 300;  // two 128-thread blocks plus a grid-stride remainder
    auto a = drv::data(n, 1), b = drv::data(n, 2), out = std::vector<float>(n), y = drv::data(n, 3);
    auto ab = drv::bf16(a), bb = drv::bf16(b);
    std::vector<unsigned short> ob(n), yb = drv::bf16(y);
    const dim3 g(2), t(128);
    LAUNCH(add_f32, g, t, n, a.data(), b.data(), out.data());
    LAUNCH(mul_f32, g, t, n, a.data(), b.data(), out.data());
    LAUNCH(scale_f32, g, t, n, 0.5f, a.data(), out.data());
    LAUNCH(axpy_f32, g, t, n, 0.5f, a.data(), y.data());
    LAUNCH(fill_f32, g, t, n, 1.0f, out.data());
    LAUNCH(add_bf16, g, t, n, ab.data(), bb.data(), ob.data());
    LAUNCH(mul_bf16, g, t, n, ab.data(), bb.data(), ob.data());
    LAUNCH(scale_bf16, g, t, n, 0.5f, ab.data(), ob.data());
    LAUNCH(axpy_bf16, g, t, n, 0.5f, ab.data(), yb.data());
    LAUNCH(fill_bf16, g, t, n, 1.0f, ob.data());
    LAUNCH(cast_f32_to_bf16, g, t, n, a.data(), ob.data());
    LAUNCH(cast_bf16_to_f32, g, t, n, ob.data(), out.data());
    drv::require_finite("elementwise", out);
    return 0;
}
