#include "driver.hpp"
#include "../../cuda/vicreg.cu"

int main() {
    const int n = 40, d = 33, tiles = 2;  // n and d not multiples of the 32-wide tiles
    auto e = drv::data(n * d, 1);
    std::vector<float> mean(d), stdv(d), ec(n * d), dvar(n * d), coff(d * d), partial(tiles * tiles), losses(2), dcov(n * d);
    LAUNCH(vicreg_colstats_f32, dim3(tiles), dim3(32, 8), n, d, 1e-4f, e.data(), mean.data(), stdv.data());
    LAUNCH(vicreg_center_f32, dim3(2), dim3(256), n, d, e.data(), mean.data(), stdv.data(), ec.data(), dvar.data());
    LAUNCH(vicreg_gram_f32, dim3(tiles, tiles), dim3(32, 8), n, d, 1.0f / (n - 1), ec.data(), coff.data(), partial.data());
    LAUNCH(vicreg_finalize_f32, dim3(1), dim3(256), d, tiles * tiles, stdv.data(), partial.data(), losses.data());
    LAUNCH(vicreg_cov_grad_f32, dim3(tiles, 2), dim3(32, 8), n, d, 4.0f / (d * (n - 1.0f)), ec.data(), coff.data(), dcov.data());
    drv::require_finite("vicreg losses", losses);
    drv::require_finite("vicreg de_cov", dcov);
    return 0;
}
