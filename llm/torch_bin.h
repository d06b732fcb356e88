// PyTorch `.bin` / `.pt` checkpoints (torch.save of a state dict, zip format of torch >= 1.6),
// read zero-copy and without running any pickle code.
//
// Format: a zip archive (stored entries, no compression; Zip64 for files > 4 GB) holding
// `<prefix>/data.pkl` (the pickled state dict, see torch_pickle.h for what is accepted),
// `<prefix>/data/<key>` (one raw little-endian storage per key, aligned to 64 bytes by torch) and
// `<prefix>/byteorder` ("little"; "big" is refused). `<prefix>` is whatever torch chose (the file
// stem or "archive"). The legacy pre-1.6 format (a bare pickle stream) is refused with a hint
// to re-save the file.
//
// A tensor is a view (offset, shape, strides) of a storage; several tensors may share one.
// get() returns a zero-copy read-only view of the mapping when the view is contiguous and aligned
// for its dtype, and an owned contiguous copy otherwise (strided views, odd offsets).
// info() gives the safetensors-style facts (dtype, shape, numel, nbytes = numel * element size,
// file_offset of element 0) so a TensorStore can serve both formats alike.
//
// Errors: kernels::Error, one line naming the file (and the tensor / zip entry), e.g.
//   FILE: refusing to load: pickle references os.system (...)
//   FILE: zip entry 'x/data/3' is compressed (method 8); torch writes stored entries
//   FILE: tensor 'w': view [4, 5] at offset 3 needs 23 elements, storage '0' has 20
// Lifetime/thread-safety as SafetensorsFile: immutable after open, all methods const; tensors from
// get() keep the mapping alive.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kernels/tensor.h"
#include "llm/safetensors.h"
#include "llm/torch_pickle.h"

namespace janus::llm {

class TorchBinFile {
 public:
  // Maps `path` read-only and parses the archive and pickle (no tensor data is touched).
  static std::shared_ptr<TorchBinFile> open(const std::string& path);
  // Same, from bytes in memory (borrowed; `keep_alive` is held like SafetensorsFile's).
  static std::shared_ptr<TorchBinFile> open_from_memory(const void* data, size_t size, const std::string& name,
                                                        std::shared_ptr<void> keep_alive = nullptr);

  const std::vector<std::string>& names() const { return names_; }  // sorted
  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  const SafetensorsTensorInfo& info(const std::string& name) const;  // throws if absent
  // The view's strides (elements) and storage offset, as pickled.
  const TorchTensorRecord& record(const std::string& name) const;
  // Throws for an absent tensor or a dtype Janus cannot compute with (int8, bool, ...).
  kernels::Tensor get(const std::string& name) const;
  const std::string& path() const { return path_; }
  uint64_t file_size() const { return size_; }

  TorchBinFile(const TorchBinFile&) = delete;
  TorchBinFile& operator=(const TorchBinFile&) = delete;

 private:
  TorchBinFile() = default;
  void parse();
  [[noreturn]] void fail(const std::string& problem) const;

  struct Entry {
    TorchTensorRecord rec;
    SafetensorsTensorInfo info;
    uint64_t storage_file_offset = 0;  // byte offset of storage element 0 in the file
    bool contiguous = true;
  };
  std::string path_;
  std::shared_ptr<void> keep_alive_;
  const uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  std::vector<std::string> names_;
  std::map<std::string, Entry> tensors_;
};

}  // namespace janus::llm
