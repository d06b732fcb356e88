// A fixed pool of worker threads for data-parallel CPU kernels.
//
// parallel_for(n, f) calls f(begin, end) on disjoint chunks covering [0, n), using every worker
// plus the calling thread, and returns when all chunks are done. Nested calls from inside a
// worker run serially. An exception thrown by f (on any thread) is rethrown by parallel_for on
// the calling thread after the running chunks finish; chunks not yet started are skipped (the first
// exception wins). The pool size defaults to the number of online cores; JANUS_THREADS or
// set_num_threads() override it (call before the first parallel_for). A JANUS_THREADS that is not a
// positive integer is an error (std::invalid_argument from the first parallel_for), not a silent
// fall-back to the core count.
#pragma once
#include <cstdint>
#include <functional>

namespace janus::kernels {

void set_num_threads(int n);
// The thread count JANUS_THREADS asks for: 0 when it is unset or empty, else its value; throws
// std::invalid_argument naming the variable and its text unless that is a positive integer.
int threads_from_env(const char* text);
int num_threads();
// grain: minimum items per chunk (small n runs on the calling thread only).
void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& f, int64_t grain = 1);

}  // namespace janus::kernels
