// The janus CLI contract (DESIGN §4): exit 0 on success; on bad input exit 2 with ONE line on
// stderr naming the file and the problem, and never a partial output file.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "llm/safetensors.h"
#include "tests/llm/fixture_util.h"

namespace janus {
namespace {

namespace fs = std::filesystem;

struct Result {
  int code;
  std::string out, err;
};

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(JANUS_BINARY_DIR) / "cli_tmp" / ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  // env: "NAME=value ..." put before the command (empty: the test's own environment).
  Result run(const std::string& args, const std::string& env = "") {
    const std::string cmd = (env.empty() ? "" : env + " ") + std::string(JANUS_BINARY_DIR) + "/apps/janus " + args +
                            " >" + (dir_ / "stdout").string() + " 2>" + (dir_ / "stderr").string();
    int st = std::system(cmd.c_str());
    return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, slurp(dir_ / "stdout"), slurp(dir_ / "stderr")};
  }
  // A copy of a fixture model folder that a test may break.
  fs::path copy_model(const std::string& name) {
    fs::path d = dir_ / name;
    fs::create_directories(d);
    for (const char* f : {"config.json", "model.safetensors"}) fs::copy_file(test::backbone_dir(name) + "/" + f, d / f);
    return d;
  }
  fs::path write_inputs(const llm::NamedTensors& t) {
    fs::path p = dir_ / "inputs.safetensors";
    llm::write_safetensors(p.string(), t);
    return p;
  }
  static void expect_one_line_error(const Result& r, std::initializer_list<std::string> parts) {
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    for (const auto& p : parts) EXPECT_NE(r.err.find(p), std::string::npos) << "missing '" << p << "' in: " << r.err;
  }
  fs::path dir_;
};

kernels::Tensor ids_tensor(std::vector<int64_t> v, int64_t B) {
  const int64_t T = int64_t(v.size()) / B;
  return kernels::Tensor::from_i64({B, T}, v);
}

TEST_F(Cli, DumpWritesLogitsHiddenAndMtpLogitsMatchingTheFixture) {
  auto exp = test::expected("deepseek_v3");
  auto in = write_inputs({{"input_ids", exp->get("input_ids")}});
  const fs::path out = dir_ / "out.safetensors";
  auto r =
      run("dump --model " + test::backbone_dir("deepseek_v3") + " --inputs " + in.string() + " --out " + out.string());
  ASSERT_EQ(r.code, 0) << r.err;
  auto got = llm::SafetensorsFile::open(out.string());
  EXPECT_LT(test::rel_max_err(got->get("logits").to_f32_vector(), exp->get("logits").to_f32_vector()), 1e-4);
  EXPECT_LT(test::rel_max_err(got->get("hidden_states").to_f32_vector(), exp->get("hidden_states").to_f32_vector()),
            1e-4);
  EXPECT_LT(test::rel_max_err(got->get("mtp_logits").to_f32_vector(), exp->get("mtp_logits").to_f32_vector()), 1e-4);
  EXPECT_EQ(got->get("logits").shape(), exp->get("logits").shape());
}

TEST_F(Cli, RunGreedyPrintsTheFixtureContinuation) {
  auto exp = test::expected("llama");
  std::string prompt, want;
  for (auto t : exp->get("greedy_prompt").to_i64_vector()) prompt += (prompt.empty() ? "" : ",") + std::to_string(t);
  for (auto t : exp->get("greedy_tokens").to_i64_vector()) want += (want.empty() ? "" : ",") + std::to_string(t);
  auto r = run("run --model " + test::backbone_dir("llama") + " --tokens " + prompt + " -n 32 --ignore-eos");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, want + "\n");
}

TEST_F(Cli, UnknownModelTypeNamesTheConfig) {
  auto m = copy_model("qwen2");
  std::string cfg = slurp(m / "config.json");
  cfg.replace(cfg.find("\"qwen2\""), 7, "\"gpt_neo\"");
  std::ofstream(m / "config.json") << cfg;
  auto r = run("run --model " + m.string() + " --tokens 1,2");
  expect_one_line_error(r, {"config.json", "unsupported model_type 'gpt_neo'"});
}

TEST_F(Cli, MissingTensorIsNamed) {
  auto m = copy_model("llama");
  auto f = llm::SafetensorsFile::open((m / "model.safetensors").string());
  llm::NamedTensors keep;
  for (const auto& n : f->names())
    if (n != "model.layers.1.mlp.up_proj.weight") keep.push_back({n, f->get(n).clone()});
  f.reset();
  llm::write_safetensors((m / "model.safetensors").string(), keep);
  auto r = run("run --model " + m.string() + " --tokens 1,2");
  expect_one_line_error(r, {m.string(), "model.layers.1.mlp.up_proj.weight"});
}

TEST_F(Cli, MisshapenTensorNamesTensorAndBothShapes) {
  auto m = copy_model("qwen2");
  std::string cfg = slurp(m / "config.json");
  const auto at = cfg.find("\"intermediate_size\"");
  ASSERT_NE(at, std::string::npos);
  const auto colon = cfg.find(':', at), end = cfg.find_first_of(",}", colon);
  cfg.replace(colon + 1, end - colon - 1, " 161");
  std::ofstream(m / "config.json") << cfg;
  auto r = run("run --model " + m.string() + " --tokens 1,2");
  expect_one_line_error(r, {"model.layers.0.mlp.gate_proj.weight", "[160, 64]", "[161, 64]"});
}

TEST_F(Cli, TruncatedWeightsNameTheFile) {
  auto m = copy_model("qwen2");
  fs::resize_file(m / "model.safetensors", fs::file_size(m / "model.safetensors") / 2);
  auto r = run("run --model " + m.string() + " --tokens 1,2");
  expect_one_line_error(r, {"model.safetensors"});
}

TEST_F(Cli, CorruptConfigJsonIsAClearError) {
  auto m = copy_model("qwen2");
  std::ofstream(m / "config.json") << "{\"model_type\": \"qwen2\", ";
  auto r = run("run --model " + m.string() + " --tokens 1,2");
  expect_one_line_error(r, {"config.json", "not valid JSON"});
}

TEST_F(Cli, DumpRejectsBadInputsWithoutWritingOutput) {
  const fs::path out = dir_ / "out.safetensors";
  const std::string model = " --model " + test::backbone_dir("qwen2");
  auto oov = write_inputs({{"input_ids", ids_tensor({1, 2, 300}, 1)}});
  expect_one_line_error(run("dump" + model + " --inputs " + oov.string() + " --out " + out.string()),
                        {"inputs.safetensors", "300", "vocabulary"});
  auto f32 = write_inputs({{"input_ids", kernels::Tensor::from_f32({1, 2}, {1, 2})}});
  expect_one_line_error(run("dump" + model + " --inputs " + f32.string() + " --out " + out.string()),
                        {"input_ids must be i64"});
  auto pix = write_inputs({{"input_ids", ids_tensor({1, 2}, 1)},
                           {"pixel_values", kernels::Tensor::zeros({1, 3, 4, 4}, kernels::DType::F32)}});
  expect_one_line_error(run("dump" + model + " --inputs " + pix.string() + " --out " + out.string()), {"pixel_values"});
  std::ofstream(dir_ / "garbage.safetensors") << "not a safetensors file at all";
  expect_one_line_error(
      run("dump" + model + " --inputs " + (dir_ / "garbage.safetensors").string() + " --out " + out.string()),
      {"garbage.safetensors"});
  EXPECT_FALSE(fs::exists(out));
  for (const auto& e : fs::directory_iterator(dir_)) EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos);
}

TEST_F(Cli, BadTokenListAndMissingModelFolder) {
  expect_one_line_error(run("run --model " + test::backbone_dir("qwen2") + " --tokens 1,x,3"), {"'x'"});
  expect_one_line_error(run("run --model /nonexistent/model --tokens 1"), {"/nonexistent/model"});
}

// Without --model the default model is used: $JANUS_MODEL when set, else the embedded models/janus-shapes.
TEST_F(Cli, MissingDefaultModelIsAOneLineError) {
  expect_one_line_error(run("run --tokens 1,2", "JANUS_MODEL=/no/such/model"),
                        {"no --model given", "/no/such/model", "is missing"});
}

TEST_F(Cli, RunWithoutModelUsesTheEmbeddedModel) {
  // models/janus-shapes (committed): its language model continues token ids.
  const auto r = run("run --tokens 0,3 -n 4 --ignore-eos");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("generated 4 tokens"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace janus
