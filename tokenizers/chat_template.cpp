#include "tokenizers/chat_template.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "tokenizers/tokenizer.h"
#include "tokenizers/unicode.h"
#include "tokenizers/utf8.h"

namespace janus::tokenizers {
namespace {
const char* const kEos = "<｜end▁of▁sentence｜>";

bool contains(const std::string& s, const char* needle) { return s.find(needle) != std::string::npos; }

// Python str.isspace: White_Space plus the information separators U+001C..U+001F.
bool py_space(uint32_t c) { return unicode_is_whitespace(c) || (c >= 0x1C && c <= 0x1F); }

// Python str.strip() / lstrip() / rstrip() without arguments.
std::string py_strip(const std::string& s, bool left = true, bool right = true) {
  size_t b = 0, e = s.size();
  if (left)
    while (b < e) {
      size_t j = b;
      if (!py_space(utf8_next(s, j))) break;
      b = j;
    }
  if (right)
    while (e > b) {
      size_t j = e - 1;
      while (j > b && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80) --j;
      size_t k = j;
      if (!py_space(utf8_next(s, k))) break;
      e = j;
    }
  return s.substr(b, e - b);
}

// Python str.strip('\n') family.
std::string strip_nl(const std::string& s, bool left, bool right) {
  size_t b = 0, e = s.size();
  if (left)
    while (b < e && s[b] == '\n') ++b;
  if (right)
    while (e > b && s[e - 1] == '\n') --e;
  return s.substr(b, e - b);
}

// Python s.split(sep)[-1] and s.split(sep)[0].
std::string after_last(const std::string& s, const std::string& sep) {
  size_t p = s.rfind(sep);
  return p == std::string::npos ? s : s.substr(p + sep.size());
}
std::string before_first(const std::string& s, const std::string& sep) {
  size_t p = s.find(sep);
  return p == std::string::npos ? s : s.substr(0, p);
}

void check_roles(const std::vector<ChatMessage>& messages) {
  for (const auto& m : messages)
    if (m.role != "system" && m.role != "user" && m.role != "assistant")
      throw std::invalid_argument("chat template: unsupported role \"" + m.role + "\" (system, user, assistant)");
}

std::string render_deepseek(const std::vector<ChatMessage>& msgs, bool gen, bool r1, const std::string& bos) {
  std::string sys;
  bool first_sp = true;
  for (const auto& m : msgs)
    if (m.role == "system") {
      sys += first_sp ? m.content : "\n\n" + m.content;
      first_sp = false;
    }
  std::string out = bos + sys;
  for (const auto& m : msgs) {
    if (m.role == "user")
      out += "<｜User｜>" + m.content;
    else if (m.role == "assistant")
      out += "<｜Assistant｜>" + (r1 ? after_last(m.content, "</think>") : m.content) + kEos;
  }
  if (gen) out += r1 ? "<｜Assistant｜><think>\n" : "<｜Assistant｜>";
  return out;
}

std::string render_qwen25(const std::vector<ChatMessage>& msgs, bool gen) {
  std::string out;
  if (!msgs.empty() && msgs[0].role == "system")
    out += "<|im_start|>system\n" + msgs[0].content + "<|im_end|>\n";
  else
    out += "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n";
  for (size_t i = 0; i < msgs.size(); ++i) {
    if (msgs[i].role == "system" && i == 0) continue;
    out += "<|im_start|>" + msgs[i].role + "\n" + msgs[i].content + "<|im_end|>\n";
  }
  if (gen) out += "<|im_start|>assistant\n";
  return out;
}

std::string render_qwen3(const std::vector<ChatMessage>& msgs, const ChatOptions& opt) {
  std::string out;
  if (!msgs.empty() && msgs[0].role == "system") out += "<|im_start|>system\n" + msgs[0].content + "<|im_end|>\n";
  // The last user turn that is not a tool response.
  size_t last_query = msgs.empty() ? 0 : msgs.size() - 1;
  for (size_t k = msgs.size(); k-- > 0;) {
    const std::string& c = msgs[k].content;
    bool tool_resp =
        c.rfind("<tool_response>", 0) == 0 && c.size() >= 16 && c.compare(c.size() - 16, 16, "</tool_response>") == 0;
    if (msgs[k].role == "user" && !tool_resp) {
      last_query = k;
      break;
    }
  }
  for (size_t i = 0; i < msgs.size(); ++i) {
    const ChatMessage& m = msgs[i];
    if (m.role == "user" || (m.role == "system" && i != 0)) {
      out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
    } else if (m.role == "assistant") {
      std::string content = m.content, reasoning;
      if (contains(m.content, "</think>")) {
        content = strip_nl(after_last(m.content, "</think>"), true, false);
        reasoning =
            strip_nl(after_last(strip_nl(before_first(m.content, "</think>"), false, true), "<think>"), true, false);
      }
      bool last = i + 1 == msgs.size();
      if (i > last_query && (last || !reasoning.empty()))
        out += "<|im_start|>assistant\n<think>\n" + strip_nl(reasoning, true, true) + "\n</think>\n\n" +
               strip_nl(content, true, false);
      else
        out += "<|im_start|>assistant\n" + content;
      out += "<|im_end|>\n";
    }
  }
  if (opt.add_generation_prompt) {
    out += "<|im_start|>assistant\n";
    if (opt.enable_thinking == 0) out += "<think>\n\n</think>\n\n";
  }
  return out;
}

std::string render_llama3(const std::vector<ChatMessage>& msgs, bool gen, const std::string& bos) {
  std::string out;
  for (size_t i = 0; i < msgs.size(); ++i) {
    if (i == 0) out += bos;
    out += "<|start_header_id|>" + msgs[i].role + "<|end_header_id|>\n\n" + py_strip(msgs[i].content) + "<|eot_id|>";
  }
  if (gen) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

std::string render_llama31(const std::vector<ChatMessage>& msgs, bool gen, const std::string& bos) {
  size_t first = 0;
  std::string sys;
  if (!msgs.empty() && msgs[0].role == "system") {
    sys = py_strip(msgs[0].content);
    first = 1;
  }
  std::string out = bos +
                    "<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
                    "Today Date: 26 Jul 2024\n\n" +
                    sys + "<|eot_id|>";
  for (size_t i = first; i < msgs.size(); ++i)
    out += "<|start_header_id|>" + msgs[i].role + "<|end_header_id|>\n\n" + py_strip(msgs[i].content) + "<|eot_id|>";
  if (gen) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

std::string render_janus(const std::vector<ChatMessage>& msgs, bool gen) {
  std::string sys;
  std::vector<std::pair<std::string, std::string>> conv;
  for (const auto& m : msgs) {
    if (m.role == "system")
      sys = m.content;
    else
      conv.emplace_back(m.role == "user" ? "<|User|>" : "<|Assistant|>", py_strip(m.content));
  }
  if (gen) conv.emplace_back("<|Assistant|>", "");
  const char* seps[2] = {"\n\n", kEos};
  std::string out = sys.empty() ? std::string() : sys + seps[0];
  for (size_t i = 0; i < conv.size(); ++i) {
    if (!conv[i].second.empty())
      out += conv[i].first + ": " + conv[i].second + seps[i % 2];
    else
      out += conv[i].first + ":";
  }
  return py_strip(out);
}

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return {};
  return std::string(std::istreambuf_iterator<char>(f), {});
}
}  // namespace

ChatTemplate ChatTemplate::from_name(const std::string& name, const std::string& bos) {
  if (name == "deepseek-v3")
    return ChatTemplate(ChatFormat::kDeepSeekV3, name, bos.empty() ? "<｜begin▁of▁sentence｜>" : bos);
  if (name == "deepseek-r1")
    return ChatTemplate(ChatFormat::kDeepSeekR1, name, bos.empty() ? "<｜begin▁of▁sentence｜>" : bos);
  if (name == "qwen2.5") return ChatTemplate(ChatFormat::kQwen25, name, bos);
  if (name == "qwen3") return ChatTemplate(ChatFormat::kQwen3, name, bos);
  if (name == "llama3") return ChatTemplate(ChatFormat::kLlama3, name, bos.empty() ? "<|begin_of_text|>" : bos);
  if (name == "llama3.1") return ChatTemplate(ChatFormat::kLlama31, name, bos.empty() ? "<|begin_of_text|>" : bos);
  if (name == "janus") return ChatTemplate(ChatFormat::kJanus, name, bos);
  throw std::invalid_argument("unknown chat template \"" + name +
                              "\" (deepseek-v3, deepseek-r1, qwen2.5, qwen3, llama3, llama3.1, janus)");
}

ChatTemplate ChatTemplate::from_config(const TokenizerConfig& cfg, const std::string& model_type) {
  const std::string& t = cfg.chat_template;
  if (model_type == "multi_modality" || model_type == "janus") return from_name("janus", cfg.bos_token);
  if (contains(t, "<｜Assistant｜>"))
    return from_name(contains(t, "<｜Assistant｜><think>") ? "deepseek-r1" : "deepseek-v3", cfg.bos_token);
  if (contains(t, "<|start_header_id|>"))
    return from_name(contains(t, "Cutting Knowledge Date") ? "llama3.1" : "llama3", cfg.bos_token);
  if (contains(t, "<|im_start|>"))
    return from_name(contains(t, "<think>") || contains(t, "enable_thinking") ? "qwen3" : "qwen2.5", cfg.bos_token);
  throw std::invalid_argument(
      "chat template not recognised" + std::string(t.empty() ? " (tokenizer_config.json has none)" : "") +
      "; choose one by name (deepseek-v3, deepseek-r1, qwen2.5, qwen3, llama3, llama3.1, janus)");
}

ChatTemplate ChatTemplate::for_model(const std::string& dir) {
  std::string model_type;
  std::string cfg_text = read_text(dir + "/config.json");
  if (!cfg_text.empty()) {
    nlohmann::json c = nlohmann::json::parse(cfg_text, nullptr, /*allow_exceptions=*/false);
    if (c.is_object() && c.contains("model_type") && c["model_type"].is_string())
      model_type = c["model_type"].get<std::string>();
  }
  std::string proc = read_text(dir + "/processor_config.json");
  if (!proc.empty() && contains(proc, "VLChatProcessor")) model_type = "multi_modality";
  TokenizerConfig tc;
  std::string tok_cfg = read_text(dir + "/tokenizer_config.json");
  if (!tok_cfg.empty()) {
    // Reuse the Tokenizer's parser for the config fields (the tokenizer.json itself is not needed).
    nlohmann::json c = nlohmann::json::parse(tok_cfg, nullptr, false);
    if (c.is_object()) {
      if (c.contains("chat_template") && c["chat_template"].is_string())
        tc.chat_template = c["chat_template"].get<std::string>();
      else if (c.contains("chat_template") && c["chat_template"].is_array())
        for (const auto& t : c["chat_template"])
          if (t.is_object() && t.value("name", std::string()) == "default")
            tc.chat_template = t.value("template", std::string());
      auto field = [&](const char* k) -> std::string {
        if (!c.contains(k)) return {};
        const auto& v = c[k];
        if (v.is_string()) return v.get<std::string>();
        if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
        return {};
      };
      tc.bos_token = field("bos_token");
    }
  }
  try {
    return from_config(tc, model_type);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(dir + ": " + e.what());
  }
}

std::string ChatTemplate::render(const std::vector<ChatMessage>& msgs, const ChatOptions& opt) const {
  check_roles(msgs);
  std::string out;
  switch (format_) {
    case ChatFormat::kDeepSeekV3: out = render_deepseek(msgs, opt.add_generation_prompt, false, bos_); break;
    case ChatFormat::kDeepSeekR1: out = render_deepseek(msgs, opt.add_generation_prompt, true, bos_); break;
    case ChatFormat::kQwen25: out = render_qwen25(msgs, opt.add_generation_prompt); break;
    case ChatFormat::kQwen3: out = render_qwen3(msgs, opt); break;
    case ChatFormat::kLlama3: out = render_llama3(msgs, opt.add_generation_prompt, bos_); break;
    case ChatFormat::kLlama31: out = render_llama31(msgs, opt.add_generation_prompt, bos_); break;
    case ChatFormat::kJanus: out = render_janus(msgs, opt.add_generation_prompt); break;
  }
  return opt.expand_images ? expand_images(out) : out;
}

std::string ChatTemplate::expand_images(const std::string& text) const {
  std::string block = image_begin;
  for (int k = 0; k < image_tokens; ++k) block += image_tag;
  block += image_end;
  std::string out;
  size_t pos = 0, f;
  while ((f = text.find(image_tag, pos)) != std::string::npos) {
    out.append(text, pos, f - pos);
    out += block;
    pos = f + image_tag.size();
  }
  out.append(text, pos, std::string::npos);
  return out;
}

std::vector<int32_t> expand_image_ids(const std::vector<int32_t>& ids, int32_t placeholder, int32_t begin, int32_t end,
                                      int n) {
  std::vector<int32_t> out;
  out.reserve(ids.size());
  for (int32_t id : ids) {
    if (id != placeholder) {
      out.push_back(id);
      continue;
    }
    out.push_back(begin);
    out.insert(out.end(), size_t(n), placeholder);
    out.push_back(end);
  }
  return out;
}

}  // namespace janus::tokenizers
