#include "driver.hpp"
#include "../../cuda/copy.cu"

int main() {
    // A transposed [17, 19] read (strided source) into a contiguous buffer, exact sizes.
    const long long r = 17, c = 19, n = r * c;
    auto x = drv::data(n, 1), y = drv::data(c, 2);
    auto xb = drv::bf16(x), yb = drv::bf16(y);
    std::vector<float> out(n);
    std::vector<unsigned short> ob(n);
    std::vector<long long> xi(n), oi(n);
    for (long long i = 0; i < n; ++i) xi[i] = i * 3 - 7;
    StridedMeta t{};
    t.rank = 2;
    t.dims[0] = c, t.dims[1] = r;
    t.stride_a[0] = 1, t.stride_a[1] = c;  // transpose of the [r, c] source
    t.stride_b[0] = r, t.stride_b[1] = 1;
    const dim3 g(2), b(128);
    LAUNCH(strided_copy_f32, g, b, n, t, x.data(), out.data());
    LAUNCH(strided_copy_bf16, g, b, n, t, xb.data(), ob.data());
    LAUNCH(strided_copy_i64, g, b, n, t, xi.data(), oi.data());
    // [r, c] ⊙ a broadcast [c] row.
    StridedMeta bc{};
    bc.rank = 2;
    bc.dims[0] = r, bc.dims[1] = c;
    bc.stride_a[0] = c, bc.stride_a[1] = 1;
    bc.stride_b[0] = 0, bc.stride_b[1] = 1;
    for (int op = 0; op < 4; ++op) {
        LAUNCH(binary_strided_f32, g, b, n, op, bc, x.data(), y.data(), out.data());
        LAUNCH(binary_strided_bf16, g, b, n, op, bc, xb.data(), yb.data(), ob.data());
    }
    // Row sums (block per output) and column sums (32 × 8 tiles), sum and max.
    ReduceMeta rows{}, cols{};
    rows.kept_rank = rows.red_rank = cols.kept_rank = cols.red_rank = 1;
    rows.kept_dims[0] = r, rows.kept_stride[0] = c, rows.red_dims[0] = c, rows.red_stride[0] = 1;
    cols.kept_dims[0] = c, cols.kept_stride[0] = 1, cols.red_dims[0] = r, cols.red_stride[0] = c;
    std::vector<float> rs(r), cs(c);
    std::vector<unsigned short> rsb(r), csb(c);
    for (int op = 0; op < 2; ++op) {
        LAUNCH(reduce_rows_f32, dim3(3), dim3(256), r, c, op, rows, x.data(), rs.data());
        LAUNCH(reduce_rows_bf16, dim3(3), dim3(256), r, c, op, rows, xb.data(), rsb.data());
        LAUNCH(reduce_cols_f32, dim3(1), dim3(32, 8), c, r, op, cols, x.data(), cs.data());
        LAUNCH(reduce_cols_bf16, dim3(1), dim3(32, 8), c, r, op, cols, xb.data(), csb.data());
    }
    drv::require_finite("copy", out);
    drv::require_finite("reduce_rows", rs);
    drv::require_finite("reduce_cols", cs);
    return 0;
}
