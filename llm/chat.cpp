#include "llm/chat.h"

#include <algorithm>

#include "llm/think.h"
#include "tokenizers/stream_decoder.h"

namespace janus::llm {

TextModel TextModel::load(const std::string& dir) {
  auto model = Model::load(dir);
  auto tok = tokenizers::Tokenizer::from_dir(dir);
  if (int64_t(tok.vocab_size()) > model->config().vocab_size)
    throw kernels::Error(dir + ": tokenizer has " + std::to_string(tok.vocab_size()) +
                         " tokens but the model's vocabulary is " + std::to_string(model->config().vocab_size));
  std::optional<tokenizers::ChatTemplate> tpl;
  std::string why;
  try {
    tpl = tokenizers::ChatTemplate::for_model(dir);
  } catch (const std::exception& e) {
    why = e.what();
  }
  return TextModel(std::move(model), std::move(tok), std::move(tpl), why);
}

TextModel::TextModel(std::unique_ptr<Model> model, tokenizers::Tokenizer tok,
                     std::optional<tokenizers::ChatTemplate> tpl, std::string no_template_reason)
    : model_(std::move(model)),
      tok_(std::move(tok)),
      tpl_(std::move(tpl)),
      no_template_reason_(std::move(no_template_reason)) {}

const tokenizers::ChatTemplate& TextModel::chat_template() const {
  if (!tpl_) throw kernels::Error(no_template_reason_.empty() ? "no chat template" : no_template_reason_);
  return *tpl_;
}

TextReply TextModel::chat(const std::vector<tokenizers::ChatMessage>& messages, GenerateOptions opt,
                          const TextCallbacks& cb) const {
  const auto& tpl = chat_template();
  const std::string text = tpl.render(messages, true);
  std::vector<int64_t> prompt;
  // Every template writes BOS itself except Janus', whose prompt takes BOS in front (as
  // cmd_chat / cmd_generate do, janus.md §4.1).
  if (tpl.format() == tokenizers::ChatFormat::kJanus && tok_.bos_id() >= 0) prompt.push_back(tok_.bos_id());
  for (int32_t t : tok_.encode(text, /*add_special=*/false)) prompt.push_back(t);
  return run(prompt, tpl.generation_opens_think(), std::move(opt), cb);
}

TextReply TextModel::complete(const std::string& text, GenerateOptions opt, const TextCallbacks& cb) const {
  const auto ids = tok_.encode(text, /*add_special=*/true);
  return run(std::vector<int64_t>(ids.begin(), ids.end()), false, std::move(opt), cb);
}

TextReply TextModel::run(const std::vector<int64_t>& prompt, bool starts_in_think, GenerateOptions opt,
                         const TextCallbacks& cb) const {
  if (prompt.empty()) throw kernels::Error("empty prompt after tokenization");
  for (int64_t e : model_->config().eos_token_ids) opt.stop_tokens.push_back(e);
  if (tok_.eos_id() >= 0) opt.stop_tokens.push_back(tok_.eos_id());
  TextReply reply;
  tokenizers::StreamDecoder dec(tok_, /*skip_special=*/false);
  ThinkSplitter split(starts_in_think);
  auto deliver = [&](const ThinkSplitter::Piece& p) {
    if (!p.reasoning.empty()) {
      reply.reasoning += p.reasoning;
      if (cb.on_reasoning) cb.on_reasoning(p.reasoning);
    }
    if (!p.answer.empty()) {
      reply.answer += p.answer;
      if (cb.on_answer) cb.on_answer(p.answer);
    }
  };
  const auto stops = opt.stop_tokens;
  auto user_cb = opt.on_token;
  opt.on_token = [&](int64_t t) {
    const bool stop = std::find(stops.begin(), stops.end(), t) != stops.end();
    if (!stop) deliver(split.feed(dec.step(int32_t(t))));
    return user_cb ? user_cb(t) : true;
  };
  reply.result = generate(*model_, prompt, opt);
  deliver(split.feed(dec.flush()));
  deliver(split.finish());
  return reply;
}

}  // namespace janus::llm
