#include "tokenizers/tokenizer.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "tokenizers/added_vocabulary.h"
#include "tokenizers/bpe.h"
#include "tokenizers/decoder.h"
#include "tokenizers/json_reader.h"
#include "tokenizers/normalizer.h"
#include "tokenizers/pre_tokenizer.h"
#include "tokenizers/utf8.h"

namespace janus::tokenizers {

struct Tokenizer::Impl {
  std::unique_ptr<Normalizer> normalizer;
  std::unique_ptr<PreTokenizer> pre_tokenizer;
  std::unique_ptr<BpeModel> model;
  std::unique_ptr<Decoder> decoder;
  AddedVocabulary added;
  std::vector<int32_t> post_prefix, post_suffix;  // post_processor, single sequence
  TokenizerConfig config;
  int32_t bos = -1, eos = -1, pad = -1;
  size_t vocab_size = 0;

  void encode_piece(std::string_view text, bool at_start, std::vector<int32_t>& ids) const;
};

namespace {
// Reads "bos_token"-style fields: a string, an AddedToken object {"content": ...}, or null.
std::string token_field(const nlohmann::json& cfg, const char* key) {
  auto it = cfg.find(key);
  if (it == cfg.end() || it->is_null()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object() && it->contains("content")) return it->at("content").get<std::string>();
  return {};
}

void parse_post_processor(const nlohmann::json& j, std::vector<int32_t>& prefix, std::vector<int32_t>& suffix) {
  if (j.is_null()) return;
  const std::string type = j.at("type").get<std::string>();
  if (type == "Sequence") {
    for (const auto& p : j.at("processors")) parse_post_processor(p, prefix, suffix);
  } else if (type == "TemplateProcessing") {
    const auto& specials = j.at("special_tokens");
    bool seen_a = false;
    for (const auto& item : j.at("single")) {
      if (item.contains("Sequence")) {
        seen_a = true;
        continue;
      }
      const std::string name = item.at("SpecialToken").at("id").get<std::string>();
      for (const auto& id : specials.at(name).at("ids")) (seen_a ? suffix : prefix).push_back(id.get<int32_t>());
    }
  } else if (type == "BertProcessing" || type == "RobertaProcessing") {
    prefix.push_back(j.at("cls").at(1).get<int32_t>());
    suffix.push_back(j.at("sep").at(1).get<int32_t>());
  } else if (type != "ByteLevel") {
    throw std::invalid_argument("unsupported post_processor type \"" + type + "\"");
  }
}
}  // namespace

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error(path + ": cannot read");
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) throw std::runtime_error(path + ": read error");
  return ss.str();
}

Tokenizer Tokenizer::from_file(const std::string& tokenizer_json, const std::string& config_path) {
  std::string tj = read_file(tokenizer_json);
  std::string cj = config_path.empty() ? std::string() : read_file(config_path);
  return from_json(tj, cj, tokenizer_json);
}

Tokenizer Tokenizer::from_dir(const std::string& dir) {
  std::string tj = dir + "/tokenizer.json", cj = dir + "/tokenizer_config.json";
  std::ifstream probe(cj);
  return from_file(tj, probe ? cj : std::string());
}

Tokenizer Tokenizer::from_json(std::string_view tokenizer_json, std::string_view config_json,
                               const std::string& origin) {
  auto impl = std::make_shared<Impl>();
  try {
    // Top level: every key but "model" goes through nlohmann; the model's vocab and merges
    // are read directly (they are ~99% of the file).
    nlohmann::json j = nlohmann::json::object(), model_params;
    BpeSpec spec;
    bool has_model = false;
    JsonReader r(tokenizer_json);
    if (r.peek() != '{') throw std::invalid_argument("top level is not an object");
    r.expect('{');
    std::string key;
    if (!r.consume('}')) {
      do {
        r.read_string(key);
        r.expect(':');
        if (key == "model" && r.peek() == '{') {
          spec = BpeSpec::read(r, model_params);
          has_model = true;
        } else {
          std::string_view raw = r.skip_value();
          j[key] = nlohmann::json::parse(raw.begin(), raw.end());
        }
      } while (r.consume(','));
      r.expect('}');
    }
    if (!r.at_end()) r.fail("trailing characters");
    if (!has_model) throw std::invalid_argument("no \"model\" object");
    auto get = [&](const char* key) -> const nlohmann::json& {
      static const nlohmann::json kNull;
      auto it = j.find(key);
      return it == j.end() ? kNull : *it;
    };
    impl->normalizer = make_normalizer(get("normalizer"));
    bool byte_level_last = false;
    impl->pre_tokenizer = make_pre_tokenizer(get("pre_tokenizer"), &byte_level_last);
    impl->model = std::make_unique<BpeModel>(spec, byte_level_last);
    impl->decoder = make_decoder(get("decoder"));
    const Normalizer* norm = impl->normalizer.get();
    impl->added = AddedVocabulary(get("added_tokens"), [norm](std::string& s) {
      if (norm) norm->normalize(s);
    });
    parse_post_processor(get("post_processor"), impl->post_prefix, impl->post_suffix);
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(origin + ": " + e.what());
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(origin + ": " + e.what());
  }
  impl->vocab_size = impl->model->vocab_size();
  for (const auto& t : impl->added.tokens()) impl->vocab_size = std::max(impl->vocab_size, size_t(t.id) + 1);

  if (!config_json.empty()) {
    try {
      nlohmann::json c = nlohmann::json::parse(config_json.begin(), config_json.end());
      if (!c.is_object()) throw std::invalid_argument("top level is not an object");
      TokenizerConfig& cfg = impl->config;
      cfg.bos_token = token_field(c, "bos_token");
      cfg.eos_token = token_field(c, "eos_token");
      cfg.pad_token = token_field(c, "pad_token");
      cfg.unk_token = token_field(c, "unk_token");
      if (c.contains("add_bos_token") && c["add_bos_token"].is_boolean())
        cfg.add_bos_token = c["add_bos_token"].get<bool>();
      if (c.contains("add_eos_token") && c["add_eos_token"].is_boolean())
        cfg.add_eos_token = c["add_eos_token"].get<bool>();
      if (c.contains("tokenizer_class") && c["tokenizer_class"].is_string())
        cfg.tokenizer_class = c["tokenizer_class"].get<std::string>();
      if (c.contains("chat_template")) {
        const auto& ct = c["chat_template"];
        if (ct.is_string())
          cfg.chat_template = ct.get<std::string>();
        else if (ct.is_array())
          for (const auto& t : ct)
            if (t.value("name", std::string()) == "default") cfg.chat_template = t.value("template", std::string());
      }
    } catch (const nlohmann::json::exception& e) {
      throw std::invalid_argument(origin + " (tokenizer_config.json): " + e.what());
    }
  }
  Tokenizer tok(impl);
  impl->bos = impl->config.bos_token.empty() ? -1 : tok.token_to_id(impl->config.bos_token);
  impl->eos = impl->config.eos_token.empty() ? -1 : tok.token_to_id(impl->config.eos_token);
  impl->pad = impl->config.pad_token.empty() ? -1 : tok.token_to_id(impl->config.pad_token);
  return tok;
}

void Tokenizer::Impl::encode_piece(std::string_view text, bool at_start, std::vector<int32_t>& ids) const {
  if (text.empty()) return;
  if (!pre_tokenizer) {
    model->tokenize(text, ids);
    return;
  }
  thread_local std::vector<Piece> pieces;
  thread_local PieceArena arena;
  pieces.clear();
  arena.clear();
  pieces.push_back({text, at_start});
  pre_tokenizer->split(pieces, arena);
  for (const Piece& p : pieces) model->tokenize(p.text, ids);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  encode_into(text, ids, add_special);
  return ids;
}

void Tokenizer::encode_into(std::string_view text, std::vector<int32_t>& ids, bool add_special) const {
  utf8_check(text, "encode");
  const Impl& m = *impl_;
  bool by_config = m.config.add_bos_token >= 0 || m.config.add_eos_token >= 0;
  if (add_special) {
    if (by_config) {
      if (m.config.add_bos_token == 1 && m.bos >= 0) ids.push_back(m.bos);
    } else {
      ids.insert(ids.end(), m.post_prefix.begin(), m.post_prefix.end());
    }
  }
  thread_local std::vector<TextSplit> raw, norm;
  thread_local std::string normalized;
  raw.clear();
  m.added.split(text, false, raw);
  for (const TextSplit& s : raw) {
    if (s.id >= 0) {
      ids.push_back(s.id);
      continue;
    }
    std::string_view seg = text.substr(s.begin, s.end - s.begin);
    bool at_start = s.begin == 0;
    if (m.normalizer) {
      normalized.assign(seg);
      m.normalizer->normalize(normalized);
      seg = normalized;
    }
    if (!m.added.has_normalized()) {
      m.encode_piece(seg, at_start, ids);
      continue;
    }
    norm.clear();
    m.added.split(seg, true, norm);
    for (const TextSplit& n : norm) {
      if (n.id >= 0)
        ids.push_back(n.id);
      else
        m.encode_piece(seg.substr(n.begin, n.end - n.begin), at_start && n.begin == 0, ids);
    }
  }
  if (add_special) {
    if (by_config) {
      if (m.config.add_eos_token == 1 && m.eos >= 0) ids.push_back(m.eos);
    } else {
      ids.insert(ids.end(), m.post_suffix.begin(), m.post_suffix.end());
    }
  }
}

std::vector<std::string> Tokenizer::id_to_tokens(const std::vector<int32_t>& ids, bool skip_special) const {
  const Impl& m = *impl_;
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) {
    if (const AddedToken* a = m.added.by_id(id)) {
      if (skip_special && a->special) continue;
      tokens.push_back(a->content);
    } else if (const std::string* t = m.model->id_to_token(id)) {
      tokens.push_back(*t);
    }
  }
  return tokens;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  std::vector<std::string> tokens = id_to_tokens(ids, skip_special);
  if (!impl_->decoder) {
    std::string r;
    for (size_t k = 0; k < tokens.size(); ++k) r += (k ? " " : "") + tokens[k];
    return r;
  }
  impl_->decoder->decode_chain(tokens);
  std::string r;
  for (const auto& t : tokens) r += t;
  return r;
}

int32_t Tokenizer::token_to_id(std::string_view token) const {
  int32_t id = impl_->added.token_to_id(token);
  return id >= 0 ? id : impl_->model->token_to_id(token);
}

std::string Tokenizer::id_to_token(int32_t id) const {
  if (const AddedToken* a = impl_->added.by_id(id)) return a->content;
  const std::string* t = impl_->model->id_to_token(id);
  return t ? *t : std::string();
}

bool Tokenizer::is_special(int32_t id) const {
  const AddedToken* a = impl_->added.by_id(id);
  return a && a->special;
}

int32_t Tokenizer::bos_id() const { return impl_->bos; }
int32_t Tokenizer::eos_id() const { return impl_->eos; }
int32_t Tokenizer::pad_id() const { return impl_->pad; }
size_t Tokenizer::vocab_size() const { return impl_->vocab_size; }
const TokenizerConfig& Tokenizer::config() const { return impl_->config; }

}  // namespace janus::tokenizers
