#include "llm/generate.h"

#include <algorithm>
#include <chrono>

namespace janus::llm {

using kernels::Tensor;

namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Collects emitted tokens and decides when generation ends.
struct Emitter {
  const GenerateOptions& opt;
  GenerateResult& res;
  bool done = false;

  // Returns false once generation must end.
  bool emit(int64_t tok) {
    if (done) return false;
    res.tokens.push_back(tok);
    if (opt.on_token && !opt.on_token(tok)) return finish("callback");
    if (std::find(opt.stop_tokens.begin(), opt.stop_tokens.end(), tok) != opt.stop_tokens.end())
      return finish("stop_token");
    if (int64_t(res.tokens.size()) >= opt.max_new_tokens) return finish("length");
    return true;
  }
  bool cancelled() {
    if (opt.cancel && opt.cancel->load()) return !finish("cancelled");
    return false;
  }
  bool finish(const char* why) {
    res.stop_reason = why;
    done = true;
    return false;
  }
};

const float* row(const Tensor& t, int64_t r) { return t.data<float>() + r * t.strides()[0]; }

}  // namespace

MtpDrafter::MtpDrafter(const Model& model) : model_(model), cache_(model.new_mtp_cache()) {}

int64_t MtpDrafter::observe(const Tensor& hidden, const int64_t* next_ids, int64_t n) {
  Tensor logits;
  model_.mtp_forward(cache_, hidden, next_ids, n, logits);
  return kernels::argmax(row(logits, n - 1), model_.config().vocab_size);
}

GenerateResult generate(const Model& model, const std::vector<int64_t>& prompt, const GenerateOptions& opt) {
  const auto& c = model.config();
  if (prompt.empty()) throw kernels::Error("generate: empty prompt");
  for (int64_t t : prompt)
    if (t < 0 || t >= c.vocab_size)
      throw kernels::Error("generate: prompt token " + std::to_string(t) + " outside the vocabulary [0, " +
                           std::to_string(c.vocab_size) + ")");
  const bool spec = opt.speculative_mtp || opt.drafter;
  if (opt.speculative_mtp && !opt.drafter && !model.has_mtp())
    throw kernels::Error("speculative decoding needs a model with an MTP module");
  if (spec && opt.sampling.temperature != 0.0f)
    throw kernels::Error("speculative decoding supports greedy decoding only (temperature 0)");

  GenerateResult res;
  res.prompt_tokens = int64_t(prompt.size());
  if (opt.max_new_tokens <= 0) {
    res.stop_reason = "length";
    return res;
  }
  Emitter em{opt, res};
  std::mt19937_64 rng(opt.seed);
  auto pick = [&](const float* logits) { return kernels::sample_token(logits, c.vocab_size, opt.sampling, rng); };

  KvCache cache = model.new_cache();
  const int64_t P = int64_t(prompt.size());
  double t0 = now();
  Tensor logits, hidden;
  if (em.cancelled()) return res;
  model.forward(cache, prompt.data(), P, {spec ? &hidden : nullptr, &logits, !spec});
  int64_t tok = pick(row(logits, logits.size(0) - 1));
  res.prefill_seconds = now() - t0;
  t0 = now();

  if (!spec) {
    while (em.emit(tok) && !em.cancelled()) {
      model.forward(cache, &tok, 1, {nullptr, &logits, true});
      ++res.forward_calls;
      tok = pick(row(logits, 0));
    }
    res.decode_seconds = now() - t0;
    return res;
  }

  // Speculative greedy decoding: verify [x, draft] in one forward; keep the draft if the main
  // model agrees, else drop its cache entry. The drafter sees every final (h_t, token t+1).
  std::unique_ptr<MtpDrafter> mtp;
  Drafter* drafter = opt.drafter;
  if (!drafter) drafter = (mtp = std::make_unique<MtpDrafter>(model)).get();
  std::vector<int64_t> next(prompt.begin() + 1, prompt.end());
  next.push_back(tok);
  int64_t draft = drafter->observe(hidden, next.data(), P);
  if (!em.emit(tok)) {
    res.decode_seconds = now() - t0;
    return res;
  }
  int64_t x = tok;
  while (!em.cancelled()) {
    const int64_t pair[2] = {x, draft};
    const int64_t base = cache.length;
    model.forward(cache, pair, 2, {&hidden, &logits, false});
    ++res.forward_calls;
    ++res.drafted;
    const int64_t y1 = kernels::argmax(row(logits, 0), c.vocab_size);
    std::vector<int64_t> seen;
    if (y1 == draft) {
      ++res.accepted;
      const int64_t y2 = kernels::argmax(row(logits, 1), c.vocab_size);
      if (!em.emit(y1) || !em.emit(y2)) break;
      seen = {y1, y2};
      x = y2;
    } else {
      cache.truncate(base + 1);  // drop the rejected draft
      if (!em.emit(y1)) break;
      seen = {y1};
      x = y1;
    }
    const int64_t m = int64_t(seen.size());
    draft = drafter->observe(hidden.slice(0, 0, m), seen.data(), m);
  }
  res.decode_seconds = now() - t0;
  return res;
}

}  // namespace janus::llm
