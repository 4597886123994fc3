#include "driver.hpp"
#include "../../cuda/gelu.cu"

int main() {
    const long long n = 200;
    auto x = drv::data(n, 1, 4.0f), dout = drv::data(n, 2), out = std::vector<float>(n), dx = std::vector<float>(n);
    auto xb = drv::bf16(x), db = drv::bf16(dout);
    std::vector<unsigned short> ob(n), dxb(n);
    const dim3 g(2), t(64);
    LAUNCH(gelu_fwd_f32, g, t, n, x.data(), out.data());
    LAUNCH(gelu_bwd_f32, g, t, n, x.data(), dout.data(), dx.data());
    LAUNCH(gelu_fwd_bf16, g, t, n, xb.data(), ob.data());
    LAUNCH(gelu_bwd_bf16, g, t, n, xb.data(), db.data(), dxb.data());
    drv::require_finite("gelu", out);
    drv::require_finite("gelu dx", dx);
    return 0;
}
