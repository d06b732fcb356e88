// Safetensors checkpoints: zero-copy reading (mmap) with a fully validated header, and atomic
// writing.
//
// Format (https://github.com/huggingface/safetensors): 8-byte little-endian header length N, N bytes
// of JSON, then the data section. The JSON object maps tensor names to
// {"dtype": "BF16", "shape": [a, b], "data_offsets": [begin, end]} (byte offsets into the data
// section) plus an optional "__metadata__" object of string -> string.
//
// Validation on open (each failure is a kernels::Error, see below): N <= file size - 8 and
// N <= 100 MB; the header is a JSON object with unique keys; every entry has a known dtype, a shape
// of non-negative integers whose element and byte counts fit in int64, and data_offsets [begin, end]
// with begin <= end <= data section size and end - begin == numel * dtype size; no two non-empty
// tensors overlap (gaps are allowed). Known dtypes Janus cannot compute with (F64, I8, I16, U16,
// U32, U64, BOOL, F8_E5M2, F8_E8M0) are accepted on open so the other tensors stay usable; get()
// on them fails. Unknown dtype strings fail the open.
//
// Errors: every failure throws janus::kernels::Error with a one-line message
// "<path>: [tensor '<name>': ]<problem>", e.g.
//   model.safetensors: tensor 'model.norm.weight': data_offsets [0, 12] out of range (data section is 8
//   bytes)
//
// Lifetime and thread-safety: a SafetensorsFile is immutable after open; all methods are const and
// may be called from any number of threads. Tensors returned by get() borrow the mapping and keep
// it alive (it is unmapped when the last such tensor and the SafetensorsFile are gone). The mapping
// is PROT_READ: borrowed tensors are read-only views — writing through them crashes; clone() first.
// If the file is truncated by another process while mapped, touching the lost pages raises SIGBUS
// (inherent to mmap).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kernels/tensor.h"

namespace janus::llm {

// Header limit, as in the reference implementation.
constexpr uint64_t kSafetensorsMaxHeaderBytes = 100ull * 1000 * 1000;

struct SafetensorsTensorInfo {
  std::string dtype_name;               // as written in the header: "BF16", "F64", ...
  std::optional<kernels::DType> dtype;  // empty for known-but-unsupported dtypes
  size_t element_size = 0;              // bytes per element (also for unsupported dtypes)
  kernels::Shape shape;
  int64_t numel = 0;
  uint64_t data_begin = 0, data_end = 0;  // byte range within the data section
  uint64_t file_offset = 0;               // absolute file offset of data_begin
  uint64_t nbytes() const { return data_end - data_begin; }
};

class SafetensorsFile {
 public:
  // Maps `path` read-only (MAP_PRIVATE, nothing copied) and validates the header.
  static std::shared_ptr<SafetensorsFile> open(const std::string& path);
  // Parses a safetensors image already in memory (the same validation as open()). `name` is used
  // in error messages and as path(). The bytes are borrowed, not copied: they must stay valid and
  // unchanged while the SafetensorsFile or any tensor from get() lives — `keep_alive` (may be null
  // if the caller guarantees that) is held by both.
  static std::shared_ptr<SafetensorsFile> open_from_memory(const void* data, size_t size, const std::string& name,
                                                           std::shared_ptr<void> keep_alive = nullptr);

  // Tensor names in sorted order ("__metadata__" is not a tensor).
  const std::vector<std::string>& names() const { return names_; }
  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  // Throws if the tensor is absent.
  const SafetensorsTensorInfo& info(const std::string& name) const;
  // Contiguous CPU tensor viewing the mapping (zero-copy). If the data is not aligned to its element
  // size in memory, returns an owned, aligned copy instead. Throws for an absent tensor or an
  // unsupported dtype.
  kernels::Tensor get(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::string& path() const { return path_; }

  // The whole file image (header included) and its size; get() views lie inside it.
  const uint8_t* bytes() const { return base_; }
  uint64_t file_size() const { return size_; }

  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

 private:
  SafetensorsFile() = default;
  void parse();
  [[noreturn]] void fail(const std::string& problem) const;
  [[noreturn]] void fail(const std::string& tensor, const std::string& problem) const;

  std::string path_;
  std::shared_ptr<void> keep_alive_;  // the mapping (open) or the caller's owner (open_from_memory)
  const uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  uint64_t data_start_ = 0;  // 8 + header length
  std::vector<std::string> names_;
  std::map<std::string, SafetensorsTensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

using NamedTensors = std::vector<std::pair<std::string, kernels::Tensor>>;

// Encodes tensors (any device, dtype and layout: converted to contiguous CPU) as a safetensors image.
// Data is laid out by decreasing element size, then name, after a header padded with spaces to a
// multiple of 8 bytes, so every tensor is aligned to its element size when the file is mapped.
// Throws kernels::Error for an undefined tensor, a duplicate name, or the reserved "__metadata__".
// Holds the whole image in memory: for small outputs (tests, fuzzing); files use write_safetensors.
std::string encode_safetensors(const NamedTensors& tensors, const std::map<std::string, std::string>& metadata = {});

// Writes the same bytes as encode_safetensors to `path`, streaming tensor data, atomically: it
// writes `path + ".tmp.<pid>"`, fsyncs it, renames it over `path` and fsyncs the folder. On any
// failure the temporary file is removed, `path` is left as it was, and kernels::Error names `path`.
// Two threads of one process must not write the same `path` at once (they share the temporary name).
void write_safetensors(const std::string& path, const NamedTensors& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace janus::llm
