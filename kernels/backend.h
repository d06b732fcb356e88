// Device plumbing shared by Tensor and the ops: allocation and copies on the CUDA device.
// Without the CUDA backend compiled in (or without a GPU at run time) these throw Error with a
// clear message; CPU code never calls them.
#pragma once
#include <cstddef>
#include <memory>

#include "kernels/tensor.h"

namespace janus::kernels {

bool cuda_compiled();       // the CUDA backend is part of this build
bool cuda_available();      // ...and a usable GPU is present
std::string cuda_status();  // one line for logs: "CUDA: H100 (sm_90), 80 GiB" / why not
std::shared_ptr<void> device_alloc(size_t bytes);
void device_memset_zero(void* p, size_t bytes);
void device_copy(void* dst, Device dst_dev, const void* src, Device src_dev, size_t bytes);

}  // namespace janus::kernels
