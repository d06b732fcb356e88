#include "llm/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

namespace janus::llm {

using kernels::DType;
using kernels::Error;
using kernels::Shape;
using kernels::Tensor;
using json = nlohmann::json;

namespace {

// Safetensors dtypes that Janus has no kernels::DType for: accepted on open, refused by get().
struct UnsupportedDtype {
  const char* name;
  size_t size;
};
constexpr UnsupportedDtype kUnsupportedDtypes[] = {{"BOOL", 1}, {"I8", 1},  {"F8_E5M2", 1}, {"F8_E8M0", 1}, {"I16", 2},
                                                   {"U16", 2},  {"U32", 4}, {"U64", 8},     {"F64", 8},     {"C64", 8}};
constexpr const char* kSupportedList = "F32, BF16, F16, F8_E4M3, I32, I64, U8";

// Error messages are one line: control characters (from names or JSON error context) become '?'.
std::string one_line(std::string s) {
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return s;
}

std::string squote(const std::string& name) { return "'" + name + "'"; }

std::string range_str(uint64_t b, uint64_t e) { return "[" + std::to_string(b) + ", " + std::to_string(e) + "]"; }

// A short rendering of a JSON value for error messages.
std::string brief(const json& v) {
  std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return s;
}

std::string sys_error() { return std::strerror(errno); }

}  // namespace

// ---------------------------------------------------------------------------------------------
// Reading

void SafetensorsFile::fail(const std::string& problem) const { throw Error(one_line(path_ + ": " + problem)); }

void SafetensorsFile::fail(const std::string& tensor, const std::string& problem) const {
  throw Error(one_line(path_ + ": tensor " + squote(tensor) + ": " + problem));
}

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  std::shared_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = path;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) f->fail("cannot open (" + sys_error() + ")");
  struct stat st;
  if (fstat(fd, &st) != 0) {
    std::string err = sys_error();
    ::close(fd);
    f->fail("cannot stat (" + err + ")");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    f->fail("not a regular file");
  }
  f->size_ = uint64_t(st.st_size);
  if (f->size_ > 0) {
    void* p = mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      std::string err = sys_error();
      ::close(fd);
      f->fail("cannot map " + std::to_string(f->size_) + " bytes (" + err + ")");
    }
    size_t len = f->size_;
    f->keep_alive_ = std::shared_ptr<void>(p, [len](void* q) { munmap(q, len); });
    f->base_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);  // the mapping stays valid without the descriptor
  f->parse();
  return f;
}

std::shared_ptr<SafetensorsFile> SafetensorsFile::open_from_memory(const void* data, size_t size,
                                                                   const std::string& name,
                                                                   std::shared_ptr<void> keep_alive) {
  std::shared_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = name;
  f->base_ = static_cast<const uint8_t*>(data);
  f->size_ = size;
  f->keep_alive_ = std::move(keep_alive);
  f->parse();
  return f;
}

void SafetensorsFile::parse() {
  if (size_ < 8) fail("truncated file (" + std::to_string(size_) + " bytes, need at least 8)");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(base_[i]) << (8 * i);
  if (n > size_ - 8) fail("header length " + std::to_string(n) + " exceeds file size " + std::to_string(size_));
  if (n > kSafetensorsMaxHeaderBytes) fail("header length " + std::to_string(n) + " exceeds the 100 MB limit");
  data_start_ = 8 + n;
  const uint64_t data_size = size_ - data_start_;

  // Duplicate top-level keys would silently shadow each other in a JSON object: refuse them.
  std::set<std::string> seen;
  std::string duplicate;
  auto on_event = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth == 1 && event == json::parse_event_t::key && duplicate.empty() &&
        !seen.insert(parsed.get<std::string>()).second)
      duplicate = parsed.get<std::string>();
    return true;
  };
  json header;
  try {
    const char* text = reinterpret_cast<const char*>(base_ + 8);
    header = json::parse(text, text + n, on_event);
  } catch (const json::exception& e) {
    std::string what = e.what();
    if (!what.empty() && what[0] == '[') what = what.substr(what.find(']') + 1);
    what = what.substr(std::min(what.size(), what.find_first_not_of(' ')));
    if (what.size() > 200) what = what.substr(0, 197) + "...";  // "last read" can be a huge token
    fail("header is not valid JSON (" + what + ")");
  }
  if (!header.is_object()) fail(std::string("header is a JSON ") + header.type_name() + ", expected an object");
  if (!duplicate.empty()) fail("key " + squote(duplicate) + " appears twice in the header");

  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object())
        fail(std::string("__metadata__ is a JSON ") + entry.type_name() + ", expected an object of strings");
      for (const auto& [k, v] : entry.items()) {
        if (!v.is_string()) fail("__metadata__ key " + squote(k) + " holds a " + v.type_name() + ", expected a string");
        metadata_[k] = v.get<std::string>();
      }
      continue;
    }
    if (!entry.is_object())
      fail(name, std::string("entry is a JSON ") + entry.type_name() +
                     ", expected an object with dtype, shape and data_offsets");
    SafetensorsTensorInfo info;

    auto dt = entry.find("dtype");
    if (dt == entry.end()) fail(name, "no dtype");
    if (!dt->is_string()) fail(name, "dtype " + brief(*dt) + " is not a string");
    info.dtype_name = dt->get<std::string>();
    DType d;
    if (kernels::dtype_from_safetensors(info.dtype_name, &d)) {
      info.dtype = d;
      info.element_size = kernels::dtype_size(d);
    } else {
      for (const auto& u : kUnsupportedDtypes)
        if (info.dtype_name == u.name) info.element_size = u.size;
      if (info.element_size == 0) fail(name, "unknown dtype " + squote(info.dtype_name));
    }

    auto sh = entry.find("shape");
    if (sh == entry.end()) fail(name, "no shape");
    if (!sh->is_array()) fail(name, "shape " + brief(*sh) + " is not a list");
    // The product of the non-zero dimensions bounds every stride, so it must fit too (in bytes),
    // not just numel: [0, 2^40, 2^40] has no elements but unrepresentable strides.
    uint64_t numel = 1, nonzero = 1, nonzero_bytes = 0;
    bool overflow = false;
    for (const json& dim : *sh) {
      if (dim.is_number_integer() && !dim.is_number_unsigned())
        fail(name, "negative dimension " + brief(dim) + " in shape " + brief(*sh));
      if (!dim.is_number_unsigned()) fail(name, "shape " + brief(*sh) + " has a non-integer dimension " + brief(dim));
      uint64_t v = dim.get<uint64_t>();
      info.shape.push_back(int64_t(v));
      numel *= v;  // cannot wrap unless `nonzero` overflows below
      if (v != 0 && __builtin_mul_overflow(nonzero, v, &nonzero)) overflow = true;
    }
    if (overflow || __builtin_mul_overflow(nonzero, uint64_t(info.element_size), &nonzero_bytes) ||
        nonzero_bytes > uint64_t(INT64_MAX))
      fail(name, "shape " + brief(*sh) + " has too many elements");
    const uint64_t bytes = numel * info.element_size;
    info.numel = int64_t(numel);

    auto off = entry.find("data_offsets");
    if (off == entry.end()) fail(name, "no data_offsets");
    if (!off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() || !(*off)[1].is_number_unsigned())
      fail(name, "data_offsets " + brief(*off) + " is not a pair of non-negative integers");
    info.data_begin = (*off)[0].get<uint64_t>();
    info.data_end = (*off)[1].get<uint64_t>();
    const std::string offsets = "data_offsets " + range_str(info.data_begin, info.data_end);
    if (info.data_begin > info.data_end) fail(name, offsets + " begin after end");
    if (info.data_end > data_size)
      fail(name, offsets + " out of range (data section is " + std::to_string(data_size) + " bytes)");
    if (info.data_end - info.data_begin != bytes)
      fail(name, offsets + " hold " + std::to_string(info.data_end - info.data_begin) + " bytes, but shape " +
                     kernels::shape_str(info.shape) + " of " + info.dtype_name + " needs " + std::to_string(bytes));
    info.file_offset = data_start_ + info.data_begin;
    names_.push_back(name);
    tensors_.emplace(name, std::move(info));
  }
  std::sort(names_.begin(), names_.end());

  // No two non-empty tensors may share a byte. Sorted by begin, each must start at or after the
  // furthest end seen so far.
  std::vector<const std::string*> order;
  for (const auto& [name, info] : tensors_)
    if (info.nbytes() > 0) order.push_back(&name);
  std::sort(order.begin(), order.end(), [&](const std::string* a, const std::string* b) {
    const auto &ia = tensors_.at(*a), &ib = tensors_.at(*b);
    return ia.data_begin != ib.data_begin ? ia.data_begin < ib.data_begin : *a < *b;
  });
  const std::string* furthest = nullptr;
  for (const std::string* name : order) {
    const auto& cur = tensors_.at(*name);
    if (furthest) {
      const auto& prev = tensors_.at(*furthest);
      if (cur.data_begin < prev.data_end)
        fail("tensors " + squote(*furthest) + " (data_offsets " + range_str(prev.data_begin, prev.data_end) + ") and " +
             squote(*name) + " (data_offsets " + range_str(cur.data_begin, cur.data_end) + ") overlap");
    }
    if (!furthest || cur.data_end > tensors_.at(*furthest).data_end) furthest = name;
  }
}

const SafetensorsTensorInfo& SafetensorsFile::info(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) fail(name, "not in this file");
  return it->second;
}

Tensor SafetensorsFile::get(const std::string& name) const {
  const SafetensorsTensorInfo& in = info(name);
  if (!in.dtype)
    fail(name, "dtype " + in.dtype_name + " is not supported by Janus (supported: " + kSupportedList + ")");
  const uint8_t* p = base_ + in.file_offset;
  if (reinterpret_cast<uintptr_t>(p) % in.element_size != 0) {
    // Misaligned for its element type (a hand-made file with an odd header length): copy.
    Tensor t = Tensor::empty(in.shape, *in.dtype);
    std::memcpy(t.raw(), p, in.nbytes());
    return t;
  }
  return Tensor::borrow(const_cast<uint8_t*>(p), in.shape, *in.dtype, keep_alive_);
}

// ---------------------------------------------------------------------------------------------
// Writing

namespace {

struct Planned {
  const std::string* name;
  const Tensor* tensor;
  uint64_t bytes;
};

// Validates the inputs, orders them (decreasing element size, then name) and returns the 8-byte
// length prefix + header, padded with spaces to a multiple of 8 bytes.
std::string plan_header(const std::string& where, const NamedTensors& tensors,
                        const std::map<std::string, std::string>& metadata, std::vector<Planned>* plan) {
  std::set<std::string> seen;
  for (const auto& [name, t] : tensors) {
    if (name == "__metadata__") throw Error(where + ": '__metadata__' is reserved, not a tensor name");
    if (!seen.insert(name).second) throw Error(one_line(where + ": tensor " + squote(name) + " given twice"));
    if (!t.defined()) throw Error(one_line(where + ": tensor " + squote(name) + " is undefined"));
    plan->push_back({&name, &t, uint64_t(t.nbytes())});
  }
  std::sort(plan->begin(), plan->end(), [](const Planned& a, const Planned& b) {
    size_t sa = kernels::dtype_size(a.tensor->dtype()), sb = kernels::dtype_size(b.tensor->dtype());
    return sa != sb ? sa > sb : *a.name < *b.name;
  });
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const Planned& p : *plan) {
    header[*p.name] = {{"dtype", kernels::dtype_safetensors_name(p.tensor->dtype())},
                       {"shape", p.tensor->shape()},
                       {"data_offsets", {offset, offset + p.bytes}}};
    offset += p.bytes;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception&) {
    throw Error(where + ": a tensor name or metadata string is not valid UTF-8");
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = char((uint64_t(text.size()) >> (8 * i)) & 0xff);
  return out + text;
}

Tensor host_contiguous(const Tensor& t) { return t.to(kernels::Device::CPU).contiguous(); }

}  // namespace

std::string encode_safetensors(const NamedTensors& tensors, const std::map<std::string, std::string>& metadata) {
  std::vector<Planned> plan;
  std::string out = plan_header("encode_safetensors", tensors, metadata, &plan);
  for (const Planned& p : plan) {
    Tensor c = host_contiguous(*p.tensor);
    out.append(static_cast<const char*>(c.raw()), p.bytes);
  }
  return out;
}

void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata) {
  std::vector<Planned> plan;
  const std::string header = plan_header(path, tensors, metadata, &plan);
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(one_line(path + ": cannot create " + tmp + " (" + sys_error() + ")"));
  // Until the rename, any failure removes the temporary file and leaves `path` untouched.
  auto abandon = [&](const std::string& what) {
    std::string err = sys_error();
    if (fd >= 0) ::close(fd);
    fd = -1;
    ::unlink(tmp.c_str());
    throw Error(one_line(path + ": " + what + " (" + err + ")"));
  };
  auto write_all = [&](const void* data, uint64_t n) {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      ssize_t w = ::write(fd, p, std::min<uint64_t>(n, 1u << 30));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) abandon("write to " + tmp + " failed");
      p += w;
      n -= uint64_t(w);
    }
  };
  try {
    write_all(header.data(), header.size());
    for (const Planned& p : plan) {
      Tensor c = host_contiguous(*p.tensor);  // one tensor at a time: bounded extra memory
      write_all(c.raw(), p.bytes);
    }
    if (::fsync(fd) != 0) abandon("fsync of " + tmp + " failed");
    int rc = ::close(fd);
    fd = -1;
    if (rc != 0) abandon("close of " + tmp + " failed");
    if (::rename(tmp.c_str(), path.c_str()) != 0) abandon("rename of " + tmp + " failed");
  } catch (...) {  // abandon() has already cleaned up; anything else (e.g. bad_alloc) has not
    if (fd >= 0) ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  // Make the rename itself durable.
  std::string dir = std::filesystem::path(path).parent_path().string();
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace janus::llm
