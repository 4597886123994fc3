#include "driver.hpp"
#include "../../cuda/loss.cu"

int main() {
    const long long n = 150;
    auto z = drv::data(n, 1, 2.0f), h = drv::data(n, 2, 2.0f);
    std::vector<float> partial(2), out(1), dz(n);
    auto zb = drv::bf16(z), hb = drv::bf16(h);
    std::vector<unsigned short> dzb(n);
    const dim3 g(2), t(64);
    LAUNCH(smooth_l1_partial_f32, g, t, n, z.data(), h.data(), 1.0f, partial.data());
    LAUNCH(reduce_sum_scaled_f32, dim3(1), dim3(64), 2, partial.data(), 1.0f / n, out.data());
    LAUNCH(smooth_l1_bwd_f32, g, t, n, z.data(), h.data(), 1.0f, 1.0f, dz.data());
    LAUNCH(mse_partial_f32, g, t, n, z.data(), h.data(), partial.data());
    LAUNCH(mse_bwd_f32, g, t, n, z.data(), h.data(), 1.0f, dz.data());
    LAUNCH(smooth_l1_partial_bf16, g, t, n, zb.data(), hb.data(), 0.5f, partial.data());
    LAUNCH(smooth_l1_bwd_bf16, g, t, n, zb.data(), hb.data(), 0.5f, 1.0f, dzb.data());
    LAUNCH(mse_partial_bf16, g, t, n, zb.data(), hb.data(), partial.data());
    LAUNCH(mse_bwd_bf16, g, t, n, zb.data(), hb.data(), 1.0f, dzb.data());
    drv::require_finite("loss", out);
    drv::require_finite("loss partial", partial);
    return 0;
}
