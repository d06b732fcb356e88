// Causal grouped-query attention (see ops.h). One (query, head) pair per work item; scores in a
// per-thread buffer, softmax in float32 with max subtraction.
#include <cmath>

#include "kernels/cpu/attend_row.h"
#include "kernels/cpu/common.h"
#include "kernels/thread_pool.h"

namespace janus::kernels {

void attention(Tensor& out, const Tensor& q, const Tensor& k, const Tensor& v, float scale, int64_t q_pos0) {
  JANUS_CUDA_DISPATCH((out, q, k, v), cuda::attention(out, q, k, v, scale, q_pos0));
  const char* op = "attention";
  cpu::check_rows_f32(out, op, "out");
  cpu::check_rows_f32(q, op, "q");
  cpu::check_rows_f32(k, op, "k");
  cpu::check_rows_f32(v, op, "v");
  cpu::check(q.dim() == 3 && k.dim() == 3 && v.dim() == 3 && out.dim() == 3, op,
             "expected q [T,Hq,D], k [S,Hkv,D], v [S,Hkv,Dv], out [T,Hq,Dv]");
  const int64_t T = q.size(0), Hq = q.size(1), D = q.size(2);
  const int64_t S = k.size(0), Hkv = k.size(1), Dv = v.size(2);
  cpu::check(k.size(2) == D && v.size(0) == S && v.size(1) == Hkv && Hkv > 0 && Hq % Hkv == 0, op,
             "q " + shape_str(q.shape()) + ", k " + shape_str(k.shape()) + ", v " + shape_str(v.shape()));
  cpu::check(out.size(0) == T && out.size(1) == Hq && out.size(2) == Dv, op, "out " + shape_str(out.shape()));
  cpu::check(q_pos0 >= 0 && q_pos0 + T <= S, op,
             "queries at positions [" + std::to_string(q_pos0) + ", " + std::to_string(q_pos0 + T) +
                 ") need at least that many keys, have " + std::to_string(S));
  const int64_t group = Hq / Hkv;
  const float* qp = q.data<float>();
  const float* kp = k.data<float>();
  const float* vp = v.data<float>();
  float* op_ = out.data<float>();
  const int64_t qs0 = q.strides()[0], qs1 = q.strides()[1], ks0 = k.strides()[0], ks1 = k.strides()[1];
  const int64_t vs0 = v.strides()[0], vs1 = v.strides()[1], os0 = out.strides()[0], os1 = out.strides()[1];
  parallel_for(T * Hq, [&](int64_t b, int64_t e) {
    std::vector<float> p(static_cast<size_t>(S));
    for (int64_t i = b; i < e; ++i) {
      const int64_t t = i / Hq, h = i % Hq, kh = h / group;
      const int64_t n = q_pos0 + t + 1;
      cpu::attend_row(op_ + t * os0 + h * os1, qp + t * qs0 + h * qs1, kp + kh * ks1, ks0, vp + kh * vs1, vs0, n, D, Dv,
                      scale, p.data());
    }
  });
}

}  // namespace janus::kernels
