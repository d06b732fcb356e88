// A restricted unpickler for the `data.pkl` of a PyTorch zip checkpoint (torch.save of a state dict).
//
// Only what a state dict needs is understood; anything else is refused, so loading a checkpoint
// can never run code. Accepted:
//   - opcodes of pickle protocols 2-5 that build plain values: None/bool/int/float/str/bytes,
//     tuples, lists, dicts, the memo (PUT/GET/MEMOIZE), MARK/POP/DUP, FRAME, PERSID/BINPERSID,
//     GLOBAL/STACK_GLOBAL, REDUCE and BUILD (with the restrictions below);
//   - globals: collections.OrderedDict, torch._utils._rebuild_tensor_v2 / _rebuild_tensor_v3 /
//     _rebuild_parameter / _rebuild_parameter_with_state, the torch.*Storage classes and
//     torch.storage.UntypedStorage (persistent ids only), and torch dtypes (torch.float32, ...);
//   - REDUCE only on those callables; BUILD only on a dict or a tensor (the state is ignored);
//   - persistent ids ('storage', <storage class>, key, location, numel).
// Everything else (NEWOBJ, INST/OBJ, EXT*, other globals such as os.system, ...) throws
// kernels::Error "refusing to load FILE: pickle references os.system (...)".
//
// The top-level object must be a dict (or OrderedDict) of str -> tensor. Limits keep hostile input
// bounded: stack depth and memo size are capped; every length is checked against the input.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kernels/tensor.h"

namespace janus::llm {

// A torch element type: name as torch spells it ("float32", "bfloat16", ...), the kernels dtype
// when Janus can compute with it, and its size in bytes.
struct TorchDType {
  std::string name;
  std::optional<kernels::DType> dtype;
  size_t element_size = 0;
};

struct TorchTensorRecord {
  std::string name;         // state-dict key
  std::string storage_key;  // file archive/data/<storage_key>
  TorchDType dtype;
  int64_t storage_numel = 0;  // elements of `dtype` in the storage (as declared by the pickle)
  int64_t offset = 0;         // storage offset in elements
  kernels::Shape shape, strides;
};

// Parses `data` (a data.pkl image). `file` names the checkpoint in error messages. Records are in
// pickle order; a key written twice keeps its last value (as Python's dict would).
std::vector<TorchTensorRecord> unpickle_state_dict(const uint8_t* data, size_t size, const std::string& file);

}  // namespace janus::llm
