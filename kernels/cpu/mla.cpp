// MLA absorbed attention (ops.h) and weight row extraction.
#include <cmath>

#include "kernels/cpu/common.h"
#include "kernels/cpu/simd.h"
#include "kernels/thread_pool.h"

namespace janus::kernels {

void weight_rows_f32(float* dst, const Weight& w, int64_t row0, int64_t n) {
  const char* op = "weight_rows_f32";
  const Tensor& t = w.w;
  cpu::check(t.dim() == 2 && t.strides()[1] == 1, op, "weight must be a row-major matrix, got " + shape_str(t.shape()));
  const int64_t N = t.size(0), K = t.size(1), rs = t.strides()[0];
  cpu::check(row0 >= 0 && n >= 0 && row0 + n <= N, op,
             "rows [" + std::to_string(row0) + ", " + std::to_string(row0 + n) + ") of " + shape_str(t.shape()));
  for (int64_t r = 0; r < n; ++r) {
    float* d = dst + r * K;
    const int64_t row = row0 + r;
    switch (t.dtype()) {
      case DType::F32: std::memcpy(d, t.data<float>() + row * rs, size_t(K) * 4); break;
      case DType::BF16: {
        const uint16_t* s = t.data<uint16_t>() + row * rs;
        for (int64_t k = 0; k < K; ++k) d[k] = bf16_to_f32(s[k]);
        break;
      }
      case DType::F16: {
        const uint16_t* s = t.data<uint16_t>() + row * rs;
        for (int64_t k = 0; k < K; ++k) d[k] = f16_to_f32(s[k]);
        break;
      }
      case DType::F8E4M3: {
        cpu::check(w.scale_inv.defined() && w.scale_inv.dtype() == DType::F32, op, "fp8 weight without f32 scale_inv");
        const int64_t KB = (K + 127) / 128;
        const float* sc = w.scale_inv.data<float>() + (row / 128) * KB;
        const uint8_t* s = t.data<uint8_t>() + row * rs;
        for (int64_t k = 0; k < K; ++k) d[k] = fp8e4m3_to_f32(s[k]) * sc[k / 128];
        break;
      }
      default: cpu::fail(op, std::string("unsupported weight dtype ") + dtype_name(t.dtype()));
    }
  }
}

void mla_attention_absorbed(Tensor& out, const Tensor& q_nope, const Tensor& q_pe, const Tensor& cache,
                            const Weight& kv_b, float scale, int64_t q_pos0) {
  JANUS_CUDA_DISPATCH((out, q_nope, q_pe, cache, kv_b),
                      cuda::mla_attention_absorbed(out, q_nope, q_pe, cache, kv_b, scale, q_pos0));
  const char* op = "mla_attention_absorbed";
  cpu::check_rows_f32(out, op, "out");
  cpu::check_rows_f32(q_nope, op, "q_nope");
  cpu::check_rows_f32(q_pe, op, "q_pe");
  cpu::check_rows_f32(cache, op, "cache");
  cpu::check(q_nope.dim() == 3 && q_pe.dim() == 3 && out.dim() == 3 && cache.dim() == 2, op,
             "expected q_nope [T,H,dn], q_pe [T,H,dr], cache [S,C+dr], out [T,H,dv]");
  const int64_t T = q_nope.size(0), H = q_nope.size(1), dn = q_nope.size(2), dr = q_pe.size(2), dv = out.size(2);
  const int64_t S = cache.size(0), C = cache.size(1) - dr;
  cpu::check(q_pe.size(0) == T && q_pe.size(1) == H && out.size(0) == T && out.size(1) == H && C > 0, op,
             "q_nope " + shape_str(q_nope.shape()) + ", q_pe " + shape_str(q_pe.shape()) + ", cache " +
                 shape_str(cache.shape()) + ", out " + shape_str(out.shape()));
  cpu::check(kv_b.w.dim() == 2 && kv_b.w.size(0) == H * (dn + dv) && kv_b.w.size(1) == C, op,
             "kv_b " + shape_str(kv_b.w.shape()) + " does not match " + std::to_string(H) + " heads of " +
                 std::to_string(dn) + "+" + std::to_string(dv) + " over a latent of " + std::to_string(C));
  cpu::check(q_pos0 >= 0 && q_pos0 + T <= S, op, "queries beyond the cache");
  const int64_t cs = cache.strides()[0];
  const float* cp = cache.data<float>();
  parallel_for(H, [&](int64_t hb, int64_t he) {
    std::vector<float> wh(static_cast<size_t>((dn + dv) * C)), qlat(static_cast<size_t>(C)),
        olat(static_cast<size_t>(C)), p(static_cast<size_t>(S));
    for (int64_t h = hb; h < he; ++h) {
      weight_rows_f32(wh.data(), kv_b, h * (dn + dv), dn + dv);
      for (int64_t t = 0; t < T; ++t) {
        const float* qn = q_nope.data<float>() + t * q_nope.strides()[0] + h * q_nope.strides()[1];
        const float* qp = q_pe.data<float>() + t * q_pe.strides()[0] + h * q_pe.strides()[1];
        std::fill(qlat.begin(), qlat.end(), 0.0f);
        for (int64_t d = 0; d < dn; ++d) cpu::axpy_f32(qlat.data(), qn[d], wh.data() + d * C, C);
        const int64_t n = q_pos0 + t + 1;
        float m = -INFINITY;
        for (int64_t j = 0; j < n; ++j) {
          const float* row = cp + j * cs;
          p[size_t(j)] = (cpu::dot_f32(qlat.data(), row, C) + cpu::dot_f32(qp, row + C, dr)) * scale;
          m = std::max(m, p[size_t(j)]);
        }
        double sum = 0;
        for (int64_t j = 0; j < n; ++j) sum += (p[size_t(j)] = std::exp(p[size_t(j)] - m));
        const float inv = float(1.0 / sum);
        std::fill(olat.begin(), olat.end(), 0.0f);
        for (int64_t j = 0; j < n; ++j) cpu::axpy_f32(olat.data(), p[size_t(j)] * inv, cp + j * cs, C);
        float* o = out.data<float>() + t * out.strides()[0] + h * out.strides()[1];
        for (int64_t v = 0; v < dv; ++v) o[v] = cpu::dot_f32(wh.data() + (dn + v) * C, olat.data(), C);
      }
    }
  });
}

}  // namespace janus::kernels
