// janus chat: ask a Janus model about images; the answer streams to stdout.
//   janus chat --model DIR --image a.png [--image b.jpg] "question"   one turn
//   janus chat --model DIR --image a.png                               interactive: one question per
//                                                                      stdin line, the conversation
//                                                                      (and the images) carry over
#include <algorithm>
#include <cstdio>
#include <iostream>

#include "apps/janus/command.h"
#include "apps/janus/janus_session.h"
#include "kernels/thread_pool.h"

namespace janus::app {
namespace {

using kernels::Tensor;

struct ChatArgs {
  std::string model, question, system;
  bool system_given = false;
  std::vector<std::string> images;
  int64_t n = 256;
  float temperature = 0.0f, top_p = 1.0f;
  int top_k = 0, threads = 0;
  uint64_t seed = 0;
};

int chat(const ChatArgs& a) {
  if (a.threads > 0) kernels::set_num_threads(a.threads);
  const JanusSession s(a.model);
  const Tensor pixels = s.load_pixels(a.images);
  const Tensor images = pixels.defined() ? s.model().image_embeds(pixels) : Tensor();  // once per conversation

  llm::GenerateOptions opt = s.answer_options();
  opt.max_new_tokens = a.n;
  opt.sampling = {a.temperature, a.top_k, a.top_p, 0.0f};
  opt.seed = a.seed;

  std::vector<tokenizers::ChatMessage> msgs;
  const std::string system = a.system_given ? a.system : s.system_prompt();
  if (!system.empty()) msgs.push_back({"system", system});
  auto turn = [&](const std::string& question) {
    // The images go into the first user turn.
    const bool first = std::none_of(msgs.begin(), msgs.end(), [](const auto& m) { return m.role == "user"; });
    msgs.push_back({"user", (first ? image_slots(a.images.size()) : "") + question});
    llm::GenerateResult r;
    const std::string answer = s.answer(
        s.chat_ids(msgs), images, opt,
        [](const std::string& piece) {
          std::fputs(piece.c_str(), stdout);
          std::fflush(stdout);
        },
        &r);
    std::printf("\n");
    std::fflush(stdout);
    std::fprintf(stderr, "prompt %lld tokens: %.2fs | %zu tokens: %.1f tok/s | stop: %s\n", (long long)r.prompt_tokens,
                 r.prefill_seconds, r.tokens.size(), r.tokens.size() / std::max(1e-9, r.decode_seconds),
                 r.stop_reason.c_str());
    msgs.push_back({"assistant", answer});
  };
  if (!a.question.empty()) {
    turn(a.question);
    return 0;
  }
  std::string line;
  std::fprintf(stderr, "interactive chat: one question per line, end with Ctrl-D\n");
  while (std::fputs("> ", stderr), std::getline(std::cin, line)) {
    if (line.empty()) continue;
    turn(line);
  }
  return 0;
}

Registrar reg("chat", "Ask a Janus model about images (streaming; interactive without a question)", [](CLI::App& sub) {
  auto a = std::make_shared<ChatArgs>();
  sub.add_option("--model", a->model, "Janus model folder (default: the embedded model)");
  sub.add_option("--image", a->images, "image file (repeatable; PNG, JPEG, BMP, GIF, WebP)");
  sub.add_option("question", a->question, "the question (omit for an interactive session)");
  sub.add_option("--system", a->system,
                 "system prompt (default: the model's processor_config.json system_prompt, else the Janus "
                 "understanding prompt)")
      ->each([a](const std::string&) { a->system_given = true; });
  sub.add_option("-n,--max-new-tokens", a->n, "answer length limit (default 256)");
  sub.add_option("--temperature", a->temperature, "0 = greedy (default)")->check(kNonNegative);
  sub.add_option("--top-k", a->top_k, "keep the k most likely tokens (0 = off)");
  sub.add_option("--top-p", a->top_p, "nucleus sampling mass (1 = off)")->check(CLI::Range(0.0, 1.0));
  sub.add_option("--seed", a->seed, "sampling seed");
  sub.add_option("--threads", a->threads, "CPU threads (default: all cores)");
  return [a] { return chat(*a); };
});

}  // namespace
}  // namespace janus::app
