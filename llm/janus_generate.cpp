#include "llm/janus_generate.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <random>

namespace janus::llm {

using kernels::DType;
using kernels::Error;
using kernels::Tensor;

namespace {
double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
}  // namespace

std::vector<int64_t> unconditional_prompt(const std::vector<int64_t>& prompt, int64_t pad_id) {
  std::vector<int64_t> u = prompt;
  for (size_t i = 1; i + 1 < u.size(); ++i) u[i] = pad_id;
  return u;
}

ImageGenResult generate_images(const JanusModel& model, const std::vector<int64_t>& prompt, int64_t pad_id,
                               const ImageGenOptions& opt) {
  const Model& lm = model.language_model();
  const JanusConfig& c = model.config();
  const int64_t P = opt.num_images, n = c.gen_image_tokens(), K = c.gen_head.num_codes;
  if (prompt.empty()) throw Error("generate_images: empty prompt");
  if (P < 1) throw Error("generate_images: num_images must be >= 1");
  for (int64_t t : prompt)
    if (t < 0 || t >= c.text.vocab_size)
      throw Error("generate_images: prompt id " + std::to_string(t) + " out of range");
  if (!opt.conditional_only && (pad_id < 0 || pad_id >= c.text.vocab_size))
    throw Error("generate_images: pad id " + std::to_string(pad_id) + " out of range (needed for CFG)");
  if (!opt.forced_codes.empty()) {
    if (int64_t(opt.forced_codes.size()) != P) throw Error("generate_images: forced_codes needs one row per image");
    for (const auto& r : opt.forced_codes)
      if (int64_t(r.size()) != n)
        throw Error("generate_images: forced_codes rows need " + std::to_string(n) + " codes");
  }
  const int64_t R = opt.conditional_only ? 1 : 2;  // rows per image: cond [, uncond]
  ImageGenResult res;
  double t0 = now();
  // Every row is a sequence with its own cache, run together (Model::forward_embeds_batch: each
  // weight read once per step for all rows). hidden[p * R + r]: the row's last final-norm state.
  std::vector<KvCache> caches;
  for (int64_t i = 0; i < P * R; ++i) caches.push_back(lm.new_cache());
  std::vector<KvCache*> cache_ptrs;
  for (auto& c : caches) cache_ptrs.push_back(&c);
  const std::vector<int64_t> uncond = unconditional_prompt(prompt, pad_id);
  const int64_t T = int64_t(prompt.size());
  Tensor hidden;
  {
    std::vector<int64_t> ids;
    for (int64_t p = 0; p < P; ++p)
      for (int64_t r = 0; r < R; ++r) {
        const std::vector<int64_t>& row = r == 0 ? prompt : uncond;
        ids.insert(ids.end(), row.begin(), row.end());
      }
    ForwardOutput out;
    out.hidden = &hidden;
    out.last_only = true;
    lm.forward_embeds_batch(cache_ptrs, lm.embed(ids.data(), int64_t(ids.size())),
                            std::vector<int64_t>(size_t(P * R), T), out);
  }
  res.prefill_seconds = now() - t0;
  t0 = now();
  std::mt19937_64 rng(opt.seed);
  std::vector<int64_t> codes(static_cast<size_t>(P * n));
  std::vector<float> mixed(static_cast<size_t>(K));
  for (int64_t i = 0; i < n; ++i) {
    if (opt.cancel && opt.cancel->load()) {
      res.cancelled = true;
      break;
    }
    const Tensor logits = model.gen_logits(hidden);  // [P·R, K]
    std::vector<int64_t> step(static_cast<size_t>(P));
    for (int64_t p = 0; p < P; ++p) {
      const float* lc = logits.data<float>() + (p * R) * K;
      const float* l = lc;
      if (R == 2) {
        const float* lu = lc + K;
        for (int64_t k = 0; k < K; ++k) mixed[size_t(k)] = lu[k] + opt.cfg_weight * (lc[k] - lu[k]);
        l = mixed.data();
      }
      int64_t code = kernels::sample_token(l, K, opt.sampling, rng);
      if (!opt.forced_codes.empty()) code = opt.forced_codes[size_t(p)][size_t(i)];
      step[size_t(p)] = code;
      codes[size_t(p * n + i)] = code;
    }
    if (opt.on_progress) opt.on_progress(i + 1, n);
    if (i + 1 == n) break;     // the last code is not fed back
    std::vector<int64_t> fed;  // each image's code, once per row of the image
    for (int64_t p = 0; p < P; ++p) fed.insert(fed.end(), size_t(R), step[size_t(p)]);
    ForwardOutput out;
    out.hidden = &hidden;
    lm.forward_embeds_batch(cache_ptrs, model.gen_embeds(Tensor::from_i64({P * R}, fed)),
                            std::vector<int64_t>(size_t(P * R), 1), out);
  }
  res.sample_seconds = now() - t0;
  res.codes = Tensor::from_i64({P, n}, codes);
  if (opt.decode && !res.cancelled) {
    t0 = now();
    res.images = model.decode_images(res.codes, opt.decode_chunk);
    res.decode_seconds = now() - t0;
  }
  return res;
}

GenerateResult janus_answer(const JanusModel& model, const std::vector<int64_t>& prompt, const Tensor& images,
                            const GenerateOptions& opt) {
  const Model& lm = model.language_model();
  const int64_t V = lm.config().vocab_size;
  if (prompt.empty()) throw Error("janus_answer: empty prompt");
  for (int64_t t : prompt)
    if (t < 0 || t >= V) throw Error("janus_answer: prompt id " + std::to_string(t) + " out of range");
  if (opt.speculative_mtp || opt.drafter) throw Error("janus_answer: speculative decoding is not supported");
  GenerateResult res;
  res.prompt_tokens = int64_t(prompt.size());
  std::mt19937_64 rng(opt.seed);
  double t0 = now();
  KvCache cache = lm.new_cache();
  Tensor logits;
  ForwardOutput out;
  out.logits = &logits;
  out.last_only = true;
  if (opt.cancel && opt.cancel->load()) {
    res.stop_reason = "cancelled";
    return res;
  }
  lm.forward_embeds(cache, model.splice(prompt.data(), int64_t(prompt.size()), images), out);
  res.prefill_seconds = now() - t0;
  t0 = now();
  while (int64_t(res.tokens.size()) < opt.max_new_tokens) {
    const int64_t tok = kernels::sample_token(logits.data<float>(), V, opt.sampling, rng);
    res.tokens.push_back(tok);
    if (opt.on_token && !opt.on_token(tok)) {
      res.stop_reason = "callback";
      break;
    }
    if (std::find(opt.stop_tokens.begin(), opt.stop_tokens.end(), tok) != opt.stop_tokens.end()) {
      res.stop_reason = "stop_token";
      break;
    }
    if (int64_t(res.tokens.size()) >= opt.max_new_tokens) break;
    if (opt.cancel && opt.cancel->load()) {
      res.stop_reason = "cancelled";
      break;
    }
    lm.forward(cache, &tok, 1, out);
    ++res.forward_calls;
  }
  if (res.stop_reason.empty()) res.stop_reason = "length";
  res.decode_seconds = now() - t0;
  return res;
}

}  // namespace janus::llm
