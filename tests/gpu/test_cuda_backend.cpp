// The CUDA backend's plumbing on a real GPU: copies, zeroing, the caching allocator, and the
// errors for out-of-memory and for tensors on different devices. Exact comparisons: copies
// move bytes.
#include <cstring>

#include "gpu_test_util.h"
#include "kernels/cuda/cuda_ops.h"

namespace janus::kernels {
namespace {

using gpu_test::CudaTest;
using gpu_test::random_f32;

class CudaBackend : public CudaTest {};

TEST_F(CudaBackend, StatusNamesTheDevice) {
  EXPECT_EQ(cuda_status().rfind("CUDA: ", 0), 0u) << cuda_status();
  EXPECT_NE(cuda_status().find("(sm_"), std::string::npos) << cuda_status();
  EXPECT_TRUE(cuda_compiled());
}

TEST_F(CudaBackend, CopiesRoundTripBitExactly) {
  Tensor a = random_f32({37, 61}, 1);
  Tensor d = a.to(Device::CUDA);
  EXPECT_EQ(d.device(), Device::CUDA);
  Tensor d2 = d.clone();  // device to device
  Tensor back = d2.to(Device::CPU);
  EXPECT_EQ(0, std::memcmp(back.raw(), a.raw(), a.nbytes()));
}

TEST_F(CudaBackend, ZerosAreZero) {
  Tensor z = Tensor::zeros({1000, 3}, DType::F32, Device::CUDA);
  for (float v : z.to_f32_vector()) ASSERT_EQ(v, 0.0f);
}

TEST_F(CudaBackend, AllocatorReusesFreedBlocksOfItsThread) {
  void* first = nullptr;
  {
    Tensor t = Tensor::empty({1000}, DType::F32, Device::CUDA);  // 4000 B -> 4 KiB class
    first = t.raw();
  }
  Tensor u = Tensor::empty({900}, DType::F32, Device::CUDA);  // same class
  EXPECT_EQ(u.raw(), first);
  EXPECT_GE(cuda::memory_stats().bytes_in_use, size_t(4096));
}

TEST_F(CudaBackend, OutOfMemoryIsAClearError) {
  const size_t huge = size_t(1) << 50;  // 1 PiB
  try {
    device_alloc(huge);
    FAIL() << "allocating 1 PiB succeeded";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("out of memory"), std::string::npos) << m;
    EXPECT_NE(m.find(std::to_string(huge)), std::string::npos) << m;
    EXPECT_NE(m.find("cudaError"), std::string::npos) << m;
  }
  // The device is still usable afterwards.
  Tensor t = Tensor::zeros({16}, DType::F32, Device::CUDA);
  EXPECT_EQ(t.to_f32_vector(), std::vector<float>(16, 0.0f));
}

TEST_F(CudaBackend, MixingDevicesInOneCallNamesTheTensor) {
  Tensor x = random_f32({2, 8}, 3).to(Device::CUDA);
  Tensor w = Tensor::from_f32({8}, std::vector<float>(8, 1.0f)).to(Device::CUDA);
  Tensor y_cpu = Tensor::empty({2, 8}, DType::F32);
  try {
    rms_norm(y_cpu, x, w, 1e-6f);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rms_norm: y is on the cpu"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace janus::kernels
