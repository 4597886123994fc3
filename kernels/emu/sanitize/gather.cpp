#include "driver.hpp"
#include "../../cuda/gather.cu"

int main() {
    const int b = 2, n = 5, d = 33, k = 4;
    auto x = drv::data(b * n * d, 1), dout = drv::data(b * k * d, 2);
    std::vector<int> index = {0, 4, 4, 2, 1, 1, 1, 3};  // repeated rows: concurrent atomics on one address
    std::vector<float> out(b * k * d), dx(b * n * d, 0.0f);
    auto xb = drv::bf16(x), db = drv::bf16(dout);
    std::vector<unsigned short> ob(b * k * d);
    LAUNCH(gather_rows_f32, dim3(2), dim3(128), b, n, d, k, x.data(), index.data(), out.data());
    LAUNCH(scatter_add_rows_f32, dim3(2), dim3(128), b, n, d, k, dout.data(), index.data(), dx.data());
    LAUNCH(gather_rows_bf16, dim3(2), dim3(128), b, n, d, k, xb.data(), index.data(), ob.data());
    LAUNCH(scatter_add_rows_bf16, dim3(2), dim3(128), b, n, d, k, db.data(), index.data(), dx.data());
    drv::require_finite("gather", out);
    drv::require_finite("scatter", dx);
    return 0;
}
