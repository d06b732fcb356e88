// Used when the build has no CUDA backend.
#include "kernels/backend.h"

namespace janus::kernels {

static const char* kNoCuda = "this build of janus has no CUDA backend (configure with JANUS_CUDA=ON where nvcc exists)";

bool cuda_compiled() { return false; }
bool cuda_available() { return false; }
std::string cuda_status() { return "CUDA: not compiled in"; }
std::shared_ptr<void> device_alloc(size_t) { throw Error(kNoCuda); }
void device_memset_zero(void*, size_t) { throw Error(kNoCuda); }
void device_copy(void*, Device, const void*, Device, size_t) { throw Error(kNoCuda); }

}  // namespace janus::kernels
