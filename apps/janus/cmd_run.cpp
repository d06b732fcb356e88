// janus run: generate a continuation of a prompt (token ids, raw text or a chat message) with any
// supported language model; a Janus folder runs its language model text-only (llm/model.h).
#include <cstdio>
#include <thread>

#include <unistd.h>
#include "apps/janus/command.h"
#include "apps/janus/common.h"
#include "kernels/thread_pool.h"

#include "llm/chat.h"
#include "llm/generate.h"

namespace janus::app {
namespace {

struct RunArgs {
  std::string model, tokens, prompt, chat, system, chat_template;
  int64_t n = 32;
  float temperature = 0.0f, top_p = 1.0f, min_p = 0.0f;
  int top_k = 0, threads = 0;
  uint64_t seed = 0;
  bool speculative = false, ignore_eos = false;
};

void print_stats(const llm::GenerateResult& r, bool speculative) {
  std::fprintf(stderr, "prompt %lld tokens: %.1f tok/s | generated %zu tokens: %.1f tok/s | stop: %s",
               (long long)r.prompt_tokens, r.prompt_tokens / std::max(1e-9, r.prefill_seconds), r.tokens.size(),
               r.tokens.size() > 1 ? double(r.tokens.size() - 1) / std::max(1e-9, r.decode_seconds) : 0.0,
               r.stop_reason.c_str());
  if (speculative)
    std::fprintf(stderr, " | MTP drafts accepted %lld/%lld (%.0f%%)", (long long)r.accepted, (long long)r.drafted,
                 r.drafted ? 100.0 * r.accepted / r.drafted : 0.0);
  std::fprintf(stderr, "\n");
}

llm::GenerateOptions options(const RunArgs& a) {
  llm::GenerateOptions opt;
  opt.max_new_tokens = a.n;
  opt.sampling = {a.temperature, a.top_k, a.top_p, a.min_p};
  opt.seed = a.seed;
  opt.speculative_mtp = a.speculative;
  return opt;
}

// Text prompt: the answer streams to stdout, the R1 reasoning to stderr (dimmed on a terminal).
int run_text(const RunArgs& a) {
  auto tm = llm::TextModel::load(resolve_model_dir(a.model));
  if (!a.chat_template.empty()) tm.set_chat_template(tokenizers::ChatTemplate::from_name(a.chat_template));
  llm::GenerateOptions opt = options(a);
  const bool tty = isatty(2);
  llm::TextCallbacks cb;
  cb.on_reasoning = [tty](const std::string& s) {
    std::fprintf(stderr, tty ? "\033[2m%s\033[0m" : "%s", s.c_str());
    std::fflush(stderr);
  };
  cb.on_answer = [](const std::string& s) {
    std::fputs(s.c_str(), stdout);
    std::fflush(stdout);
  };
  llm::TextReply r;
  if (!a.chat.empty()) {
    std::vector<tokenizers::ChatMessage> msgs;
    if (!a.system.empty()) msgs.push_back({"system", a.system});
    msgs.push_back({"user", a.chat});
    r = tm.chat(msgs, opt, cb);
  } else {
    r = tm.complete(a.prompt, opt, cb);
  }
  std::printf("\n");
  std::fflush(stdout);
  print_stats(r.result, a.speculative);
  return 0;
}

int run(const RunArgs& a) {
  if (a.threads > 0) kernels::set_num_threads(a.threads);
  const int given = !a.tokens.empty() + !a.prompt.empty() + !a.chat.empty();
  if (given != 1) throw std::runtime_error("give exactly one of --tokens 1,2,3, --prompt TEXT or --chat MESSAGE");
  if (a.tokens.empty()) return run_text(a);
  const auto prompt = parse_token_list(a.tokens);
  auto model = llm::Model::load(resolve_model_dir(a.model));
  llm::GenerateOptions opt = options(a);
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
  print_stats(r, a.speculative);
  return 0;
}

Registrar reg("run", "Generate a continuation of a prompt with a language model", [](CLI::App& sub) {
  auto a = std::make_shared<RunArgs>();
  sub.add_option("--model", a->model, "HF or Janus model folder (default: the embedded model)");
  sub.add_option("--tokens", a->tokens, "prompt as comma-separated token ids");
  sub.add_option("--prompt", a->prompt, "raw text prompt to continue (needs tokenizer.json)");
  sub.add_option("--chat", a->chat, "a user message, rendered with the model's chat template");
  sub.add_option("--system", a->system, "system prompt for --chat");
  sub.add_option("--chat-template", a->chat_template,
                 "override the template: deepseek-v3, deepseek-r1, qwen2.5, qwen3, llama3, janus");
  sub.add_option("-n,--max-new-tokens", a->n, "tokens to generate")->check(kNonNegative);
  sub.add_option("--temperature", a->temperature, "0 = greedy")->check(kNonNegative);
  sub.add_option("--top-k", a->top_k, "keep the k most likely tokens (0 = off)")->check(kNonNegative);
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
