// Bidirectional multi-head attention (ViT, VQ attention blocks). Contract in kernels/ops.h.
// One (query, head) pair per work item (cpu::attend_row), as attention.cpp without the causal limit.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/cpu/attend_row.h"
#include "kernels/cpu/common.h"
#include "kernels/thread_pool.h"

namespace janus::kernels {

void attention_full(Tensor& out, const Tensor& q, const Tensor& k, const Tensor& v, float scale) {
  if (any_on_cuda(out, q, k, v)) throw Error("attention_full: CPU only (no CUDA kernel); copy the tensors to the host");
  const char* op = "attention_full";
  cpu::check_rows_f32(out, op, "out");
  cpu::check_rows_f32(q, op, "q");
  cpu::check_rows_f32(k, op, "k");
  cpu::check_rows_f32(v, op, "v");
  cpu::check(q.dim() == 3 && k.dim() == 3 && v.dim() == 3 && out.dim() == 3, op,
             "expected q [T,H,D], k [S,H,D], v [S,H,Dv], out [T,H,Dv]");
  const int64_t T = q.size(0), H = q.size(1), D = q.size(2), S = k.size(0), Dv = v.size(2);
  cpu::check(k.size(1) == H && k.size(2) == D && v.size(0) == S && v.size(1) == H && S > 0, op,
             "q " + shape_str(q.shape()) + ", k " + shape_str(k.shape()) + ", v " + shape_str(v.shape()));
  cpu::check(out.size(0) == T && out.size(1) == H && out.size(2) == Dv, op, "out " + shape_str(out.shape()));
  const float* qp = q.data<float>();
  const float* kp = k.data<float>();
  const float* vp = v.data<float>();
  float* op_ = out.data<float>();
  const int64_t qs0 = q.strides()[0], qs1 = q.strides()[1], ks0 = k.strides()[0], ks1 = k.strides()[1];
  const int64_t vs0 = v.strides()[0], vs1 = v.strides()[1], os0 = out.strides()[0], os1 = out.strides()[1];
  parallel_for(T * H, [&](int64_t b, int64_t e) {
    std::vector<float> p(static_cast<size_t>(S));
    for (int64_t i = b; i < e; ++i) {
      const int64_t t = i / H, h = i % H;
      cpu::attend_row(op_ + t * os0 + h * os1, qp + t * qs0 + h * qs1, kp + h * ks1, ks0, vp + h * vs1, vs0, S, D, Dv,
                      scale, p.data());
    }
  });
}

}  // namespace janus::kernels
