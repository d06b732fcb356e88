// libFuzzer target for the safetensors reader (llm/safetensors.h).
//
// Property: for any bytes, SafetensorsFile::open_from_memory either throws kernels::Error or yields
// a file whose every tensor can be fetched (or refused with kernels::Error for unsupported dtypes),
// lies inside the input, and, re-encoded with encode_safetensors, parses back to the same values.
// Any other exception, crash, sanitizer report or leak is a bug.
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "llm/safetensors.h"

using janus::kernels::Error;
using janus::kernels::Tensor;
using janus::llm::SafetensorsFile;

static void check(bool ok) {
  if (!ok) std::abort();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::shared_ptr<SafetensorsFile> f;
  try {
    f = SafetensorsFile::open_from_memory(data, size, "fuzz.safetensors");
  } catch (const Error&) {
    return 0;
  }
  janus::llm::NamedTensors usable;
  for (const std::string& name : f->names()) {
    const auto& info = f->info(name);
    check(info.file_offset + info.nbytes() <= size);
    Tensor t;
    try {
      t = f->get(name);
    } catch (const Error&) {
      check(!info.dtype.has_value());  // only unsupported dtypes may refuse
      continue;
    }
    check(t.numel() == info.numel && t.nbytes() == info.nbytes());
    if (t.numel() <= 4096) {
      // Reads every element through the generic (strided, converting) path.
      std::vector<float> v = t.to_f32_vector();
      check(int64_t(v.size()) == t.numel());
      if (std::memcmp(t.raw(), data + info.file_offset, info.nbytes()) != 0) std::abort();
      usable.emplace_back(name, t);
    }
  }
  // Round trip: what we parsed, we can write, and it reads back identically.
  std::string bytes = janus::llm::encode_safetensors(usable, f->metadata());
  auto g = SafetensorsFile::open_from_memory(bytes.data(), bytes.size(), "roundtrip.safetensors");
  check(g->names().size() == usable.size() && g->metadata() == f->metadata());
  for (const auto& [name, t] : usable) {
    Tensor u = g->get(name);
    check(u.dtype() == t.dtype() && u.shape() == t.shape() && std::memcmp(u.raw(), t.raw(), t.nbytes()) == 0);
  }
  return 0;
}
