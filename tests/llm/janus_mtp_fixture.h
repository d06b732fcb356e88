// A Janus folder whose DeepSeek-V3 language model has an MTP module, for speculative-decoding
// tests: tests/fixtures/janus/r1 (transformers drops MTP weights, so its checkpoint has none although
// text_config says num_nextn_predict_layers = 1) plus an MTP layer at
// model.language_model.layers.<L>.* (L = num_hidden_layers = 2): the decoder layer is a copy of
// layer L-1, enorm / hnorm / eh_proj / shared_head.norm are seeded random; embedding and head are
// shared with the main model. Drafts are poor, which is fine: speculative output must equal greedy.
#pragma once
#include <filesystem>
#include <random>
#include <string>

#include "llm/safetensors.h"

namespace janus::test {

// Writes the folder at `dir` (replacing it) and returns it.
inline std::filesystem::path make_janus_mtp_folder(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  using kernels::Tensor;
  const std::string src = std::string(JANUS_FIXTURES) + "/janus/r1/";
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const char* f : {"config.json", "tokenizer.json", "tokenizer_config.json"}) fs::copy_file(src + f, dir / f);
  const int64_t H = 64;  // r1 text_config.hidden_size
  const std::string from = "model.language_model.layers.1.", to = "model.language_model.layers.2.";
  std::mt19937 rng(11);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  auto rnd = [&](kernels::Shape s, float mean, float std) {
    Tensor t = Tensor::empty(s, kernels::DType::F32);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = mean + std * nd(rng);
    return t;
  };
  auto f = llm::SafetensorsFile::open(src + "model.safetensors");
  llm::NamedTensors w;
  for (const auto& n : f->names()) {
    w.push_back({n, f->get(n).clone()});
    if (n.rfind(from, 0) == 0) w.push_back({to + n.substr(from.size()), f->get(n).clone()});
  }
  w.push_back({to + "enorm.weight", rnd({H}, 1.0f, 0.1f)});
  w.push_back({to + "hnorm.weight", rnd({H}, 1.0f, 0.1f)});
  w.push_back({to + "eh_proj.weight", rnd({H, 2 * H}, 0.0f, 0.1f)});
  w.push_back({to + "shared_head.norm.weight", rnd({H}, 1.0f, 0.1f)});
  llm::write_safetensors((dir / "model.safetensors").string(), w);
  return dir;
}

}  // namespace janus::test
