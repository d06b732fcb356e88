#include "apps/janus/janus_session.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "apps/janus/common.h"
#include "llm/janus_generate.h"
#include "tokenizers/stream_decoder.h"
#include "train/atomic_file.h"
#include "train/json_file.h"
#include "vision/image.h"
#include "vision/preprocess.h"

namespace janus::app {

using kernels::DType;
using kernels::Tensor;

std::string image_slots(size_t n_images) {
  std::string s;
  for (size_t i = 0; i < n_images; ++i) s += "<image_placeholder>\n";
  return s;
}

JanusSession::JanusSession(const std::string& model_arg)
    : dir_(resolve_model_dir(model_arg)),
      model_(llm::JanusModel::load(dir_)),
      tok_(tokenizers::Tokenizer::from_dir(dir_)),
      tpl_(tokenizers::ChatTemplate::from_name("janus")) {
  tpl_.image_tokens = int(model_->config().image_tokens());
  bos_ = janus_bos_id(tok_, model_->config());
  const int32_t eos = tok_.eos_id() >= 0 ? tok_.eos_id() : tok_.token_to_id("<｜end▁of▁sentence｜>");
  if (eos >= 0)
    stop_ = {eos};
  else
    stop_ = model_->config().text.eos_token_ids;
  const std::string pc = dir_ + "/processor_config.json";
  if (std::filesystem::exists(pc)) {
    const nlohmann::json j = train::read_json_file(pc);
    if (j.is_object() && j.contains("system_prompt")) {
      if (!j["system_prompt"].is_string()) throw std::runtime_error(pc + ": system_prompt: expected a string");
      system_ = j["system_prompt"].get<std::string>();
    }
  }
  sampling_ = read_image_sampling(dir_ + "/generation_config.json");
}

ImageSampling read_image_sampling(const std::string& path) {
  ImageSampling s;
  if (!std::filesystem::exists(path)) return s;
  const nlohmann::json j = train::read_json_file(path);
  if (!j.is_object() || !j.contains("image_generation")) return s;
  const nlohmann::json& g = j["image_generation"];
  if (!g.is_object()) throw std::runtime_error(path + ": image_generation: expected an object");
  for (const auto& [key, v] : g.items()) {
    float* dst = key == "cfg" ? &s.cfg : key == "temperature" ? &s.temperature : nullptr;
    if (!dst) throw std::runtime_error(path + ": image_generation." + key + ": unknown key (cfg, temperature)");
    if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 0.0)
      throw std::runtime_error(path + ": image_generation." + key + ": expected a non-negative number");
    *dst = v.get<float>();
  }
  s.source = path;
  return s;
}

ImageSampling JanusSession::image_sampling(std::optional<float> cfg, std::optional<float> temperature) const {
  ImageSampling s = sampling_;
  if (cfg) s.cfg = *cfg;
  if (temperature) s.temperature = *temperature;
  if (cfg && temperature)
    s.source = "command line";
  else if (cfg || temperature)
    s.source += std::string(", ") + (cfg ? "cfg" : "temperature") + " from the command line";
  return s;
}

Tensor JanusSession::load_pixels(const std::vector<std::string>& paths) const {
  if (paths.empty()) return Tensor();
  const llm::JanusConfig& c = model_->config();
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

std::vector<int64_t> JanusSession::chat_ids(const std::vector<tokenizers::ChatMessage>& messages) const {
  tokenizers::ChatOptions co;
  co.expand_images = true;
  std::vector<int64_t> ids;
  if (bos_ >= 0) ids.push_back(bos_);
  for (int32_t t : tok_.encode(tpl_.render(messages, co))) ids.push_back(t);
  return ids;
}

std::vector<int64_t> JanusSession::t2i_ids(const std::string& prompt) const {
  const std::string text = tpl_.render({{"user", prompt}}, true) + "<begin_of_image>";
  std::vector<int64_t> ids;
  if (bos_ >= 0) ids.push_back(bos_);
  for (int32_t t : tok_.encode(text)) ids.push_back(t);
  return ids;
}

int64_t JanusSession::pad_id() const {
  const int32_t id = tok_.token_to_id("<｜▁pad▁｜>");
  if (id < 0) throw std::runtime_error(dir_ + ": the tokenizer has no '<｜▁pad▁｜>' token (is this a Janus model?)");
  return id;
}

llm::GenerateOptions JanusSession::answer_options() const {
  llm::GenerateOptions opt;
  opt.stop_tokens = stop_;
  return opt;
}

std::string JanusSession::answer(const std::vector<int64_t>& ids, const Tensor& images, llm::GenerateOptions opt,
                                 const std::function<void(const std::string&)>& on_text,
                                 llm::GenerateResult* result) const {
  tokenizers::StreamDecoder dec(tok_, /*skip_special=*/true);
  std::string text;
  auto emit = [&](const std::string& s) {
    text += s;
    if (on_text && !s.empty()) on_text(s);
  };
  const auto user_on_token = opt.on_token;
  opt.on_token = [&](int64_t t) {
    if (std::find(opt.stop_tokens.begin(), opt.stop_tokens.end(), t) == opt.stop_tokens.end())
      emit(dec.step(int32_t(t)));
    return user_on_token ? user_on_token(t) : true;
  };
  llm::GenerateResult r = llm::janus_answer(*model_, ids, images, opt);
  emit(dec.flush());
  if (result) *result = std::move(r);
  return text;
}

}  // namespace janus::app
