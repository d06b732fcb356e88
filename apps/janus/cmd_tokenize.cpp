// janus tokenize --tokenizer DIR [--decode] [--add-special]
// JSON lines on stdin: {"text": ...} -> {"ids": [...]} (no special tokens added unless
// --add-special; added tokens in the text are matched), or with --decode {"ids": [...]} ->
// {"text": ...}. One output line per input line, in order. Output is written only once every
// line has been processed, so a bad line (error naming the line, exit 2) leaves no partial output.
#include <sys/stat.h>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "apps/janus/command.h"
#include "tokenizers/tokenizer.h"
#include "tokenizers/utf8.h"

namespace {
using janus::tokenizers::Tokenizer;

Tokenizer load(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) throw std::runtime_error(path + ": no such file or directory");
  if (S_ISDIR(st.st_mode)) return Tokenizer::from_dir(path);
  return Tokenizer::from_file(path);
}

int run(const std::string& dir, bool decode, bool add_special) {
  Tokenizer tok = load(dir);
  std::ios::sync_with_stdio(false);
  std::string line, out;
  std::vector<int32_t> ids;
  size_t lineno = 0;
  while (std::getline(std::cin, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto where = [&] { return "stdin line " + std::to_string(lineno) + ": "; };
    size_t bad = janus::tokenizers::utf8_invalid_offset(line);
    if (bad != std::string::npos) throw std::runtime_error(where() + "invalid UTF-8 at byte " + std::to_string(bad));
    nlohmann::json in;
    try {
      in = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      throw std::runtime_error(where() + "not valid JSON (" + e.what() + ")");
    }
    if (!in.is_object()) throw std::runtime_error(where() + "expected a JSON object");
    if (!decode) {
      auto it = in.find("text");
      if (it == in.end() || !it->is_string()) throw std::runtime_error(where() + "expected {\"text\": string}");
      ids.clear();
      try {
        tok.encode_into(it->get_ref<const std::string&>(), ids, add_special);
      } catch (const std::exception& e) {
        throw std::runtime_error(where() + e.what());
      }
      out += "{\"ids\":[";
      for (size_t k = 0; k < ids.size(); ++k) {
        if (k) out += ',';
        out += std::to_string(ids[k]);
      }
      out += "]}\n";
    } else {
      auto it = in.find("ids");
      if (it == in.end() || !it->is_array()) throw std::runtime_error(where() + "expected {\"ids\": [int, ...]}");
      ids.clear();
      for (const auto& v : *it) {
        if (!v.is_number_integer()) throw std::runtime_error(where() + "ids must be integers");
        int64_t x = v.get<int64_t>();
        ids.push_back(x < 0 || x > INT32_MAX ? -1 : int32_t(x));
      }
      nlohmann::json o;
      o["text"] = tok.decode(ids);
      out += o.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    }
  }
  if (std::cin.bad()) throw std::runtime_error("stdin: read error");
  std::cout << out;
  std::cout.flush();
  return 0;
}

janus::app::Registrar reg("tokenize", "Encode or decode JSON lines on stdin with a model's tokenizer",
                          [](CLI::App& sub) {
                            auto dir = std::make_shared<std::string>();
                            auto decode = std::make_shared<bool>(false);
                            auto add_special = std::make_shared<bool>(false);
                            sub.add_option("--tokenizer", *dir,
                                           "model folder with tokenizer.json (or the tokenizer.json itself)")
                                ->required();
                            sub.add_flag("--decode", *decode, "read {\"ids\": [...]} and write {\"text\": ...}");
                            sub.add_flag("--add-special", *add_special, "add BOS/EOS as the tokenizer config says");
                            return [=] { return run(*dir, *decode, *add_special); };
                          });
}  // namespace
