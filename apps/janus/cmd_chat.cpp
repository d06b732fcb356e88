// janus chat: ask a Janus model about images; the answer streams to stdout.
//   janus chat --model DIR --image a.png [--image b.jpg] "question"   one turn
//   janus chat --model DIR --image a.png                               interactive: one question per
//                                                                      stdin line, the conversation
//                                                                      (and the images) carry over
#include <cstdio>
#include <iostream>

#include "apps/janus/command.h"
#include "apps/janus/common.h"
#include "kernels/thread_pool.h"
#include "llm/janus_generate.h"
#include "tokenizers/chat_template.h"
#include "tokenizers/stream_decoder.h"
#include "tokenizers/tokenizer.h"
#include "vision/image.h"
#include "vision/preprocess.h"

namespace janus::app {
namespace {

using kernels::DType;
using kernels::Tensor;

// The understanding system prompt of the release (VLChatProcessor.system_prompt).
constexpr const char* kSystem =
    "You are a helpful language and vision assistant. You are able to understand the visual content that the user "
    "provides, and assist the user with a variety of tasks using natural language.";

struct ChatArgs {
  std::string model, question, system = kSystem;
  std::vector<std::string> images;
  int64_t n = 256;
  float temperature = 0.0f, top_p = 1.0f;
  int top_k = 0, threads = 0;
  uint64_t seed = 0;
};

// Loads, converts and preprocesses every image into one [B, 3, S, S] batch.
Tensor load_pixels(const std::vector<std::string>& paths, const llm::JanusConfig& c) {
  if (paths.empty()) return Tensor();
  vision::PreprocessOptions po;
  po.image_size = int(c.vision.image_size);
  // Resize rounding as the checkpoint's own pipeline: the release truncates, transformers rounds.
  po.size_rule =
      c.layout == llm::JanusLayout::kMultiModality ? vision::SizeRule::kOriginal : vision::SizeRule::kTransformers;
  const int64_t S = c.vision.image_size, B = int64_t(paths.size());
  Tensor px = Tensor::empty({B, 3, S, S}, DType::F32);
  for (int64_t b = 0; b < B; ++b) {
    Tensor one = vision::preprocess(vision::to_rgb8(vision::load_image(paths[size_t(b)])), po);
    Tensor dst = px.select(0, b);
    dst.copy_from(one);
  }
  return px;
}

int chat(const ChatArgs& a) {
  if (a.threads > 0) kernels::set_num_threads(a.threads);
  const std::string dir = resolve_model_dir(a.model);
  auto model = llm::JanusModel::load(dir);
  const auto tok = tokenizers::Tokenizer::from_dir(dir);
  auto tpl = tokenizers::ChatTemplate::from_name("janus");
  tpl.image_tokens = int(model->config().image_tokens());
  const Tensor pixels = load_pixels(a.images, model->config());
  const Tensor images = pixels.defined() ? model->image_embeds(pixels) : Tensor();  // once per conversation
  const int64_t bos = janus_bos_id(tok, model->config());

  llm::GenerateOptions opt;
  opt.max_new_tokens = a.n;
  opt.sampling = {a.temperature, a.top_k, a.top_p, 0.0f};
  opt.seed = a.seed;
  // The release's language_config often names no eos_token_id (LlamaConfig's default 2 is a plain
  // token there): the tokenizer's EOS decides, as in the reference inference code.
  const int32_t eos = tok.eos_id() >= 0 ? tok.eos_id() : tok.token_to_id("<｜end▁of▁sentence｜>");
  if (eos >= 0)
    opt.stop_tokens = {eos};
  else
    opt.stop_tokens = model->config().text.eos_token_ids;

  std::vector<tokenizers::ChatMessage> msgs;
  if (!a.system.empty()) msgs.push_back({"system", a.system});
  auto turn = [&](const std::string& question) {
    std::string content;
    if (msgs.size() <= 1)  // the images go into the first user turn
      for (size_t i = 0; i < a.images.size(); ++i) content += "<image_placeholder>\n";
    msgs.push_back({"user", content + question});
    tokenizers::ChatOptions co;
    co.expand_images = true;
    std::vector<int64_t> ids;
    if (bos >= 0) ids.push_back(bos);
    for (int32_t t : tok.encode(tpl.render(msgs, co))) ids.push_back(t);
    tokenizers::StreamDecoder dec(tok, /*skip_special=*/true);
    std::string answer;
    opt.on_token = [&](int64_t t) {
      if (std::find(opt.stop_tokens.begin(), opt.stop_tokens.end(), t) != opt.stop_tokens.end()) return true;
      const std::string s = dec.step(int32_t(t));
      answer += s;
      std::fputs(s.c_str(), stdout);
      std::fflush(stdout);
      return true;
    };
    const auto r = llm::janus_answer(*model, ids, images, opt);
    const std::string rest = dec.flush();
    answer += rest;
    std::printf("%s\n", rest.c_str());
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
  sub.add_option("--system", a->system, "system prompt (default: the Janus understanding prompt)");
  sub.add_option("-n,--max-new-tokens", a->n, "answer length limit (default 256)");
  sub.add_option("--temperature", a->temperature, "0 = greedy (default)")->check(CLI::NonNegativeNumber);
  sub.add_option("--top-k", a->top_k, "keep the k most likely tokens (0 = off)");
  sub.add_option("--top-p", a->top_p, "nucleus sampling mass (1 = off)")->check(CLI::Range(0.0, 1.0));
  sub.add_option("--seed", a->seed, "sampling seed");
  sub.add_option("--threads", a->threads, "CPU threads (default: all cores)");
  return [a] { return chat(*a); };
});

}  // namespace
}  // namespace janus::app
