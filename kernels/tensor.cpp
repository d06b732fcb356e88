#include "kernels/tensor.h"

#include <cstdlib>
#include <sstream>

#include "kernels/backend.h"

namespace janus::kernels {

const char* device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

std::string shape_str(const Shape& s) {
  std::ostringstream o;
  o << '[';
  for (size_t i = 0; i < s.size(); ++i) o << (i ? ", " : "") << s[i];
  o << ']';
  return o.str();
}

Shape contiguous_strides(const Shape& shape) {
  Shape st(shape.size());
  int64_t acc = 1;
  for (int i = int(shape.size()) - 1; i >= 0; --i) {
    st[i] = acc;
    acc *= shape[i];
  }
  return st;
}

static int64_t checked_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw Error("negative dimension in shape " + shape_str(shape));
    n *= d;
  }
  return n;
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  size_t bytes = size_t(checked_numel(shape)) * dtype_size(dtype);
  auto buf = std::make_shared<Buffer>();
  buf->bytes = bytes;
  buf->device = device;
  if (device == Device::CPU) {
    size_t rounded = (bytes + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, rounded ? rounded : 64);
    if (!p)
      throw Error("out of host memory allocating " + std::to_string(bytes) + " bytes for " + shape_str(shape) + " " +
                  dtype_name(dtype));
    buf->data = p;
    buf->keep_alive = std::shared_ptr<void>(p, [](void* q) { std::free(q); });
  } else {
    buf->keep_alive = device_alloc(bytes);
    buf->data = buf->keep_alive.get();
  }
  t.buffer_ = std::move(buf);
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  if (device == Device::CPU)
    std::memset(t.raw(), 0, t.nbytes());
  else
    device_memset_zero(t.raw(), t.nbytes());
  return t;
}

Tensor Tensor::borrow(void* data, const Shape& shape, DType dtype, std::shared_ptr<void> keep_alive, Device device) {
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = shape;
  t.strides_ = contiguous_strides(shape);
  auto buf = std::make_shared<Buffer>();
  buf->data = data;
  buf->bytes = size_t(checked_numel(shape)) * dtype_size(dtype);
  buf->device = device;
  buf->keep_alive = std::move(keep_alive);
  t.buffer_ = std::move(buf);
  return t;
}

Tensor Tensor::from_f32(const Shape& shape, const std::vector<float>& values) {
  Tensor t = empty(shape, DType::F32);
  if (int64_t(values.size()) != t.numel())
    throw Error("from_f32: " + std::to_string(values.size()) + " values for shape " + shape_str(shape));
  std::memcpy(t.raw(), values.data(), t.nbytes());
  return t;
}

Tensor Tensor::from_i64(const Shape& shape, const std::vector<int64_t>& values) {
  Tensor t = empty(shape, DType::I64);
  if (int64_t(values.size()) != t.numel())
    throw Error("from_i64: " + std::to_string(values.size()) + " values for shape " + shape_str(shape));
  std::memcpy(t.raw(), values.data(), t.nbytes());
  return t;
}

int64_t Tensor::size(int d) const {
  int n = dim();
  if (d < 0) d += n;
  if (d < 0 || d >= n) throw Error("dimension " + std::to_string(d) + " out of range for " + shape_str(shape_));
  return shape_[d];
}

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t d : shape_) n *= d;
  return n;
}

bool Tensor::is_contiguous() const {
  int64_t acc = 1;
  for (int i = dim() - 1; i >= 0; --i) {
    if (shape_[i] != 1 && strides_[i] != acc) return false;
    acc *= shape_[i];
  }
  return true;
}

Tensor Tensor::view(const Shape& shape) const {
  if (!is_contiguous()) throw Error("view of a non-contiguous tensor " + shape_str(shape_));
  Shape s = shape;
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1) {
      if (infer >= 0) throw Error("view: more than one -1 in " + shape_str(shape));
      infer = int(i);
    } else {
      known *= s[i];
    }
  }
  if (infer >= 0) s[infer] = known ? numel() / known : 0;
  if (checked_numel(s) != numel()) throw Error("view: cannot view " + shape_str(shape_) + " as " + shape_str(shape));
  Tensor t = *this;
  t.shape_ = s;
  t.strides_ = contiguous_strides(s);
  return t;
}

Tensor Tensor::slice(int d, int64_t begin, int64_t end) const {
  if (d < 0) d += dim();
  int64_t n = size(d);
  if (begin < 0 || end > n || begin > end)
    throw Error("slice [" + std::to_string(begin) + ", " + std::to_string(end) + ") of dim " + std::to_string(d) +
                " of " + shape_str(shape_));
  Tensor t = *this;
  t.offset_ += size_t(begin * strides_[d]);
  t.shape_[d] = end - begin;
  return t;
}

Tensor Tensor::select(int d, int64_t index) const {
  if (d < 0) d += dim();
  Tensor t = slice(d, index, index + 1);
  t.shape_.erase(t.shape_.begin() + d);
  t.strides_.erase(t.strides_.begin() + d);
  return t;
}

Tensor Tensor::transpose(int a, int b) const {
  if (a < 0) a += dim();
  if (b < 0) b += dim();
  size(a), size(b);
  Tensor t = *this;
  std::swap(t.shape_[a], t.shape_[b]);
  std::swap(t.strides_[a], t.strides_[b]);
  return t;
}

Tensor Tensor::contiguous() const {
  if (is_contiguous()) return *this;
  return clone();
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape_, dtype_, device());
  t.copy_from(*this);
  return t;
}

Tensor Tensor::to(DType dtype) const {
  if (dtype == dtype_) return *this;
  Tensor t = empty(shape_, dtype, device());
  t.copy_from(*this);
  return t;
}

Tensor Tensor::to(Device device) const {
  if (device == this->device()) return *this;
  Tensor src = contiguous();
  Tensor t = empty(shape_, dtype_, device);
  device_copy(t.raw(), device, src.raw(), src.device(), src.nbytes());
  return t;
}

namespace {
double load_as_double(const char* p, DType t) {
  switch (t) {
    case DType::F32: {
      float v;
      std::memcpy(&v, p, 4);
      return v;
    }
    case DType::BF16: {
      uint16_t v;
      std::memcpy(&v, p, 2);
      return bf16_to_f32(v);
    }
    case DType::F16: {
      uint16_t v;
      std::memcpy(&v, p, 2);
      return f16_to_f32(v);
    }
    case DType::F8E4M3: return fp8e4m3_to_f32(uint8_t(*p));
    case DType::I32: {
      int32_t v;
      std::memcpy(&v, p, 4);
      return v;
    }
    case DType::I64: {
      int64_t v;
      std::memcpy(&v, p, 8);
      return double(v);
    }
    case DType::U8: return uint8_t(*p);
    case DType::F64: {
      double v;
      std::memcpy(&v, p, 8);
      return v;
    }
  }
  return 0;
}
void store_from_double(char* p, DType t, double x) {
  switch (t) {
    case DType::F32: {
      float v = float(x);
      std::memcpy(p, &v, 4);
      break;
    }
    case DType::BF16: {
      uint16_t v = f32_to_bf16(float(x));
      std::memcpy(p, &v, 2);
      break;
    }
    case DType::F16: {
      uint16_t v = f32_to_f16(float(x));
      std::memcpy(p, &v, 2);
      break;
    }
    case DType::F8E4M3: *p = char(f32_to_fp8e4m3(float(x))); break;
    case DType::I32: {
      int32_t v = int32_t(x);
      std::memcpy(p, &v, 4);
      break;
    }
    case DType::I64: {
      int64_t v = int64_t(x);
      std::memcpy(p, &v, 8);
      break;
    }
    case DType::U8: *p = char(uint8_t(x)); break;
    case DType::F64: std::memcpy(p, &x, 8); break;
  }
}
// Calls f(src_offset, dst_offset) (in elements) for every element, in row-major order.
template <typename F>
void for_each_index(const Shape& shape, const Shape& sa, const Shape& sb, F f) {
  int n = int(shape.size());
  int64_t total = 1;
  for (auto d : shape) total *= d;
  if (total == 0) return;
  std::vector<int64_t> idx(n, 0);
  int64_t oa = 0, ob = 0;
  for (int64_t k = 0; k < total; ++k) {
    f(oa, ob);
    for (int i = n - 1; i >= 0; --i) {
      if (++idx[i] < shape[i]) {
        oa += sa[i];
        ob += sb[i];
        break;
      }
      oa -= sa[i] * (shape[i] - 1);
      ob -= sb[i] * (shape[i] - 1);
      idx[i] = 0;
    }
  }
}
}  // namespace

void Tensor::copy_from(const Tensor& src) {
  if (src.shape_ != shape_) throw Error("copy_from: shape " + shape_str(src.shape_) + " into " + shape_str(shape_));
  if (device() != Device::CPU || src.device() != Device::CPU) {
    if (src.dtype_ != dtype_ || !src.is_contiguous() || !is_contiguous())
      throw Error("copy_from across devices needs contiguous tensors of one dtype");
    device_copy(raw(), device(), src.raw(), src.device(), nbytes());
    return;
  }
  if (src.dtype_ == dtype_ && src.is_contiguous() && is_contiguous()) {
    std::memmove(raw(), src.raw(), nbytes());
    return;
  }
  const char* s = static_cast<const char*>(src.raw());
  char* d = static_cast<char*>(raw());
  size_t ss = dtype_size(src.dtype_), ds = dtype_size(dtype_);
  if (src.dtype_ == DType::I64 && dtype_ == DType::I64) {
    for_each_index(shape_, src.strides_, strides_, [&](int64_t a, int64_t b) { std::memcpy(d + b * 8, s + a * 8, 8); });
    return;
  }
  for_each_index(shape_, src.strides_, strides_, [&](int64_t a, int64_t b) {
    store_from_double(d + b * ds, dtype_, load_as_double(s + a * ss, src.dtype_));
  });
}

std::vector<float> Tensor::to_f32_vector() const {
  Tensor c = device() == Device::CPU ? *this : to(Device::CPU);
  Tensor f = Tensor::empty(shape_, DType::F32);
  f.copy_from(c);
  return std::vector<float>(f.data<float>(), f.data<float>() + f.numel());
}

std::vector<int64_t> Tensor::to_i64_vector() const {
  Tensor c = device() == Device::CPU ? *this : to(Device::CPU);
  Tensor f = Tensor::empty(shape_, DType::I64);
  f.copy_from(c);
  return std::vector<int64_t>(f.data<int64_t>(), f.data<int64_t>() + f.numel());
}

}  // namespace janus::kernels
