// Tensor: a typed, shaped, strided view of a reference-counted buffer.
//
// - Shape and strides are in elements; a tensor may view part of a larger buffer (offset).
// - The buffer is either owned (allocated here, 64-byte aligned) or borrowed from something that
//   must outlive it (an mmap'ed checkpoint: the keep-alive handle holds the mapping).
// - Device is CPU or CUDA; CPU code reads data() directly. Tensors are not synchronised: share
//   them read-only across threads, or synchronise yourself.
// - Errors (bad shapes, out-of-range views) throw janus::kernels::Error with context.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/dtype.h"

namespace janus::kernels {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class Device : uint8_t { CPU, CUDA };
const char* device_name(Device d);

using Shape = std::vector<int64_t>;
std::string shape_str(const Shape& s);  // "[2, 3, 4]"

// A block of memory on one device.
struct Buffer {
  void* data = nullptr;
  size_t bytes = 0;
  Device device = Device::CPU;
  std::shared_ptr<void> keep_alive;  // owner of the memory (allocation or mapping)
};

class Tensor {
 public:
  Tensor() = default;

  // New contiguous tensor; contents uninitialised (empty) or zero (zeros).
  static Tensor empty(const Shape& shape, DType dtype, Device device = Device::CPU);
  static Tensor zeros(const Shape& shape, DType dtype, Device device = Device::CPU);
  // Views memory owned by `keep_alive` (e.g. a file mapping); no copy.
  static Tensor borrow(void* data, const Shape& shape, DType dtype, std::shared_ptr<void> keep_alive,
                       Device device = Device::CPU);
  // Copies host values into a new f32 / i64 / i32 CPU tensor.
  static Tensor from_f32(const Shape& shape, const std::vector<float>& values);
  static Tensor from_i64(const Shape& shape, const std::vector<int64_t>& values);

  bool defined() const { return buffer_ != nullptr; }
  DType dtype() const { return dtype_; }
  Device device() const { return buffer_ ? buffer_->device : Device::CPU; }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  int dim() const { return int(shape_.size()); }
  int64_t size(int d) const;  // negative d counts from the end
  int64_t numel() const;
  size_t nbytes() const { return size_t(numel()) * dtype_size(dtype_); }
  bool is_contiguous() const;

  // Address of element 0 (inline: per-element data<T>() reads in loops stay cheap).
  void* raw() const { return buffer_ ? static_cast<char*>(buffer_->data) + offset_ * dtype_size(dtype_) : nullptr; }
  template <typename T>
  T* data() const {
    return static_cast<T*>(raw());
  }

  // Views (share the buffer).
  Tensor view(const Shape& shape) const;  // contiguous only; one dim may be -1
  Tensor slice(int d, int64_t begin, int64_t end) const;
  Tensor select(int d, int64_t index) const;  // drops dimension d
  Tensor transpose(int a, int b) const;
  // Copies.
  Tensor contiguous() const;
  Tensor clone() const;
  Tensor to(DType dtype) const;    // CPU conversion between float types and integer types
  Tensor to(Device device) const;  // host <-> device copy (needs the CUDA backend)
  // Element-wise copy from src (same shape; dtype conversion allowed on CPU).
  void copy_from(const Tensor& src);

  // Values as float / int64 (CPU, any layout); for tests and small tensors.
  std::vector<float> to_f32_vector() const;
  std::vector<int64_t> to_i64_vector() const;

 private:
  std::shared_ptr<Buffer> buffer_;
  size_t offset_ = 0;  // elements
  DType dtype_ = DType::F32;
  Shape shape_, strides_;
};

Shape contiguous_strides(const Shape& shape);

}  // namespace janus::kernels
