// janus run: generate a continuation of a prompt (token ids) with any supported model.
#include <cstdio>
#include <thread>

#include "apps/janus/command.h"
#include "apps/janus/common.h"
#include "kernels/thread_pool.h"
#include "llm/generate.h"

namespace janus::app {
namespace {

struct RunArgs {
  std::string model, tokens;
  int64_t n = 32;
  float temperature = 0.0f, top_p = 1.0f, min_p = 0.0f;
  int top_k = 0, threads = 0;
  uint64_t seed = 0;
  bool speculative = false, ignore_eos = false;
};

int run(const RunArgs& a) {
  if (a.threads > 0) kernels::set_num_threads(a.threads);
  if (a.tokens.empty()) throw std::runtime_error("give the prompt as --tokens 1,2,3");
  const auto prompt = parse_token_list(a.tokens);
  auto model = llm::Model::load(resolve_model_dir(a.model));
  llm::GenerateOptions opt;
  opt.max_new_tokens = a.n;
  opt.sampling = {a.temperature, a.top_k, a.top_p, a.min_p};
  opt.seed = a.seed;
  opt.speculative_mtp = a.speculative;
  if (!a.ignore_eos) opt.stop_tokens = model->config().eos_token_ids;
  bool first = true;
  opt.on_token = [&](int64_t t) {
    std::printf(first ? "%lld" : ",%lld", (long long)t);
    std::fflush(stdout);
    first = false;
    return true;
  };
  const auto r = llm::generate(*model, prompt, opt);
  std::printf("\n");
  std::fflush(stdout);
  std::fprintf(stderr, "prompt %lld tokens: %.1f tok/s | generated %zu tokens: %.1f tok/s | stop: %s",
               (long long)r.prompt_tokens, r.prompt_tokens / std::max(1e-9, r.prefill_seconds), r.tokens.size(),
               r.tokens.size() > 1 ? double(r.tokens.size() - 1) / std::max(1e-9, r.decode_seconds) : 0.0,
               r.stop_reason.c_str());
  if (a.speculative)
    std::fprintf(stderr, " | MTP drafts accepted %lld/%lld (%.0f%%)", (long long)r.accepted, (long long)r.drafted,
                 r.drafted ? 100.0 * r.accepted / r.drafted : 0.0);
  std::fprintf(stderr, "\n");
  return 0;
}

Registrar reg("run", "Generate a continuation of a prompt with a language model", [](CLI::App& sub) {
  auto a = std::make_shared<RunArgs>();
  sub.add_option("--model", a->model, "HF model folder (default: the embedded model)");
  sub.add_option("--tokens", a->tokens, "prompt as comma-separated token ids");
  sub.add_option("-n,--max-new-tokens", a->n, "tokens to generate")->check(CLI::NonNegativeNumber);
  sub.add_option("--temperature", a->temperature, "0 = greedy")->check(CLI::NonNegativeNumber);
  sub.add_option("--top-k", a->top_k, "keep the k most likely tokens (0 = off)")->check(CLI::NonNegativeNumber);
  sub.add_option("--top-p", a->top_p, "nucleus sampling mass (1 = off)")->check(CLI::Range(0.0, 1.0));
  sub.add_option("--min-p", a->min_p, "drop tokens below min_p x p_max (0 = off)")->check(CLI::Range(0.0, 1.0));
  sub.add_option("--seed", a->seed, "sampling seed");
  sub.add_option("--threads", a->threads, "CPU threads (default: all cores)");
  sub.add_flag("--speculative", a->speculative, "MTP speculative decoding (greedy; DeepSeek-V3 models with MTP)");
  sub.add_flag("--ignore-eos", a->ignore_eos, "do not stop at the model's EOS tokens");
  return [a] { return run(*a); };
});

}  // namespace
}  // namespace janus::app
