#include "driver.hpp"
#include "../../cuda/patchify.cu"

int main() {
    const int b = 1, c = 3, h = 6, w = 8, p = 2, n = b * c * h * w;
    auto img = drv::data(n, 1);
    std::vector<float> out(n), back(n);
    auto ib = drv::bf16(img);
    std::vector<unsigned short> ob(n), bb(n);
    LAUNCH(patchify_f32, dim3(2), dim3(64), b, c, h, w, p, img.data(), out.data());
    LAUNCH(unpatchify_f32, dim3(2), dim3(64), b, c, h, w, p, out.data(), back.data());
    LAUNCH(patchify_bf16, dim3(2), dim3(64), b, c, h, w, p, ib.data(), ob.data());
    LAUNCH(unpatchify_bf16, dim3(2), dim3(64), b, c, h, w, p, ob.data(), bb.data());
    for (int i = 0; i < n; ++i)
        if (back[i] != img[i]) {
            std::fprintf(stderr, "unpatchify(patchify(x)) differs at %d\n", i);
            return 1;
        }
    return 0;
}
