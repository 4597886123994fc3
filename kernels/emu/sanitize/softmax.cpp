#include "driver.hpp"
#include "../../cuda/softmax.cu"

int main() {
    const int rows = 6, dim = 45;
    auto x = drv::data(rows * dim, 1, 5.0f), dout = drv::data(rows * dim, 2);
    std::vector<float> out(rows * dim), dx(rows * dim);
    auto xb = drv::bf16(x), db = drv::bf16(dout);
    std::vector<unsigned short> ob(rows * dim), dxb(rows * dim);
    LAUNCH(softmax_fwd_f32, dim3(2), dim3(128), rows, dim, x.data(), out.data());
    LAUNCH(softmax_bwd_f32, dim3(2), dim3(128), rows, dim, out.data(), dout.data(), dx.data());
    LAUNCH(softmax_fwd_bf16, dim3(2), dim3(128), rows, dim, xb.data(), ob.data());
    LAUNCH(softmax_bwd_bf16, dim3(2), dim3(128), rows, dim, ob.data(), db.data(), dxb.data());
    drv::require_finite("softmax", out);
    drv::require_finite("softmax dx", dx);
    return 0;
}
