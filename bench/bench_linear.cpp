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
//   rows:              why gemv.h streams one weight row at a time: a bf16 GEMV over lm_head
//                      rows reading 1, 2 or 4 rows side by side.
//
// Usage: bench_linear [--only decode|prefill|sweep|rows] [--reps N]. Threads: JANUS_THREADS
// (default: all cores). Every number is the best of N rounds (default 7), the machine being
// shared; see best_times().
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "kernels/cpu/gemv.h"
#include "kernels/cpu/linear.h"
#include "kernels/cpu/linear_simd.h"
#include "kernels/dtype.h"
#include "kernels/ops.h"
#include "kernels/thread_pool.h"

using namespace janus::kernels;

namespace {

int g_reps = 7;
constexpr int64_t kDramBytes = int64_t(512) << 20;  // decode working set: 16× a 32 MiB L3

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Best (smallest) time of each f over g_reps rounds. In each round the functions take turns,
// so that all see the same machine (the memory bandwidth of this shared VM drifts by 2× within
// minutes), and each is first run for kWarmup: the cores need a few ms of load to reach full
// clock after idling, and OpenBLAS's workers keep spinning for a while after a threaded call.
std::vector<double> best_times(const std::vector<std::function<void()>>& fs) {
  constexpr double kWarmup = 0.15;  // seconds
  std::vector<double> best(fs.size(), 1e30);
  for (int r = 0; r < g_reps; ++r)
    for (size_t i = 0; i < fs.size(); ++i) {
      for (const double t0 = now_s(); now_s() - t0 < kWarmup;) fs[i]();
      const double t0 = now_s();
      fs[i]();
      best[i] = std::min(best[i], now_s() - t0);
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

// Best seconds per call of each f, cycling over the copies (at least 4 calls per timing).
std::vector<double> per_call(const std::vector<Weight>& copies,
                             const std::vector<std::function<void(const Weight&)>>& fs) {
  const size_t calls = std::max<size_t>(4, copies.size());
  std::vector<std::function<void()>> loops;
  for (const auto& f : fs)
    loops.push_back([&copies, &f, calls] {
      for (size_t c = 0; c < calls; ++c) f(copies[c % copies.size()]);
    });
  std::vector<double> t = best_times(loops);
  for (double& e : t) e /= double(calls);
  return t;
}

// Multi-threaded streaming read of [p, p + bytes): what a GEMV over these bytes can at best reach.
float g_sink;
void read_bytes(const void* data, int64_t bytes) {
  using namespace janus::kernels::cpu::linear_simd;
  const float* p = static_cast<const float*>(data);
  const int64_t n = bytes / 4, chunk = int64_t(1) << 14;  // 64 KiB work items
  parallel_for((n + chunk - 1) / chunk,
               [&](int64_t c0, int64_t c1) {
                 VecF a0 = vzero(), a1 = vzero(), a2 = vzero(), a3 = vzero();
                 const int64_t e = std::min(n, c1 * chunk) / (4 * kLanes) * (4 * kLanes);
                 for (int64_t i = c0 * chunk; i < e; i += 4 * kLanes) {
                   a0 = vadd(a0, vload(p + i));
                   a1 = vadd(a1, vload(p + i + kLanes));
                   a2 = vadd(a2, vload(p + i + 2 * kLanes));
                   a3 = vadd(a3, vload(p + i + 3 * kLanes));
                 }
                 if (vsum(vadd(vadd(a0, a1), vadd(a2, a3))) == 1.2345f) g_sink += 1;  // keeps the loads
               },
               4);
}

// Median, over 3·g_reps back-to-back pairs, of time(floor) / time(f), each timing a pass over
// the copies. Robust to the bandwidth of this shared machine drifting between pairs, unlike a
// ratio of two separately taken bests.
double median_ratio(const std::vector<Weight>& copies, const std::function<void(const Weight&)>& floor,
                    const std::function<void(const Weight&)>& f) {
  const size_t calls = std::max<size_t>(4, copies.size());
  auto pass = [&](const std::function<void(const Weight&)>& g) {
    const double t0 = now_s();
    for (size_t c = 0; c < calls; ++c) g(copies[c % copies.size()]);
    return now_s() - t0;
  };
  pass(f);  // warm-up
  std::vector<double> r;
  for (int i = 0; i < 3 * g_reps; ++i) {
    const double tf = pass(floor);
    r.push_back(tf / pass(f));
  }
  std::sort(r.begin(), r.end());
  return r[r.size() / 2];
}

// Streaming read of a fresh 1 GiB buffer with all threads.
double stream_read_gbs() {
  const int64_t bytes = int64_t(1) << 30;
  Tensor buf = Tensor::zeros({bytes / 4}, DType::F32);
  std::vector<Weight> one{Weight{buf, Tensor(), Tensor()}};
  const double t = per_call(one, {[&](const Weight& w) { read_bytes(w.w.raw(), bytes); }})[0];
  return double(bytes) / t / 1e9;
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

void decode_table() {
  std::printf("\n### Decode GEMV, M = 1 (weights from DRAM)\n\n");
  std::printf(
      "us/call and GB/s: best of %d rounds. Read floor: 2-thread streaming read of the same weight copies (best).\n"
      "%% of floor: median over %d back-to-back pairs (floor pass, GEMV pass) of the time ratio.\n\n",
      g_reps, 3 * g_reps);
  std::printf(
      "| layer (N x K) | dtype | weight MiB | us/call | GB/s | read floor GB/s | %% of floor | OpenBLAS sgemv f32 GB/s "
      "|\n");
  std::printf("|---|---|---:|---:|---:|---:|---:|---:|\n");
  for (const LayerShape& s : kShapes)
    for (DType dt : kDTypes) {
      std::vector<Weight> copies = dram_copies(dt, s.N, s.K);
      const Tensor x = make_x(1, s.K);
      Tensor y = Tensor::empty({1, s.N}, DType::F32);
      const double bytes = double(copies[0].w.nbytes());
      std::vector<std::function<void(const Weight&)>> fs = {
          [&](const Weight& w) { linear(y, x, w); }, [&](const Weight& w) { read_bytes(w.w.raw(), int64_t(bytes)); }};
      if (dt == DType::F32)
        fs.push_back([&](const Weight& w) {
          openblas_set_num_threads(num_threads());  // linear() sets OpenBLAS to one thread
          cblas_sgemv(CblasRowMajor, CblasNoTrans, int(s.N), int(s.K), 1.0f, w.w.data<float>(), int(s.K),
                      x.data<float>(), 1, 0.0f, y.data<float>(), 1);
        });
      const std::vector<double> t = per_call(copies, fs);
      const double ratio = median_ratio(copies, fs[1], fs[0]);
      char peer[32] = "";
      if (dt == DType::F32) std::snprintf(peer, sizeof peer, "%.1f", bytes / t[2] / 1e9);
      std::printf("| %s | %s | %.1f | %.1f | %.1f | %.1f | %.0f%% | %s |\n", s.name, dtype_name(dt), bytes / (1 << 20),
                  t[0] * 1e6, bytes / t[0] / 1e9, bytes / t[1] / 1e9, 100 * ratio, peer);
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
    std::vector<Weight> ws;
    for (DType dt : kDTypes) ws.push_back(make_weight(dt, s.N, s.K));
    std::vector<std::function<void()>> fs = {[&] {
      openblas_set_num_threads(num_threads());  // the peer: OpenBLAS threading itself
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(M), int(s.N), int(s.K), 1.0f, x.data<float>(), int(s.K),
                  ws[0].w.data<float>(), int(s.K), 0.0f, y.data<float>(), int(s.N));
    }};
    for (const Weight& w : ws) fs.push_back([&] { linear(y, x, w); });
    const std::vector<double> t = best_times(fs);
    for (size_t i = 0; i < ws.size(); ++i)
      std::printf("| %s | %s | %.2f | %.1f | %.1f | %.2f |\n", s.name, dtype_name(ws[i].w.dtype()), t[i + 1] * 1e3,
                  flop / t[i + 1] / 1e9, flop / t[0] / 1e9, t[0] / t[i + 1]);
    std::fflush(stdout);
  }
}

// Σ over R weight rows read side by side (kStepBytes of each per visit), x reused across them:
// the access pattern gemv.h deliberately does not use. Four or more FMA chains in every variant, no
// software prefetch: only the access pattern differs.
template <int R>
void rows_side_by_side(const uint16_t* w, int64_t n0, int64_t n1, int64_t K, const float* xp, float* y) {
  using namespace janus::kernels::cpu::linear_simd;
  using B = Weights<WBf16>;
  constexpr int kB = B::kBlock / kLanes, A = 8 / R;
  for (int64_t n = n0; n + R <= n1; n += R) {
    VecF acc[R][A];
    for (auto& a : acc)
      for (auto& c : a) c = vzero();
    for (int64_t k = 0; k + kStep<WBf16> <= K; k += kStep<WBf16>)
      for (int b = 0; b < kStep<WBf16>; b += B::kBlock)
        for (int r = 0; r < R; ++r) {
          VecF v[kB];
          B::block(w + (n + r) * K + k + b, v);
          for (int i = 0; i < kB; ++i) {
            VecF& a = acc[r][(b / kLanes + i) % A];
            a = vfma(v[i], vload(xp + k + b + i * kLanes), a);
          }
        }
    for (int r = 0; r < R; ++r) {
      VecF t = acc[r][0];
      for (int a = 1; a < A; ++a) t = vadd(t, acc[r][a]);
      y[n + r] = vsum(t);
    }
  }
}

void rows_experiment() {
  const int64_t N = 151936, K = 896;  // lm_head, bf16 rows of 1792 bytes
  std::printf("\n### bf16 GEMV over %lldx%lld (weights from DRAM): rows read one at a time or side by side\n\n",
              (long long)N, (long long)K);
  std::vector<Weight> copies = dram_copies(DType::BF16, N, K);
  const Tensor x = make_x(1, K);
  std::vector<float> xp(static_cast<size_t>(K)), y(static_cast<size_t>(N));
  cpu::linear_simd::pack_x<cpu::linear_simd::WBf16>(x.data<float>(), K, 1, K, xp.data());
  auto split = [&](void (*f)(const uint16_t*, int64_t, int64_t, int64_t, const float*, float*)) {
    return [&, f](const Weight& w) {
      parallel_for(N / 16,
                   [&](int64_t u0, int64_t u1) { f(w.w.data<uint16_t>(), u0 * 16, u1 * 16, K, xp.data(), y.data()); });
    };
  };
  Tensor yt = Tensor::empty({1, N}, DType::F32);
  const double bytes = double(copies[0].w.nbytes());
  const std::function<void(const Weight&)> floor = [&](const Weight& w) { read_bytes(w.w.raw(), int64_t(bytes)); };
  const std::vector<std::function<void(const Weight&)>> fs = {split(rows_side_by_side<1>), split(rows_side_by_side<2>),
                                                              split(rows_side_by_side<4>),
                                                              [&](const Weight& w) { linear(yt, x, w); }};
  const char* names[] = {"1 row at a time", "2 rows side by side", "4 rows side by side",
                         "linear() (1 row at a time, prefetching)"};
  std::printf("%% of floor: median over %d back-to-back pairs (floor pass, variant pass) of the time ratio.\n\n",
              3 * g_reps);
  std::printf("| access | %% of streaming-read floor |\n|---|---:|\n");
  for (size_t i = 0; i < fs.size(); ++i)
    std::printf("| %s | %.0f%% |\n", names[i], 100 * median_ratio(copies, floor, fs[i]));
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
          std::printf(" %.0f |", 1e6 * per_call(copies, {[&](const Weight& w) { linear(y, x, w); }})[0]);
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
    if (!std::strcmp(argv[i], "--only") && i + 1 < argc)
      only = argv[++i];
    else if (!std::strcmp(argv[i], "--reps") && i + 1 < argc)
      g_reps = std::max(1, std::atoi(argv[++i]));
    else
      only = "?";
  }
  if (only != "" && only != "decode" && only != "prefill" && only != "sweep" && only != "rows") {
    std::fprintf(stderr, "usage: bench_linear [--only decode|prefill|sweep|rows] [--reps N]\n");
    return 2;
  }
  std::printf("bench_linear: %d threads, ISA %s, best of %d runs\n", num_threads(), cpu::linear_simd::kIsaName, g_reps);
  const double bw = stream_read_gbs();
  std::printf("streaming read of 1 GiB, %d threads: %.1f GB/s\n", num_threads(), bw);
  if (only == "sweep") sweep();
  if (only == "rows") rows_experiment();
  if (only == "" || only == "decode") decode_table();
  if (only == "" || only == "prefill") prefill_table();
  return 0;
}
