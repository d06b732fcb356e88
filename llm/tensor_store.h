// TensorStore: every weight of one model folder, by name, from its safetensors or PyTorch files.
//
// Which files (open_dir picks the first that applies):
//   1. model.safetensors.index.json — its "weight_map" {tensor name: shard file}; every shard must
//      exist in the folder and contain every name mapped to it. Only mapped names are served.
//   2. model.safetensors.
//   3. every *.safetensors file in the folder, in sorted order; a name in two files is an error.
//   4. pytorch_model.bin.index.json (as 1., shards read by TorchBinFile, see torch_bin.h).
//   5. pytorch_model.bin, else every pytorch_model*.bin in sorted order.
//   Otherwise: "no weights in DIR (expected model.safetensors, model.safetensors.index.json,
//   pytorch_model.bin or pytorch_model.bin.index.json)".
// Files are mapped, not read (see safetensors.h): tensors from get() are zero-copy read-only views
// that keep their file mapped.
//
// Used-marks: get(), get_opt() (when present) and mark_used() mark a name as used, so a model
// loader can report checkpoint tensors it never consumed (unused_names()).
//
// Errors: kernels::Error, one line naming the folder or file and the tensor, e.g.
//   DIR: missing tensor 'model.norm.weight'
//   DIR/model.safetensors: tensor 'lm_head.weight' has shape [10, 4], expected [12, 4]
//
// Copies share the same files and used-marks (a handle). All methods are const and thread-safe.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kernels/tensor.h"
#include "llm/safetensors.h"

namespace janus::llm {

class TensorStore {
 public:
  static TensorStore open_dir(const std::string& dir);

  bool has(const std::string& name) const;
  // Throws "DIR: missing tensor 'X'" when absent.
  kernels::Tensor get(const std::string& name) const;
  // As get(), and the shape must equal `expected` exactly.
  kernels::Tensor get(const std::string& name, const kernels::Shape& expected) const;
  // Undefined Tensor when absent.
  kernels::Tensor get_opt(const std::string& name) const;
  // Header facts without touching the data (throws when absent).
  const SafetensorsTensorInfo& info(const std::string& name) const;
  // The safetensors file holding `name` (throws when absent or when it is in a .bin file).
  const SafetensorsFile& file_of(const std::string& name) const;

  // Marks a tensor as deliberately consumed or ignored (no-op for absent names).
  void mark_used(const std::string& name) const;
  // Sorted names that no get()/get_opt()/mark_used() has touched.
  std::vector<std::string> unused_names() const;

  std::vector<std::string> names() const;  // sorted
  size_t size() const;
  uint64_t file_bytes() const;  // sum of the sizes of the weight files in use
  const std::string& dir() const;
  // The weight files in use, in the order they were opened.
  std::vector<std::string> files() const;

 private:
  struct Impl;
  explicit TensorStore(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace janus::llm
