// Checkpoints: bit-exact round trip, keep-last-N, and interrupted or damaged writes never load.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "train/atomic_file.h"
#include "train/checkpoint.h"

namespace {

namespace tr = janus::train;
namespace fs = std::filesystem;
using janus::kernels::DType;
using janus::kernels::Tensor;
using janus::kernels::ag::ParamList;
using janus::kernels::ag::Var;

std::string fresh_dir(const std::string& name) {
  const std::string d = testing::TempDir() + "/janus_ckpt_" + name + "_" + std::to_string(getpid());
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// Removes a test folder when the test ends (pass or fail).
struct RemoveOnExit {
  std::string dir;
  ~RemoveOnExit() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

Tensor filled(const janus::kernels::Shape& s, float base) {
  Tensor t = Tensor::empty(s, DType::F32);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = base + 0.001f * float(i) + 1e-7f * float(i % 7);
  return t;
}

ParamList params_with(float base, int64_t n = 64) {
  return {{"a.weight", Var::leaf(filled({4, n / 4}, base), true)},
          {"b.norm.weight", Var::leaf(filled({n}, base + 1), true), false}};
}

tr::CheckpointMeta meta_at(int64_t step) {
  tr::CheckpointMeta m;
  m.step = step;
  m.cursor = {2, 17 + step};
  m.rng = {0xdeadbeefcafef00dull, 1, 2, uint64_t(step)};
  m.recipe_hash = "abc123";
  m.extra = {{"note", "x"}};
  return m;
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.nbytes() == b.nbytes() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

TEST(Checkpoint, RoundTripIsBitExact) {
  const std::string dir = fresh_dir("roundtrip");
  RemoveOnExit cleanup{dir};
  ParamList p = params_with(0.5f);
  janus::llm::NamedTensors opt = {{"a.weight.exp_avg", filled({4, 16}, -3)},
                                  {"a.weight.step", Tensor::from_i64({1}, {7})}};
  const std::string path = tr::save_checkpoint(dir, meta_at(10), p, opt, 3);
  EXPECT_EQ(path, dir + "/step-000010");
  EXPECT_EQ(tr::validate_checkpoint(path), "");
  tr::Checkpoint c = tr::load_checkpoint(path);
  EXPECT_EQ(c.meta.step, 10);
  EXPECT_EQ(c.meta.cursor, (tr::DataCursor{2, 27}));
  EXPECT_EQ(c.meta.rng, (tr::Rng::State{0xdeadbeefcafef00dull, 1, 2, 10}));
  EXPECT_EQ(c.meta.recipe_hash, "abc123");
  EXPECT_EQ(c.meta.extra["note"], "x");
  EXPECT_TRUE(same_bytes(c.optimizer->get("a.weight.exp_avg"), opt[0].second));
  ParamList q = params_with(9.f);  // different values, same names and shapes
  tr::restore_params(*c.model, q);
  for (size_t i = 0; i < p.size(); ++i) EXPECT_TRUE(same_bytes(p[i].var.value(), q[i].var.value())) << p[i].name;
  // A model with another shape or name is refused with the tensor named.
  ParamList wrong = params_with(0.f, 32);
  try {
    tr::restore_params(*c.model, wrong);
    FAIL();
  } catch (const janus::kernels::Error& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'a.weight': expected f32 [4, 8], found F32 [4, 16]"),
              std::string::npos)
        << e.what();
  }
}

TEST(Checkpoint, Fnv1a64MatchesTheReferenceVectors) {
  // Published FNV-1a 64 test vectors.
  EXPECT_EQ(tr::fnv1a64_hex(""), "cbf29ce484222325");
  EXPECT_EQ(tr::fnv1a64_hex("a"), "af63dc4c8601ec8c");
  EXPECT_EQ(tr::fnv1a64_hex("foobar"), "85944171f73967e8");
}

TEST(Checkpoint, KeepsTheLastNAndFindsTheLatest) {
  const std::string dir = fresh_dir("keep");
  RemoveOnExit cleanup{dir};
  ParamList p = params_with(1.f);
  for (int64_t s : {5, 10, 15, 20, 25}) tr::save_checkpoint(dir, meta_at(s), p, {}, 2);
  std::vector<std::string> left;
  for (auto& e : fs::directory_iterator(dir)) left.push_back(e.path().filename().string());
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"step-000020", "step-000025"}));
  EXPECT_EQ(tr::find_latest_checkpoint(dir).value(), dir + "/step-000025");
  EXPECT_FALSE(tr::find_latest_checkpoint(dir + "/nothing_here").has_value());
}

// Folders with a higher step than the one just saved (a damaged newer checkpoint that resume
// skipped, or an earlier run in the same folder) must not make pruning delete the checkpoint that
// was just written: it used to count them first and remove the new one at once.
TEST(Checkpoint, PruningNeverRemovesTheCheckpointJustSaved) {
  const std::string dir = fresh_dir("prune_newer");
  RemoveOnExit cleanup{dir};
  ParamList p = params_with(1.f);
  tr::save_checkpoint(dir, meta_at(30), p, {}, 0);
  // 30's weights were damaged after its marker: resume skips it and continues from 20.
  tr::save_checkpoint(dir, meta_at(20), p, {}, 0);
  fs::resize_file(dir + "/step-000030/model.safetensors", 10);
  const std::string saved = tr::save_checkpoint(dir, meta_at(25), p, {}, 1);
  EXPECT_EQ(tr::validate_checkpoint(saved), "");
  EXPECT_EQ(tr::find_latest_checkpoint(dir, [](const std::string&) {}).value(), saved);
  EXPECT_FALSE(fs::exists(dir + "/step-000020"));  // keep_last = 1 among steps <= 25
}

// read_file's contract: an unreadable path throws naming it (a folder used to read as "").
TEST(AtomicFile, ReadFileOfAFolderThrowsNamingIt) {
  const std::string dir = fresh_dir("read_folder");
  RemoveOnExit cleanup{dir};
  try {
    tr::read_file(dir);
    ADD_FAILURE() << "read_file of a folder returned";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind(dir + ": ", 0), 0u) << e.what();
  }
}

TEST(Checkpoint, InterruptedOrDamagedCheckpointsAreSkippedWithALogLine) {
  const std::string dir = fresh_dir("interrupted");
  RemoveOnExit cleanup{dir};
  ParamList p = params_with(1.f);
  tr::save_checkpoint(dir, meta_at(10), p, {}, 0);
  tr::save_checkpoint(dir, meta_at(20), p, {}, 0);
  tr::save_checkpoint(dir, meta_at(30), p, {}, 0);
  tr::save_checkpoint(dir, meta_at(40), p, {}, 0);
  // 40: the writer died before the marker (files there, marker not).
  fs::remove(dir + "/step-000040/checkpoint.json");
  // 30: a safetensors file truncated after the marker was written.
  fs::resize_file(dir + "/step-000030/model.safetensors", fs::file_size(dir + "/step-000030/model.safetensors") - 5);
  // 20: same size, one flipped byte.
  {
    std::fstream f(dir + "/step-000020/optimizer.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-1, std::ios::end);
    f.put('\x7f');
  }
  // 50: a torn marker.
  fs::create_directories(dir + "/step-000050");
  std::ofstream(dir + "/step-000050/checkpoint.json") << "{\"format\": \"janus-tr";
  std::vector<std::string> log;
  auto latest = tr::find_latest_checkpoint(dir, [&](const std::string& m) { log.push_back(m); });
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(*latest, dir + "/step-000010");
  ASSERT_EQ(log.size(), 4u);
  EXPECT_NE(log[0].find("step-000050 ignored: checkpoint.json unreadable"), std::string::npos) << log[0];
  EXPECT_NE(log[1].find("step-000040 ignored: no checkpoint.json (interrupted write?); trying older"),
            std::string::npos)
      << log[1];
  EXPECT_NE(log[2].find("step-000030 ignored: model.safetensors is"), std::string::npos) << log[2];
  EXPECT_NE(log[2].find("(truncated?)"), std::string::npos) << log[2];
  EXPECT_NE(log[3].find("step-000020 ignored: optimizer.safetensors content hash differs"), std::string::npos)
      << log[3];
  EXPECT_THROW(tr::load_checkpoint(dir + "/step-000040"), std::runtime_error);
  // Saving step 40 again replaces the leftovers and makes it the latest.
  tr::save_checkpoint(dir, meta_at(40), p, {}, 0);
  EXPECT_EQ(tr::find_latest_checkpoint(dir, [](const std::string&) {}).value(), dir + "/step-000040");
}

// A child process saves checkpoints in a loop (each step's tensors filled with the step number)
// and is SIGKILLed at a different point each round. Whatever it left, the latest valid
// checkpoint must load and be internally consistent: every value equals its marker's step.
TEST(Checkpoint, KilledWriterNeverLeavesACheckpointThatLoadsWrong) {
  const std::string dir = fresh_dir("kill");
  RemoveOnExit cleanup{dir};
  int skipped_folders = 0, loaded = 0;
  for (int round = 0; round < 6; ++round) {
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      ParamList p = {{"w", Var::leaf(Tensor::zeros({256, 1024}, DType::F32), true)}};  // 1 MiB
      for (int64_t step = round * 1000 + 1;; ++step) {
        float* d = p[0].var.value().data<float>();
        std::fill(d, d + p[0].var.numel(), float(step));
        janus::llm::NamedTensors opt = {{"w.exp_avg", p[0].var.value()}};
        tr::save_checkpoint(dir, meta_at(step), p, opt, 2);
        if (write(fds[1], "s", 1) != 1) _exit(1);  // tell the parent one more save completed
      }
    }
    close(fds[1]);
    // Wait for 1-3 completed saves, then kill at a different point of the next write each round.
    char byte;
    for (int k = 0; k <= round % 3; ++k) ASSERT_EQ(read(fds[0], &byte, 1), 1);
    if (round > 0) usleep(useconds_t(500 * round));
    kill(pid, SIGKILL);
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    auto latest = tr::find_latest_checkpoint(dir, [&](const std::string&) { ++skipped_folders; });
    ASSERT_TRUE(latest.has_value());
    tr::Checkpoint c = tr::load_checkpoint(*latest);
    ++loaded;
    const float want = float(c.meta.step);
    ParamList q = {{"w", Var::leaf(Tensor::zeros({256, 1024}, DType::F32), true)}};
    tr::restore_params(*c.model, q);
    auto v = q[0].var.value().to_f32_vector();
    EXPECT_TRUE(std::all_of(v.begin(), v.end(), [&](float x) { return x == want; })) << *latest;
    EXPECT_EQ(c.optimizer->get("w.exp_avg").to_f32_vector()[0], want);
  }
  EXPECT_EQ(loaded, 6);
  std::cout << "[ info ] 6 kills: " << loaded << " consistent checkpoints loaded, " << skipped_folders
            << " incomplete folders skipped\n";
}

}  // namespace
