#include "driver.hpp"
#include "../../cuda/unary.cu"

int main() {
    const long long n = 300;  // two 128-thread blocks plus a grid-stride remainder
    auto x = drv::data(n, 1), g = drv::data(n, 2);
    for (auto& v : x) v = std::fabs(v) + 0.25f;  // in the domain of sqrt, log and powf
    auto xb = drv::bf16(x), gb = drv::bf16(g);
    std::vector<float> out(n), dx(n);
    std::vector<unsigned short> ob(n), dxb(n);
    const dim3 grid(2), block(128);
    for (int op = 0; op <= 8; ++op) {
        LAUNCH(unary_fwd_f32, grid, block, n, op, 1.5f, 0.25f, x.data(), out.data());
        LAUNCH(unary_bwd_f32, grid, block, n, op, 1.5f, x.data(), g.data(), dx.data());
        LAUNCH(unary_fwd_bf16, grid, block, n, op, 1.5f, 0.25f, xb.data(), ob.data());
        LAUNCH(unary_bwd_bf16, grid, block, n, op, 1.5f, xb.data(), gb.data(), dxb.data());
        drv::require_finite("unary_fwd", out);
        drv::require_finite("unary_bwd", dx);
    }
    return 0;
}
