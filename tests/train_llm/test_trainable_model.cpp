// TrainableModel against the inference llm::Model and transformers on the committed backbone
// fixtures, sequence packing, random init, and the extra autograd op it needs.
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include "kernels/autograd/ops_extra_trainllm.h"
#include "llm/model.h"
#include "tests/train_llm/train_fixture_util.h"

namespace janus {
namespace {

namespace ag = kernels::ag;
using kernels::DType;
using kernels::Tensor;

// float32 everywhere; inference and training kernels sum in different orders (observed ~1e-6).
constexpr double kTol = 1e-4;

class TrainableVsInference : public ::testing::TestWithParam<std::string> {};

TEST_P(TrainableVsInference, LogitsEqualInferenceModelAndTransformers) {
  const std::string dir = test::backbone_dir(GetParam());
  auto exp = llm::SafetensorsFile::open(dir + "/expected.safetensors");
  auto inf = llm::Model::load(dir);
  auto tm = llm::TrainableModel::from_checkpoint(dir);
  Tensor ids = exp->get("input_ids");
  const int64_t B = ids.size(0), T = ids.size(1), V = tm.config().vocab_size;
  const auto id = ids.to_i64_vector();
  ag::NoGradGuard ng;
  auto out = tm.forward(id, B, T);
  ASSERT_EQ(out.logits.shape(), (kernels::Shape{B * T, V}));
  const auto got = out.logits.value().to_f32_vector();
  const auto want_hf = exp->get("logits").to_f32_vector();
  double worst_inf = 0;
  for (int64_t b = 0; b < B; ++b) {
    auto cache = inf->new_cache();
    Tensor logits, hidden;
    inf->forward(cache, id.data() + b * T, T, {&hidden, &logits, false});
    std::vector<float> row(got.begin() + b * T * V, got.begin() + (b + 1) * T * V);
    worst_inf = std::max(worst_inf, test::rel_max_err(row, logits.to_f32_vector()));
    if (inf->has_mtp()) {
      ASSERT_TRUE(tm.has_mtp());
      auto mc = inf->new_mtp_cache();
      Tensor ml;
      inf->mtp_forward(mc, hidden.slice(0, 0, T - 1), id.data() + b * T + 1, T - 1, ml);
      const auto mg = out.mtp_logits.value().slice(0, b * (T - 1), (b + 1) * (T - 1)).to_f32_vector();
      const double em = test::rel_max_err(mg, ml.to_f32_vector());
      const double eh = test::rel_max_err(mg, exp->get("mtp_logits").select(0, b).slice(0, 0, T - 1).to_f32_vector());
      std::cout << GetParam() << " row " << b << ": mtp logits rel err vs inference " << em << ", vs transformers "
                << eh << "\n";
      EXPECT_LT(em, kTol);
      EXPECT_LT(eh, kTol);
    }
  }
  const double ehf = test::rel_max_err(got, want_hf);
  std::cout << GetParam() << ": logits rel err vs inference " << worst_inf << ", vs transformers " << ehf << "\n";
  EXPECT_LT(worst_inf, kTol);
  EXPECT_LT(ehf, kTol);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TrainableVsInference,
                         ::testing::Values("llama", "qwen2", "deepseek_v3", "deepseek_v2", "deepseek_v3_fp8"));

// Packing two sequences into one row (segment ids) gives each the logits it has alone.
TEST(TrainableModel, PackedSegmentsEqualSeparateSequences) {
  for (const char* name : {"llama", "deepseek_v3"}) {
    auto tm = llm::TrainableModel::from_checkpoint(test::train_dir(name));
    auto ref = test::train_reference(name);
    const auto ids = ref->get("input_ids").to_i64_vector();  // [2, 16]
    const int64_t T = 16, L0 = 9, L1 = 7;                    // row 0's first 9 + row 1's first 7
    std::vector<int64_t> packed(ids.begin(), ids.begin() + L0);
    packed.insert(packed.end(), ids.begin() + T, ids.begin() + T + L1);
    std::vector<int32_t> seg(size_t(T), 0);
    for (int64_t t = L0; t < T; ++t) seg[size_t(t)] = 1;
    ag::NoGradGuard ng;
    llm::TrainForwardOptions opt;
    opt.segments = &seg;
    auto p = tm.forward(packed, 1, T, opt);
    const int64_t V = tm.config().vocab_size;
    for (int s = 0; s < 2; ++s) {
      const int64_t n = s ? L1 : L0, start = s ? L0 : 0;
      std::vector<int64_t> alone(ids.begin() + s * T, ids.begin() + s * T + n);
      auto a = tm.forward(alone, 1, n);
      const double e = test::rel_max_err(p.logits.value().slice(0, start, start + n).to_f32_vector(),
                                         a.logits.value().to_f32_vector());
      EXPECT_LT(e, kTol) << name << " segment " << s;
      if (tm.has_mtp()) {  // MTP rows t with t+1 in the same segment: n-1 of them
        const auto pm = p.mtp_logits.value().slice(0, start, start + n - 1).to_f32_vector();
        EXPECT_LT(test::rel_max_err(pm, a.mtp_logits.value().to_f32_vector()), kTol) << name << " mtp segment " << s;
      }
      ASSERT_EQ(int64_t(V), a.logits.size(1));
    }
    const auto mt = llm::mtp_targets(std::vector<int64_t>(size_t(T), 5), 1, T, &seg);
    EXPECT_EQ(mt[size_t(L0 - 1)], -100) << "MTP row crossing the segment boundary is ignored";
    EXPECT_EQ(mt[size_t(L0 - 2)], 5);
  }
}

TEST(TrainableModel, RandomInitIsSeededAndNamedLikeTheCheckpoint) {
  auto ckpt = llm::TrainableModel::from_checkpoint(test::train_dir("deepseek_v3"));
  auto a = llm::TrainableModel::random(ckpt.config(), 42, 0.02);
  auto b = llm::TrainableModel::random(ckpt.config(), 42, 0.02);
  ASSERT_EQ(a.params().size(), ckpt.params().size());
  std::set<std::string> names;
  for (size_t i = 0; i < a.params().size(); ++i) {
    EXPECT_EQ(a.params()[i].name, ckpt.params()[i].name);
    EXPECT_EQ(a.params()[i].var.shape(), ckpt.params()[i].var.shape()) << a.params()[i].name;
    EXPECT_EQ(a.params()[i].var.value().to_f32_vector(), b.params()[i].var.value().to_f32_vector());
    names.insert(a.params()[i].name);
  }
  EXPECT_EQ(names.size(), a.params().size()) << "parameter names are unique";
  ASSERT_EQ(a.buffers().size(), 3u);
  EXPECT_EQ(a.buffers()[0].name, "model.layers.1.mlp.gate.e_score_correction_bias");
  // norms are 1, matrices have the requested spread (N(0, 0.02): sample std within 5%)
  for (const auto& p : a.params()) {
    const auto v = p.var.value().to_f32_vector();
    if (p.name.find("norm") != std::string::npos) {
      for (float x : v) ASSERT_EQ(x, 1.0f) << p.name;
    } else if (p.name == "model.embed_tokens.weight") {
      double s2 = 0;
      for (float x : v) s2 += double(x) * x;
      EXPECT_NEAR(std::sqrt(s2 / double(v.size())), 0.02, 0.001);
    }
  }
}

// transformers-5 fused expert tensors (experts.gate_up_proj [E, 2I, H] with gate rows first,
// experts.down_proj [E, H, I]) load as the same per-expert parameters; bf16 storage becomes the
// same f32 values as float(bf16).
TEST(TrainableModel, FusedExpertsAndBf16CheckpointsLoadAsPerExpertF32) {
  const std::string src = test::train_dir("deepseek_v3");
  auto file = llm::SafetensorsFile::open(src + "/model.safetensors");
  const int64_t E = 16, I = 8, H = 32;
  llm::NamedTensors out;
  std::map<std::string, std::pair<Tensor, Tensor>> fused;  // prefix "...experts." -> (gate_up, down)
  for (const auto& n : file->names()) {
    const auto at = n.find(".mlp.experts.");
    Tensor t = file->get(n);
    if (at == std::string::npos) {
      out.emplace_back(n, t.to(DType::BF16));
      continue;
    }
    const std::string prefix = n.substr(0, at + 13);
    const std::string rest = n.substr(at + 13);  // "E.gate_proj.weight"
    const int64_t e = std::stoll(rest.substr(0, rest.find('.')));
    auto& f = fused[prefix];
    if (!f.first.defined()) {
      f.first = Tensor::empty({E, 2 * I, H}, DType::F32);
      f.second = Tensor::empty({E, H, I}, DType::F32);
    }
    if (rest.find("gate_proj") != std::string::npos) f.first.select(0, e).slice(0, 0, I).copy_from(t);
    if (rest.find("up_proj") != std::string::npos) f.first.select(0, e).slice(0, I, 2 * I).copy_from(t);
    if (rest.find("down_proj") != std::string::npos) f.second.select(0, e).copy_from(t);
  }
  for (auto& [prefix, f] : fused) {
    out.emplace_back(prefix + "gate_up_proj", f.first);
    out.emplace_back(prefix + "down_proj", f.second);
  }
  const std::string dir = std::string(JANUS_BINARY_DIR) + "/train_llm_fused_fixture";
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(src + "/config.json", dir + "/config.json",
                             std::filesystem::copy_options::overwrite_existing);
  llm::write_safetensors(dir + "/model.safetensors", out);

  auto ref = llm::TrainableModel::from_checkpoint(src);
  auto got = llm::TrainableModel::from_checkpoint(dir);
  ASSERT_EQ(got.params().size(), ref.params().size());
  for (size_t i = 0; i < ref.params().size(); ++i) {
    const auto& p = ref.params()[i];
    ASSERT_EQ(got.params()[i].name, p.name);
    const bool expert = p.name.find(".mlp.experts.") != std::string::npos;
    Tensor want = expert ? p.var.value() : p.var.value().to(DType::BF16).to(DType::F32);
    EXPECT_EQ(got.params()[i].var.value().to_f32_vector(), want.to_f32_vector()) << p.name;
  }
  std::filesystem::remove_all(dir);
}

// params() + buffers() written as safetensors (what a trainer checkpoint holds) form a complete
// checkpoint: the inference Model loads it (it rejects missing and unused tensors) and gives
// the same logits (and MTP logits) as the trainable model. Randomly initialised models, so the
// whole random() naming is covered.
TEST(TrainableModel, ParamsAndBuffersSaveAsALoadableCheckpoint) {
  for (const char* name : {"qwen2", "deepseek_v3"}) {
    const std::string src = test::train_dir(name);
    auto cfg = llm::load_config(src + "/config.json");
    auto tm = llm::TrainableModel::random(cfg, 11, 0.2);
    for (auto& b : tm.buffers())  // non-zero correction biases, so selection depends on them
      for (int64_t e = 0; e < b.value.numel(); ++e) b.value.data<float>()[e] = 0.01f * float((e * 7) % 5 - 2);
    llm::NamedTensors out;
    for (const auto& p : tm.params()) out.emplace_back(p.name, p.var.value());
    for (const auto& b : tm.buffers()) out.emplace_back(b.name, b.value);
    const std::string dir = std::string(JANUS_BINARY_DIR) + "/train_llm_saved_" + name;
    std::filesystem::create_directories(dir);
    std::filesystem::copy_file(src + "/config.json", dir + "/config.json",
                               std::filesystem::copy_options::overwrite_existing);
    llm::write_safetensors(dir + "/model.safetensors", out);
    auto inf = llm::Model::load(dir);
    const std::vector<int64_t> ids = {3, 17, 42, 9, 9, 60, 2, 33, 21, 5, 48, 12};
    const int64_t T = int64_t(ids.size());
    ag::NoGradGuard ng;
    auto r = tm.forward(ids, 1, T);
    auto cache = inf->new_cache();
    Tensor logits, hidden;
    inf->forward(cache, ids.data(), T, {&hidden, &logits, false});
    const double e = test::rel_max_err(r.logits.value().to_f32_vector(), logits.to_f32_vector());
    std::cout << name << " saved and reloaded: logits rel err " << e;
    EXPECT_LT(e, kTol) << name;
    ASSERT_EQ(inf->has_mtp(), tm.has_mtp()) << name;
    if (tm.has_mtp()) {
      auto mc = inf->new_mtp_cache();
      Tensor ml;
      inf->mtp_forward(mc, hidden.slice(0, 0, T - 1), ids.data() + 1, T - 1, ml);
      const double em = test::rel_max_err(r.mtp_logits.value().to_f32_vector(), ml.to_f32_vector());
      std::cout << ", mtp " << em;
      EXPECT_LT(em, kTol) << name;
    }
    std::cout << "\n";
    std::filesystem::remove_all(dir);
  }
}

TEST(TrainableModel, CheckpointErrorsNameTheTensor) {
  EXPECT_THROW(
      {
        try {
          llm::TrainableModel::from_checkpoint(test::train_dir("does_not_exist"));
        } catch (const kernels::Error& e) {
          EXPECT_NE(std::string(e.what()).find("does_not_exist"), std::string::npos) << e.what();
          throw;
        }
      },
      kernels::Error);
  auto tm = llm::TrainableModel::from_checkpoint(test::train_dir("llama"));
  EXPECT_THROW(tm.forward({1, 2, 3}, 2, 2), kernels::Error);
  EXPECT_THROW(tm.forward({1, 2, 3, 1000}, 2, 2), kernels::Error);  // id >= vocab
}

// Finite differences in float64 for the extra op (ops_extra_trainllm.cpp): y = Σ c ⊙ (1/x).
TEST(ExtraOps, ReciprocalGradientMatchesFiniteDifferences) {
  const std::vector<double> x0 = {0.7, -1.3, 2.1, 0.45, -0.9, 1.6};
  const std::vector<double> c = {0.3, -0.2, 0.5, 0.1, 0.7, -0.4};
  auto make = [](const std::vector<double>& v) {
    Tensor t = Tensor::empty({2, 3}, DType::F64);
    for (size_t i = 0; i < v.size(); ++i) t.data<double>()[i] = v[i];
    return t;
  };
  auto f = [&](const ag::Var& x) { return ag::sum(ag::mul(ag::extra::reciprocal(x), ag::Var::constant(make(c)))); };
  ag::Var x = ag::Var::leaf(make(x0), true);
  ag::backward(f(x));
  double worst = 0;
  for (size_t i = 0; i < x0.size(); ++i) {
    const double h = 1e-6;
    auto xp = x0, xm = x0;
    xp[i] += h;
    xm[i] -= h;
    ag::NoGradGuard ng;
    const double fd = (f(ag::Var::constant(make(xp))).value().data<double>()[0] -
                       f(ag::Var::constant(make(xm))).value().data<double>()[0]) /
                      (2 * h);
    worst = std::max(worst, std::fabs(fd - x.grad().data<double>()[i]) / std::max(1.0, std::fabs(fd)));
  }
  EXPECT_LT(worst, 1e-8);  // central differences in f64: truncation ~h² ≈ 1e-12, rounding ~1e-10
}

}  // namespace
}  // namespace janus
