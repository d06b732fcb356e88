// Parity with transformers on tiny random checkpoints of every supported layout
// (fixtures: tools/make_backbone_fixtures.py). Tolerance 1e-4 relative (DESIGN §6): float32
// end to end, errors are accumulation-order differences, observed ~1e-6.
#include <gtest/gtest.h>

#include <array>
#include <filesystem>
#include <map>

#include "llm/generate.h"
#include "llm/model.h"
#include "tests/llm/fixture_util.h"

namespace janus {
namespace {

using kernels::Tensor;
constexpr double kTol = 1e-4;

class BackboneParity : public ::testing::TestWithParam<std::string> {};

TEST_P(BackboneParity, LogitsAndHiddenStatesMatchTransformers) {
  auto model = llm::Model::load(test::backbone_dir(GetParam()));
  auto exp = test::expected(GetParam());
  Tensor ids = exp->get("input_ids"), ref_logits = exp->get("logits"), ref_hidden = exp->get("hidden_states");
  const int64_t B = ids.size(0), T = ids.size(1);
  const auto id = ids.to_i64_vector();
  for (int64_t b = 0; b < B; ++b) {
    auto cache = model->new_cache();
    Tensor logits, hidden;
    model->forward(cache, id.data() + b * T, T, {&hidden, &logits, false});
    const double el = test::rel_max_err(logits.to_f32_vector(), ref_logits.select(0, b).to_f32_vector());
    const double eh = test::rel_max_err(hidden.to_f32_vector(), ref_hidden.select(0, b).to_f32_vector());
    EXPECT_LT(el, kTol) << "logits, batch row " << b;
    EXPECT_LT(eh, kTol) << "hidden states, batch row " << b;
    std::cout << GetParam() << " row " << b << ": logits rel err " << el << ", hidden rel err " << eh << "\n";
  }
}

// Model::forward_embeds_batch: all rows of the fixture batch as sequences of one pass — a prefill
// of different lengths (row b: T − 1 − b%2 tokens), then one step that feeds each row the rest
// (1 or 2 tokens, so the decode path runs with mixed counts) — match transformers row by row.
TEST_P(BackboneParity, BatchedSequencesMatchTransformers) {
  auto model = llm::Model::load(test::backbone_dir(GetParam()));
  auto exp = test::expected(GetParam());
  Tensor ids = exp->get("input_ids"), ref_logits = exp->get("logits");
  const int64_t B = ids.size(0), T = ids.size(1);
  ASSERT_GE(B, 2);
  const auto id = ids.to_i64_vector();
  std::vector<llm::KvCache> caches;
  for (int64_t b = 0; b < B; ++b) caches.push_back(model->new_cache());
  std::vector<llm::KvCache*> ptrs;
  for (auto& c : caches) ptrs.push_back(&c);
  std::vector<int64_t> pre, rest, pre_ids, rest_ids;
  for (int64_t b = 0; b < B; ++b) {
    pre.push_back(T - 1 - b % 2);
    rest.push_back(T - pre.back());
    pre_ids.insert(pre_ids.end(), id.begin() + b * T, id.begin() + b * T + pre.back());
    rest_ids.insert(rest_ids.end(), id.begin() + b * T + pre.back(), id.begin() + (b + 1) * T);
  }
  Tensor l1, l2;
  model->forward_embeds_batch(ptrs, model->embed(pre_ids.data(), int64_t(pre_ids.size())), pre, {nullptr, &l1, false});
  model->forward_embeds_batch(ptrs, model->embed(rest_ids.data(), int64_t(rest_ids.size())), rest,
                              {nullptr, &l2, false});
  int64_t r1 = 0, r2 = 0;
  for (int64_t b = 0; b < B; ++b) {
    const Tensor ref = ref_logits.select(0, b);
    const double e1 = test::rel_max_err(l1.slice(0, r1, r1 + pre[size_t(b)]).to_f32_vector(),
                                        ref.slice(0, 0, pre[size_t(b)]).to_f32_vector());
    const double e2 = test::rel_max_err(l2.slice(0, r2, r2 + rest[size_t(b)]).to_f32_vector(),
                                        ref.slice(0, pre[size_t(b)], T).to_f32_vector());
    EXPECT_LT(e1, kTol) << "prefill, row " << b;
    EXPECT_LT(e2, kTol) << "continuation, row " << b;
    EXPECT_EQ(caches[size_t(b)].length, T);
    std::cout << GetParam() << " batched row " << b << ": prefill rel err " << e1 << ", continuation " << e2 << "\n";
    r1 += pre[size_t(b)];
    r2 += rest[size_t(b)];
  }
  // last_only: one row per sequence, its last.
  for (auto& c : caches) c.truncate(T - 1);
  std::vector<int64_t> last_ids;
  for (int64_t b = 0; b < B; ++b) last_ids.push_back(id[size_t(b * T + T - 1)]);
  Tensor l3;
  model->forward_embeds_batch(ptrs, model->embed(last_ids.data(), B), std::vector<int64_t>(size_t(B), 1),
                              {nullptr, &l3, true});
  ASSERT_EQ(l3.size(0), B);
  for (int64_t b = 0; b < B; ++b)
    EXPECT_LT(
        test::rel_max_err(l3.select(0, b).to_f32_vector(), ref_logits.select(0, b).select(0, T - 1).to_f32_vector()),
        kTol);
  // Bad batches are errors, not silent mixes.
  EXPECT_THROW(model->forward_embeds_batch({ptrs[0], ptrs[0]}, model->embed(last_ids.data(), 2), {1, 1}, {}),
               kernels::Error);
  EXPECT_THROW(
      model->forward_embeds_batch(ptrs, model->embed(last_ids.data(), B), std::vector<int64_t>(size_t(B), 2), {}),
      kernels::Error);
}

TEST_P(BackboneParity, GreedyContinuationIsIdentical) {
  auto model = llm::Model::load(test::backbone_dir(GetParam()));
  auto exp = test::expected(GetParam());
  const auto prompt = exp->get("greedy_prompt").to_i64_vector();
  const auto want = exp->get("greedy_tokens").to_i64_vector();
  llm::GenerateOptions opt;
  opt.max_new_tokens = int64_t(want.size());
  const auto r = llm::generate(*model, prompt, opt);
  EXPECT_EQ(r.tokens, want);
  EXPECT_EQ(r.stop_reason, "length");
}

INSTANTIATE_TEST_SUITE_P(Fixtures, BackboneParity,
                         ::testing::Values("llama", "qwen2", "deepseek_v3", "deepseek_v2", "deepseek_v3_fp8"));

// The MTP head (DESIGN §3; transformers' decoder layer with vLLM/SGLang wiring).
TEST(MtpModule, LogitsMatchTransformersWiring) {
  for (const char* name : {"deepseek_v3", "deepseek_v3_fp8"}) {
    auto exp = test::expected(name);
    auto model = llm::Model::load(test::backbone_dir(name));
    ASSERT_TRUE(model->has_mtp()) << name;
    Tensor ids = exp->get("input_ids"), ref = exp->get("mtp_logits");
    const int64_t B = ids.size(0), T = ids.size(1);
    const auto id = ids.to_i64_vector();
    for (int64_t b = 0; b < B; ++b) {
      auto cache = model->new_cache();
      Tensor hidden;
      model->forward(cache, id.data() + b * T, T, {&hidden, nullptr, false});
      auto mc = model->new_mtp_cache();
      Tensor ml;
      model->mtp_forward(mc, hidden.slice(0, 0, T - 1), id.data() + b * T + 1, T - 1, ml);
      const double e = test::rel_max_err(ml.to_f32_vector(), ref.select(0, b).slice(0, 0, T - 1).to_f32_vector());
      EXPECT_LT(e, kTol) << name << " mtp logits, batch row " << b;
    }
  }
}

// Absorbed decode (latent cache, W_UK folded into q, W_UV after attention) equals the naive
// form (per-head keys/values) — same model, token by token vs. whole-sequence prefill.
TEST(MlaAttention, AbsorbedDecodeMatchesNaivePrefill) {
  for (const char* name : {"deepseek_v3", "deepseek_v2", "deepseek_v3_fp8"}) {
    auto model = llm::Model::load(test::backbone_dir(name));
    const auto id = test::expected(name)->get("input_ids").select(0, 0).to_i64_vector();
    const int64_t T = int64_t(id.size());
    llm::MlaAttention::set_mode(llm::MlaAttention::Mode::kNaive);
    auto c1 = model->new_cache();
    Tensor naive;
    model->forward(c1, id.data(), T, {nullptr, &naive, false});
    llm::MlaAttention::set_mode(llm::MlaAttention::Mode::kAbsorbed);
    auto c2 = model->new_cache();
    std::vector<float> absorbed;
    for (int64_t t = 0; t < T; ++t) {
      Tensor l;
      model->forward(c2, &id[size_t(t)], 1, {nullptr, &l, false});
      auto v = l.to_f32_vector();
      absorbed.insert(absorbed.end(), v.begin(), v.end());
    }
    llm::MlaAttention::set_mode(llm::MlaAttention::Mode::kAuto);
    // Same math in another association order: float32 rounding only (~1e-6 observed).
    EXPECT_LT(test::rel_max_err(absorbed, naive.to_f32_vector()), 1e-5) << name;
  }
}

// A prompt fed in chunks through the cache gives the same logits as one batched prefill.
TEST(KvCache, ChunkedPrefillMatchesSinglePrefill) {
  for (const char* name : {"llama", "deepseek_v3"}) {
    auto model = llm::Model::load(test::backbone_dir(name));
    const auto id = test::expected(name)->get("input_ids").select(0, 1).to_i64_vector();
    auto c1 = model->new_cache();
    Tensor whole;
    model->forward(c1, id.data(), int64_t(id.size()), {nullptr, &whole, false});
    auto c2 = model->new_cache();
    Tensor a, b;
    model->forward(c2, id.data(), 4, {nullptr, &a, false});
    model->forward(c2, id.data() + 4, int64_t(id.size()) - 4, {nullptr, &b, false});
    auto joined = a.to_f32_vector();
    auto tail = b.to_f32_vector();
    joined.insert(joined.end(), tail.begin(), tail.end());
    EXPECT_LT(test::rel_max_err(joined, whole.to_f32_vector()), 1e-5) << name;
    EXPECT_EQ(c2.length, int64_t(id.size()));
  }
}

// MTP speculative decoding emits exactly the plain greedy output; acceptance is reported.
TEST(SpeculativeDecoding, OutputIdenticalToPlainGreedy) {
  for (const char* name : {"deepseek_v3", "deepseek_v3_fp8"}) {
    auto model = llm::Model::load(test::backbone_dir(name));
    const auto prompt = test::expected(name)->get("greedy_prompt").to_i64_vector();
    llm::GenerateOptions opt;
    opt.max_new_tokens = 40;
    const auto plain = llm::generate(*model, prompt, opt);
    opt.speculative_mtp = true;
    const auto spec = llm::generate(*model, prompt, opt);
    EXPECT_EQ(spec.tokens, plain.tokens) << name;
    EXPECT_GT(spec.drafted, 0);
    EXPECT_LT(spec.forward_calls, plain.forward_calls + 1);
    std::cout << name << ": MTP drafts accepted " << spec.accepted << "/" << spec.drafted << ", main forwards "
              << spec.forward_calls << " vs " << plain.forward_calls << "\n";
  }
}

// Drafts from a known sequence, wrong on every `miss_every`-th call (0 = never wrong).
class ScriptedDrafter : public llm::Drafter {
 public:
  ScriptedDrafter(std::vector<int64_t> seq, int miss_every) : seq_(std::move(seq)), miss_every_(miss_every) {}
  int64_t observe(const Tensor& hidden, const int64_t*, int64_t n) override {
    EXPECT_EQ(hidden.size(0), n);
    pos_ += n;  // pairs seen so far = index of the last pair + 1
    ++calls_;
    const int64_t want = pos_ + 2 < int64_t(seq_.size()) ? seq_[size_t(pos_ + 2)] : 0;  // token t+2
    return miss_every_ && calls_ % miss_every_ == 0 ? (want + 1) % 300 : want;
  }

 private:
  std::vector<int64_t> seq_;
  int miss_every_;
  int64_t pos_ = -1, calls_ = 0;
};

// The verify/accept path: with drafts that are right (always, or 2 of 3 times) the output is
// still exactly plain greedy, and accepted drafts save main-model forwards.
TEST(SpeculativeDecoding, AcceptedAndRejectedDraftsKeepGreedyOutput) {
  for (const char* name : {"deepseek_v3", "llama"}) {
    auto model = llm::Model::load(test::backbone_dir(name));
    const auto prompt = test::expected(name)->get("greedy_prompt").to_i64_vector();
    llm::GenerateOptions opt;
    opt.max_new_tokens = 31;
    const auto plain = llm::generate(*model, prompt, opt);
    std::vector<int64_t> seq = prompt;
    seq.insert(seq.end(), plain.tokens.begin(), plain.tokens.end());
    for (int miss : {0, 3}) {
      ScriptedDrafter d(seq, miss);
      opt.drafter = &d;
      const auto spec = llm::generate(*model, prompt, opt);
      EXPECT_EQ(spec.tokens, plain.tokens) << name << " miss_every " << miss;
      EXPECT_GT(spec.accepted, 0) << name;
      if (miss == 0) {
        EXPECT_EQ(spec.accepted, spec.drafted) << name;
      }
      if (miss == 3) {
        EXPECT_LT(spec.accepted, spec.drafted) << name;
      }
      EXPECT_LT(spec.forward_calls, plain.forward_calls) << name;
      std::cout << name << " miss_every " << miss << ": accepted " << spec.accepted << "/" << spec.drafted
                << ", forwards " << spec.forward_calls << " vs " << plain.forward_calls << "\n";
    }
  }
}

TEST(Generate, StopTokenEndsGenerationAndCallbackCanCancel) {
  auto model = llm::Model::load(test::backbone_dir("qwen2"));
  auto exp = test::expected("qwen2");
  const auto prompt = exp->get("greedy_prompt").to_i64_vector();
  const auto want = exp->get("greedy_tokens").to_i64_vector();
  llm::GenerateOptions opt;
  opt.max_new_tokens = 32;
  opt.stop_tokens = {want[5]};
  auto r = llm::generate(*model, prompt, opt);
  const auto first = size_t(std::find(want.begin(), want.end(), want[5]) - want.begin());
  EXPECT_EQ(r.tokens, std::vector<int64_t>(want.begin(), want.begin() + first + 1));
  EXPECT_EQ(r.stop_reason, "stop_token");
  int seen = 0;
  opt.stop_tokens.clear();
  opt.on_token = [&](int64_t) { return ++seen < 3; };
  r = llm::generate(*model, prompt, opt);
  EXPECT_EQ(r.tokens.size(), 3u);
  EXPECT_EQ(r.stop_reason, "callback");
  std::atomic<bool> cancel{true};
  opt.on_token = nullptr;
  opt.cancel = &cancel;
  r = llm::generate(*model, prompt, opt);
  EXPECT_TRUE(r.tokens.empty());
  EXPECT_EQ(r.stop_reason, "cancelled");
}

TEST(Generate, SameSeedSameSampleDifferentSeedDiffers) {
  auto model = llm::Model::load(test::backbone_dir("llama"));
  const auto prompt = test::expected("llama")->get("greedy_prompt").to_i64_vector();
  llm::GenerateOptions opt;
  opt.max_new_tokens = 24;
  opt.sampling.temperature = 1.0f;
  opt.sampling.top_k = 50;
  opt.sampling.top_p = 0.95f;
  opt.seed = 7;
  const auto a = llm::generate(*model, prompt, opt), b = llm::generate(*model, prompt, opt);
  opt.seed = 8;
  const auto c = llm::generate(*model, prompt, opt);
  EXPECT_EQ(a.tokens, b.tokens);
  EXPECT_NE(a.tokens, c.tokens);
}

TEST(Generate, RejectsOutOfVocabularyPromptAndSpeculativeWithoutMtp) {
  auto model = llm::Model::load(test::backbone_dir("qwen2"));
  llm::GenerateOptions opt;
  EXPECT_THROW(llm::generate(*model, {1, 300}, opt), kernels::Error);
  EXPECT_THROW(llm::generate(*model, {}, opt), kernels::Error);
  opt.speculative_mtp = true;
  EXPECT_THROW(llm::generate(*model, {1, 2}, opt), kernels::Error);
}

}  // namespace
}  // namespace janus

namespace janus {
namespace {

// transformers >= 5 may save MoE experts fused ([E, 2I, H] gate_up and [E, H, I] down); the
// same weights in that layout give the same logits.
TEST(DeepSeekLoader, FusedExpertLayoutGivesTheSameLogits) {
  namespace fs = std::filesystem;
  const std::string src = test::backbone_dir("deepseek_v3");
  const fs::path dir = fs::path(JANUS_BINARY_DIR) / "fused_experts_v3";
  fs::remove_all(dir);
  fs::create_directories(dir);
  fs::copy_file(src + "/config.json", dir / "config.json");
  auto f = llm::SafetensorsFile::open(src + "/model.safetensors");
  llm::NamedTensors out;
  std::map<std::string, std::map<int64_t, std::array<Tensor, 3>>> experts;  // layer prefix -> e -> g,u,d
  const std::string tag = ".mlp.experts.";
  for (const auto& n : f->names()) {
    const auto at = n.find(tag);
    if (at == std::string::npos) {
      out.push_back({n, f->get(n)});
      continue;
    }
    const std::string prefix = n.substr(0, at + tag.size());
    const std::string rest = n.substr(at + tag.size());  // "E.gate_proj.weight"
    const int64_t e = std::stoll(rest.substr(0, rest.find('.')));
    const int which = rest.find("gate_proj") != std::string::npos ? 0
                      : rest.find("up_proj") != std::string::npos ? 1
                                                                  : 2;
    experts[prefix][e][size_t(which)] = f->get(n);
  }
  ASSERT_FALSE(experts.empty());
  for (auto& [prefix, per] : experts) {
    const int64_t E = int64_t(per.size()), I = per[0][0].size(0), H = per[0][0].size(1);
    Tensor gu = Tensor::empty({E, 2 * I, H}, per[0][0].dtype()), dn = Tensor::empty({E, H, I}, per[0][2].dtype());
    for (int64_t e = 0; e < E; ++e) {
      gu.select(0, e).slice(0, 0, I).copy_from(per[e][0]);
      gu.select(0, e).slice(0, I, 2 * I).copy_from(per[e][1]);
      dn.select(0, e).copy_from(per[e][2]);
    }
    out.push_back({prefix + "gate_up_proj", gu});
    out.push_back({prefix + "down_proj", dn});
  }
  llm::write_safetensors((dir / "model.safetensors").string(), out);
  auto model = llm::Model::load(dir.string());
  auto exp = test::expected("deepseek_v3");
  const auto id = exp->get("input_ids").select(0, 0).to_i64_vector();
  auto cache = model->new_cache();
  Tensor logits;
  model->forward(cache, id.data(), int64_t(id.size()), {nullptr, &logits, false});
  EXPECT_LT(test::rel_max_err(logits.to_f32_vector(), exp->get("logits").select(0, 0).to_f32_vector()), kTol);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace janus
