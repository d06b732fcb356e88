// Routes a public op (kernels/cpu/*.cpp) to its CUDA kernel (kernels/cuda/cuda_ops.h) when any of
// its tensors lives on the GPU. First statement of each op:
//
//   JANUS_CUDA_DISPATCH((y, x, weight), cuda::rms_norm(y, x, weight, eps));
//
// The first argument is the parenthesised list of the op's tensors (Tensor or Weight; undefined
// ones count as CPU). If any is on CUDA: with the CUDA backend the op returns the CUDA call (which
// then requires all of them on the GPU and says which one is not); without it, throws Error
// "<op>: CUDA tensors need a build with the CUDA backend". All on the CPU: falls through to the
// CPU kernel.
#pragma once
#include <string>

#include "kernels/ops.h"
#include "kernels/tensor.h"
#if defined(JANUS_HAVE_CUDA)
#include "kernels/cuda/cuda_ops.h"
#endif

namespace janus::kernels {

inline bool on_cuda(const Tensor& t) { return t.defined() && t.device() == Device::CUDA; }
inline bool on_cuda(const Weight& w) { return on_cuda(w.w) || on_cuda(w.scale_inv) || on_cuda(w.bias); }
template <class... Ts>
bool any_on_cuda(const Ts&... ts) {
  return (on_cuda(ts) || ...);
}

}  // namespace janus::kernels

#if defined(JANUS_HAVE_CUDA)
#define JANUS_CUDA_DISPATCH(tensors, call)                  \
  do {                                                      \
    if (::janus::kernels::any_on_cuda tensors) return call; \
  } while (0)
#else
#define JANUS_CUDA_DISPATCH(tensors, call)                                                                        \
  do {                                                                                                            \
    if (::janus::kernels::any_on_cuda tensors)                                                                    \
      throw ::janus::kernels::Error(std::string(__func__) + ": CUDA tensors need a build with the CUDA backend"); \
  } while (0)
#endif
