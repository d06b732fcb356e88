// Process-wide allocator tuning for training loops (call once, early, from a program's main path).
//
// Every training step allocates and frees the same large activation and gradient tensors. glibc
// serves blocks above its mmap threshold with fresh mmap()s (zero pages: a page fault per 4 KiB
// on first touch) and trims freed heap tops back to the OS, so every step takes thousands of page
// faults again (bench_train: ~6k per step, a few % of its time). keep_freed_memory() raises the
// mmap threshold to 32 MiB (glibc's maximum for it on 64-bit) and the trim threshold to 1 GiB, so
// freed blocks are reused from the heap. The process keeps up to ~1 GiB of freed memory mapped.
// No-op on other C libraries. Not thread-safe with concurrent allocation; call before starting
// threads.
#pragma once

namespace janus::train {

void keep_freed_memory();

}  // namespace janus::train
