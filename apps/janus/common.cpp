#include "apps/janus/common.h"

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

#include "llm/janus_config.h"
#include "tokenizers/tokenizer.h"

namespace janus::app {

std::string default_model_dir() {
  if (const char* env = std::getenv("JANUS_MODEL"); env && *env) return env;
#ifdef JANUS_DEFAULT_MODEL
  return JANUS_DEFAULT_MODEL;
#else
  return "models/janus-shapes";
#endif
}

std::string resolve_model_dir(const std::string& given) {
  namespace fs = std::filesystem;
  const std::string dir = given.empty() ? default_model_dir() : given;
  if (!fs::is_directory(dir)) {
    if (given.empty())
      throw std::runtime_error("no --model given and the default model " + dir +
                               " is missing (the embedded models/janus-shapes, or $JANUS_MODEL when set): pass "
                               "--model DIR (an HF or Janus model folder)");
    throw std::runtime_error(dir + ": not a folder (expected an HF model folder with config.json)");
  }
  if (!fs::exists(fs::path(dir) / "config.json")) throw std::runtime_error(dir + ": missing config.json");
  return dir;
}

std::vector<int64_t> parse_token_list(const std::string& s) {
  std::vector<int64_t> out;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = s.find(',', i);
    if (j == std::string::npos) j = s.size();
    std::string item = s.substr(i, j - i);
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (item.empty() || used != item.size())
      throw std::runtime_error("--tokens: '" + item + "' is not an integer token id");
    out.push_back(v);
    i = j + 1;
  }
  if (out.empty()) throw std::runtime_error("--tokens: no token ids given");
  return out;
}

int64_t janus_bos_id(const tokenizers::Tokenizer& tok, const llm::JanusConfig& cfg) {
  if (tok.bos_id() >= 0) return tok.bos_id();
  const int32_t id = tok.token_to_id("<｜begin▁of▁sentence｜>");
  return id >= 0 ? id : cfg.text.bos_token_id;
}

}  // namespace janus::app
