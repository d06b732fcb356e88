// bench_linear: the CPU linear() on the shapes of a ~0.5B Qwen2 model (hidden 896, FFN 4864,
// vocab 151936), in f32, bf16 and fp8 e4m3 (128×128 block scales).
//
//   decode  (M = 1):   GB/s of weight bytes, weights cycled through enough copies (≥ 16× L3) that
//                      every call streams them from DRAM, as a real decode step does; beside the
//                      measured streaming-read bandwidth (the floor for a memory-bound GEMV) and,
//                      for f32, OpenBLAS sgemv with its own threads.
//   prefill (M = 128): GFLOP/s beside OpenBLAS sgemm (its own threads) on f32 weights of the
//                      same shape, the peer.
//   sweep:             µs per call of the GEMV and the sgemm paths for M = 1..16 (chooses
//                      cpu::kLinearGemvMaxRows).
//
// Usage: bench_linear [--only decode|prefill|sweep] [--reps N]. Threads: JANUS_THREADS (default: all cores). Every
// number is the best of N repetitions (default 7): the machine may be shared.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "kernels/cpu/linear.h"
#include "kernels/cpu/linear_simd.h"
#include "kernels/dtype.h"
#include "kernels/ops.h"
#include "kernels/thread_pool.h"

using namespace janus::kernels;

namespace {

int g_reps = 7;
constexpr int64_t kDramBytes = int64_t(512) << 20;  // decode working set: 16× a 32 MiB L3

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Best (smallest) time of g_reps runs of f, after one warm-up run.
double best_time(const std::function<void()>& f) {
  f();
  double best = 1e30;
  for (int r = 0; r < g_reps; ++r) {
    double t0 = now_s();
    f();
    best = std::min(best, now_s() - t0);
  }
  return best;
}

uint64_t g_rng = 0x9e3779b97f4a7c15ull;
uint32_t next_u32() {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return uint32_t(g_rng >> 11);
}
float next_f() { return float(next_u32() & 0xffffff) / float(0x800000) - 1.0f; }  // [-1, 1)

Weight make_weight(DType dt, int64_t N, int64_t K) {
  Weight w;
  w.w = Tensor::empty({N, K}, dt);
  const int64_t n = N * K;
  switch (dt) {
    case DType::F32:
      for (int64_t i = 0; i < n; ++i) w.w.data<float>()[i] = next_f();
      break;
    case DType::BF16:
      for (int64_t i = 0; i < n; ++i) w.w.data<uint16_t>()[i] = f32_to_bf16(next_f());
      break;
    default: {
      auto* q = w.w.data<uint8_t>();
      for (int64_t i = 0; i < n; ++i) {
        uint8_t b = uint8_t(next_u32());
        q[i] = (b & 0x7f) == 0x7f ? uint8_t(b ^ 1) : b;  // no NaN codes
      }
      const int64_t bn = (N + 127) / 128, bk = (K + 127) / 128;
      std::vector<float> s(size_t(bn * bk));
      for (float& e : s) e = 1e-3f * (1.5f + next_f());
      w.scale_inv = Tensor::from_f32({bn, bk}, s);
    }
  }
  return w;
}

Tensor make_x(int64_t M, int64_t K) {
  std::vector<float> v(size_t(M * K));
  for (float& e : v) e = next_f();
  return Tensor::from_f32({M, K}, v);
}

// Copies of one weight totalling ≥ kDramBytes, so cycling through them defeats the caches.
std::vector<Weight> dram_copies(DType dt, int64_t N, int64_t K) {
  std::vector<Weight> c{make_weight(dt, N, K)};
  const int64_t bytes = int64_t(c[0].w.nbytes());
  const int64_t n = std::max<int64_t>(1, (kDramBytes + bytes - 1) / bytes);
  for (int64_t i = 1; i < n; ++i) c.push_back(Weight{c[0].w.clone(), c[0].scale_inv, Tensor()});
  return c;
}

// Seconds per call of f(copy) over the copies (at least 4 calls per repetition).
double per_call(const std::vector<Weight>& copies, const std::function<void(const Weight&)>& f) {
  const size_t calls = std::max<size_t>(4, copies.size());
  return best_time([&] {
           for (size_t i = 0; i < calls; ++i) f(copies[i % copies.size()]);
         }) /
         double(calls);
}

// Multi-threaded streaming read of a 1 GiB buffer: the bandwidth a GEMV can at best reach.
double stream_read_gbs() {
  using namespace janus::kernels::cpu::linear_simd;
  const int64_t n = int64_t(1) << 28;  // floats
  Tensor buf = Tensor::empty({n}, DType::F32);
  float* p = buf.data<float>();
  parallel_for(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) p[i] = float(i & 1023);
  });
  const int64_t chunk = int64_t(1) << 16;  // 256 KiB per work item
  std::vector<float> sink(size_t(n / chunk));  // one slot per work item: no shared writes
  double t = best_time([&] {
    parallel_for(n / chunk, [&](int64_t c0, int64_t c1) {
      VecF a0 = vzero(), a1 = vzero(), a2 = vzero(), a3 = vzero();
      for (int64_t i = c0 * chunk; i < c1 * chunk; i += 4 * kLanes) {
        a0 = vadd(a0, vload(p + i));
        a1 = vadd(a1, vload(p + i + kLanes));
        a2 = vadd(a2, vload(p + i + 2 * kLanes));
        a3 = vadd(a3, vload(p + i + 3 * kLanes));
      }
      sink[size_t(c0)] = vsum(vadd(vadd(a0, a1), vadd(a2, a3)));
    });
  });
  return double(n) * 4 / t / 1e9;
}

struct LayerShape {
  const char* name;
  int64_t N, K;
};
const LayerShape kShapes[] = {
    {"attn q/o  896x896", 896, 896},
    {"mlp up    4864x896", 4864, 896},
    {"mlp down  896x4864", 896, 4864},
    {"lm_head   151936x896", 151936, 896},
};
const DType kDTypes[] = {DType::F32, DType::BF16, DType::F8E4M3};

void decode_table(double bw) {
  std::printf("\n### Decode GEMV, M = 1 (weights from DRAM)\n\n");
  std::printf("| layer (N x K) | dtype | weight MiB | us/call | GB/s | %% of stream read | OpenBLAS sgemv f32 GB/s |\n");
  std::printf("|---|---|---:|---:|---:|---:|---:|\n");
  for (const LayerShape& s : kShapes)
    for (DType dt : kDTypes) {
      std::vector<Weight> copies = dram_copies(dt, s.N, s.K);
      const Tensor x = make_x(1, s.K);
      Tensor y = Tensor::empty({1, s.N}, DType::F32);
      const double t = per_call(copies, [&](const Weight& w) { linear(y, x, w); });
      const double bytes = double(copies[0].w.nbytes());
      std::string peer = "";
      if (dt == DType::F32) {
        openblas_set_num_threads(num_threads());
        const double tp = per_call(copies, [&](const Weight& w) {
          cblas_sgemv(CblasRowMajor, CblasNoTrans, int(s.N), int(s.K), 1.0f, w.w.data<float>(), int(s.K),
                      x.data<float>(), 1, 0.0f, y.data<float>(), 1);
        });
        char b[32];
        std::snprintf(b, sizeof b, "%.1f", bytes / tp / 1e9);
        peer = b;
      }
      std::printf("| %s | %s | %.1f | %.1f | %.1f | %.0f%% | %s |\n", s.name, dtype_name(dt), bytes / (1 << 20),
                  t * 1e6, bytes / t / 1e9, 100 * bytes / t / 1e9 / bw, peer.c_str());
      std::fflush(stdout);
    }
}

void prefill_table() {
  const int64_t M = 128;
  std::printf("\n### Prefill GEMM, M = %lld\n\n", (long long)M);
  std::printf("| layer (N x K) | dtype | ms/call | GFLOP/s | OpenBLAS sgemm f32 GFLOP/s | ratio |\n");
  std::printf("|---|---|---:|---:|---:|---:|\n");
  for (const LayerShape& s : kShapes) {
    const Tensor x = make_x(M, s.K);
    Tensor y = Tensor::empty({M, s.N}, DType::F32);
    const double flop = 2.0 * double(M) * double(s.N) * double(s.K);
    const Weight wf = make_weight(DType::F32, s.N, s.K);
    openblas_set_num_threads(num_threads());
    const double tp = best_time([&] {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(M), int(s.N), int(s.K), 1.0f, x.data<float>(),
                  int(s.K), wf.w.data<float>(), int(s.K), 0.0f, y.data<float>(), int(s.N));
    });
    for (DType dt : kDTypes) {
      const Weight w = dt == DType::F32 ? wf : make_weight(dt, s.N, s.K);
      const double t = best_time([&] { linear(y, x, w); });
      std::printf("| %s | %s | %.2f | %.1f | %.1f | %.2f |\n", s.name, dtype_name(dt), t * 1e3, flop / t / 1e9,
                  flop / tp / 1e9, tp / t);
      std::fflush(stdout);
    }
  }
}

// Time per call of each path for small M: where the sgemm path overtakes the GEMV.
void sweep() {
  std::printf("\n### GEMV vs tiled-sgemm path by M (us/call, weights from DRAM)\n\n");
  const LayerShape shapes[] = {kShapes[1], kShapes[2]};
  std::printf("| layer | dtype |");
  for (int m = 1; m <= 16; ++m) std::printf(" M=%d |", m);
  std::printf("\n|---|---|");
  for (int m = 1; m <= 16; ++m) std::printf("---:|");
  std::printf("\n");
  for (const LayerShape& s : shapes)
    for (DType dt : kDTypes) {
      std::vector<Weight> copies = dram_copies(dt, s.N, s.K);
      for (int path = 0; path < 2; ++path) {
        cpu::set_linear_gemv_max_rows(path == 0 ? 1 << 30 : 0);
        std::printf("| %s | %s %s |", s.name, dtype_name(dt), path == 0 ? "gemv" : "sgemm");
        for (int64_t m = 1; m <= 16; ++m) {
          const Tensor x = make_x(m, s.K);
          Tensor y = Tensor::empty({m, s.N}, DType::F32);
          std::printf(" %.0f |", 1e6 * per_call(copies, [&](const Weight& w) { linear(y, x, w); }));
          std::fflush(stdout);
        }
        std::printf("\n");
      }
    }
  cpu::set_linear_gemv_max_rows(cpu::kLinearGemvMaxRows);
}

}  // namespace

int main(int argc, char** argv) {
  std::string only;  // empty: decode and prefill tables
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--only") && i + 1 < argc) only = argv[++i];
    else if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) g_reps = std::max(1, std::atoi(argv[++i]));
    else only = "?";
  }
  if (only != "" && only != "decode" && only != "prefill" && only != "sweep") {
    std::fprintf(stderr, "usage: bench_linear [--only decode|prefill|sweep] [--reps N]\n");
    return 2;
  }
  std::printf("bench_linear: %d threads, ISA %s, best of %d runs\n", num_threads(),
              cpu::linear_simd::kIsaName, g_reps);
  const double bw = stream_read_gbs();
  std::printf("streaming read of 1 GiB, %d threads: %.1f GB/s\n", num_threads(), bw);
  if (only == "sweep") sweep();
  if (only == "" || only == "decode") decode_table(bw);
  if (only == "" || only == "prefill") prefill_table();
  return 0;
}
