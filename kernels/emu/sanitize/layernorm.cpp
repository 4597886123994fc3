#include "driver.hpp"
#include "../../cuda/layernorm.cu"

int main() {
    const int rows = 5, dim = 60;  // 2 blocks of 4 rows (last partly empty); params: 2 column tiles
    auto x = drv::data(rows * dim, 1, 2.0f), w = drv::data(dim, 2), b = drv::data(dim, 3), dout = drv::data(rows * dim, 4);
    std::vector<float> out(rows * dim), mean(rows), rstd(rows), dx(rows * dim), dw(dim), db(dim);
    auto xb = drv::bf16(x), doutb = drv::bf16(dout);
    std::vector<unsigned short> ob(rows * dim), dxb(rows * dim);
    LAUNCH(layernorm_fwd_f32, dim3(2), dim3(128), rows, dim, 1e-5f, x.data(), w.data(), b.data(), out.data(), mean.data(), rstd.data());
    LAUNCH(layernorm_fwd_f32, dim3(2), dim3(128), rows, dim, 1e-5f, x.data(), (const float*)nullptr, (const float*)nullptr,
           out.data(), mean.data(), rstd.data());
    LAUNCH(layernorm_bwd_dx_f32, dim3(2), dim3(128), rows, dim, x.data(), w.data(), mean.data(), rstd.data(), dout.data(), dx.data());
    LAUNCH(layernorm_bwd_params_f32, dim3(2), dim3(32, 8), rows, dim, x.data(), mean.data(), rstd.data(), dout.data(), dw.data(), db.data());
    LAUNCH(layernorm_fwd_bf16, dim3(2), dim3(128), rows, dim, 1e-5f, xb.data(), w.data(), b.data(), ob.data(), mean.data(), rstd.data());
    LAUNCH(layernorm_bwd_dx_bf16, dim3(2), dim3(128), rows, dim, xb.data(), w.data(), mean.data(), rstd.data(), doutb.data(), dxb.data());
    LAUNCH(layernorm_bwd_params_bf16, dim3(2), dim3(32, 8), rows, dim, xb.data(), mean.data(), rstd.data(), doutb.data(), dw.data(),
           (float*)nullptr);
    drv::require_finite("layernorm dx", dx);
    drv::require_finite("layernorm dw", dw);
    return 0;
}
