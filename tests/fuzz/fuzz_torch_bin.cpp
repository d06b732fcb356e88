// libFuzzer target for the PyTorch .bin reader (llm/torch_bin.h, llm/torch_pickle.h).
//
// Property: for any bytes, TorchBinFile::open_from_memory either throws kernels::Error or yields
// a file whose every tensor lies inside the input and can be fetched (or refused with
// kernels::Error for dtypes Janus does not compute with); a contiguous tensor's bytes are the
// input's bytes at info().file_offset. Any other exception, crash, sanitizer report or leak is a bug.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "llm/torch_bin.h"

using janus::kernels::Error;
using janus::kernels::Tensor;
using janus::llm::TorchBinFile;

static void check(bool ok) {
  if (!ok) std::abort();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::shared_ptr<TorchBinFile> f;
  try {
    f = TorchBinFile::open_from_memory(data, size, "fuzz.bin");
  } catch (const Error&) {
    return 0;
  }
  for (const std::string& name : f->names()) {
    const auto& info = f->info(name);
    check(info.file_offset <= size);
    Tensor t;
    try {
      t = f->get(name);
    } catch (const Error&) {
      check(!info.dtype.has_value());  // only unsupported dtypes may refuse
      continue;
    }
    check(t.numel() == info.numel && t.is_contiguous());
    const auto& rec = f->record(name);
    if (rec.strides == janus::kernels::contiguous_strides(rec.shape)) {
      check(info.file_offset + info.nbytes() <= size);
      if (t.nbytes() && std::memcmp(t.raw(), data + info.file_offset, t.nbytes()) != 0) std::abort();
    }
    if (t.numel() <= 4096) check(int64_t(t.to_f32_vector().size()) == t.numel());
  }
  return 0;
}
