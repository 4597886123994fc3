#include "driver.hpp"
#include "../../cuda/optim.cu"

int main() {
    const long long n = 130;
    auto p = drv::data(n, 1), g = drv::data(n, 2), m = std::vector<float>(n), v = std::vector<float>(n), t = drv::data(n, 3);
    LAUNCH(adamw_step_f32, dim3(2), dim3(64), n, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.05f, 0.1f, 0.001f, p.data(), g.data(), m.data(), v.data());
    LAUNCH(ema_update_f32, dim3(2), dim3(64), n, 0.99f, t.data(), p.data());
    drv::require_finite("adamw", p);
    drv::require_finite("ema", t);
    return 0;
}
