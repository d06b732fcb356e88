// Peak memory of loading a checkpoint: mapping, not copying, keeps the peak resident set near the
// file size even when every weight page is read.
//
// A ~200 MB bf16 model (8 x [2048, 6144]) is written by one child process, then loaded by another
// (a fresh child, so neither the generator's buffers nor the test runner inflate its numbers): it
// opens the folder with TensorStore, gets every tensor, reads one byte per 4 KiB page, and reports
// VmRSS before loading and VmHWM / RssAnon / RssFile after. Bound: peak - baseline <= 1.1 x file
// size (mapped file pages count in RSS; 10% covers header parsing and allocator slack), and anonymous
// memory grows by less than 16 MB (i.e. no tensor data was copied).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "llm/safetensors.h"
#include "llm/tensor_store.h"

namespace {

using janus::kernels::DType;
using janus::kernels::Tensor;
namespace fs = std::filesystem;

constexpr int kTensors = 8;
constexpr int64_t kRows = 2048, kCols = 6144;

// A field of /proc/self/status in KiB ("VmHWM", "VmRSS", "RssAnon", "RssFile"), or -1.
long status_kb(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  return -1;
}

// Runs `body` in a child process; returns what it wrote to `out` and its exit status.
template <typename F>
std::pair<std::string, int> in_child(F body) {
  int fds[2];
  if (pipe(fds) != 0) return {"pipe failed", -1};
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    std::ostringstream out;
    int rc = 0;
    try {
      body(out);
    } catch (const std::exception& e) {
      out << "error: " << e.what();
      rc = 1;
    }
    std::string s = out.str();
    if (write(fds[1], s.data(), s.size()) < 0) rc = 2;
    _exit(rc);  // no atexit handlers / gtest teardown in the child
  }
  close(fds[1]);
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) text.append(buf, size_t(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return {text, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

TEST(LoadRss, PeakRssStaysWithinTheFileSizeWhenEveryWeightPageIsRead) {
  const std::string dir = (fs::path(JANUS_BINARY_DIR) / "tmp" / ("load-rss-" + std::to_string(getpid()))).string();
  fs::remove_all(dir);
  fs::create_directories(dir);
  struct Cleanup {
    std::string dir;
    ~Cleanup() { fs::remove_all(dir); }
  } cleanup{dir};
  const std::string file = dir + "/model.safetensors";

  auto [gen_out, gen_rc] = in_child([&](std::ostream&) {
    janus::llm::NamedTensors tensors;
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < kTensors; ++i) {
      Tensor t = Tensor::empty({kRows, kCols}, DType::BF16);
      auto* p = t.data<uint16_t>();
      for (int64_t k = 0; k < t.numel(); ++k) {  // xorshift64: random bits, any bf16 pattern
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        p[k] = uint16_t(x);
      }
      tensors.emplace_back("model.layers." + std::to_string(i) + ".mlp.up_proj.weight", t);
    }
    janus::llm::write_safetensors(file, tensors);
  });
  ASSERT_EQ(gen_rc, 0) << gen_out;
  const uint64_t file_bytes = fs::file_size(file);

  auto [out, rc] = in_child([&](std::ostream& o) {
    const long base_rss = status_kb("VmRSS"), base_anon = status_kb("RssAnon");
    auto t0 = std::chrono::steady_clock::now();
    janus::llm::TensorStore store = janus::llm::TensorStore::open_dir(dir);
    uint64_t sum = 0;
    std::vector<Tensor> held;  // keep every tensor alive, as a loaded model would
    for (const std::string& name : store.names()) {
      Tensor t = store.get(name, {kRows, kCols});
      const auto* p = static_cast<const volatile uint8_t*>(t.raw());
      for (size_t off = 0; off < t.nbytes(); off += 4096) sum += p[off];
      held.push_back(t);
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    o << base_rss << ' ' << base_anon << ' ' << status_kb("VmHWM") << ' ' << status_kb("RssAnon") << ' '
      << status_kb("RssFile") << ' ' << store.file_bytes() << ' ' << sum << ' ' << secs;
  });
  ASSERT_EQ(rc, 0) << out;
  long base_rss, base_anon, hwm, anon, rss_file;
  uint64_t store_bytes, sum;
  double secs;
  std::istringstream in(out);
  ASSERT_TRUE(in >> base_rss >> base_anon >> hwm >> anon >> rss_file >> store_bytes >> sum >> secs) << out;

  const double file_mb = double(file_bytes) / (1 << 20);
  const double peak_mb = double(hwm - base_rss) / 1024, anon_mb = double(anon - base_anon) / 1024;
  std::cout << "file " << file_bytes << " B (" << file_mb << " MiB), TensorStore::file_bytes " << store_bytes << "\n"
            << "loader process: baseline VmRSS " << base_rss << " KiB, VmHWM " << hwm << " KiB, RssFile " << rss_file
            << " KiB, RssAnon " << base_anon << " -> " << anon << " KiB\n"
            << "peak - baseline = " << peak_mb << " MiB = " << peak_mb / file_mb << " x file size (bound 1.1); "
            << "anonymous growth " << anon_mb << " MiB (bound 16); open+get+touch " << secs << " s (page sum " << sum
            << ")\n";
  EXPECT_EQ(store_bytes, file_bytes);
  EXPECT_LE(double(hwm - base_rss) * 1024, 1.1 * double(file_bytes));
  EXPECT_LT(anon_mb, 16.0) << "tensor data was copied into anonymous memory";
  // The measurement means something only if the touched pages were resident at the peak.
  EXPECT_GE(double(hwm - base_rss) * 1024, 0.9 * double(file_bytes)) << "pages were not faulted in";
}

}  // namespace
