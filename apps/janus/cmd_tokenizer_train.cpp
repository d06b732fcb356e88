// janus tokenizer-train --corpus FILE... --vocab-size N --out DIR [--special TOK]... [--min-frequency F]
// Learns a byte-level BPE tokenizer and writes DIR/tokenizer.json and DIR/tokenizer_config.json,
// loadable by HF `tokenizers` / transformers and by janus with identical ids. Files are written
// to temporaries and renamed, so a failure leaves no partial output.
#include <sys/stat.h>
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "apps/janus/command.h"
#include "tokenizers/bpe_trainer.h"
#include "tokenizers/tokenizer.h"
#include "tokenizers/utf8.h"

namespace {
using namespace janus::tokenizers;

void write_atomic(const std::string& path, const std::string& data) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw std::runtime_error(tmp + ": cannot write");
    f << data;
    f.flush();
    if (!f) throw std::runtime_error(tmp + ": write failed");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw std::runtime_error(path + ": cannot rename from " + tmp);
  }
}

int run(const std::vector<std::string>& corpus, size_t vocab, uint64_t min_freq, std::vector<std::string> specials,
        const std::string& out) {
  std::vector<std::string> texts;
  for (const auto& p : corpus) {
    texts.push_back(read_file(p));
    size_t bad = utf8_invalid_offset(texts.back());
    if (bad != std::string::npos) throw std::runtime_error(p + ": invalid UTF-8 at byte " + std::to_string(bad));
  }
  BpeTrainOptions opt = default_train_options(vocab);
  opt.min_frequency = min_freq;
  if (!specials.empty()) {
    // Custom specials: BOS/EOS/pad keep their default strings only if listed.
    auto has = [&](const std::string& t) { return std::find(specials.begin(), specials.end(), t) != specials.end(); };
    if (!has(opt.bos_token)) opt.bos_token.clear();
    if (!has(opt.eos_token)) opt.eos_token.clear();
    if (!has(opt.pad_token)) opt.pad_token.clear();
    opt.special_tokens = specials;
  }
  BpeTrainResult r = train_bpe(texts, opt);
  struct stat st {};
  if (stat(out.c_str(), &st) != 0) {
    if (mkdir(out.c_str(), 0755) != 0) throw std::runtime_error(out + ": cannot create directory");
  } else if (!S_ISDIR(st.st_mode)) {
    throw std::runtime_error(out + ": exists and is not a directory");
  }
  write_atomic(out + "/tokenizer_config.json", r.config_json);
  write_atomic(out + "/tokenizer.json", r.tokenizer_json);
  std::fprintf(stderr, "tokenizer-train: %zu tokens (%zu merges) -> %s/tokenizer.json\n", r.vocab_size, r.merges,
               out.c_str());
  return 0;
}

janus::app::Registrar reg("tokenizer-train", "Train a byte-level BPE tokenizer (HF tokenizer.json)", [](CLI::App& sub) {
  auto corpus = std::make_shared<std::vector<std::string>>();
  auto vocab = std::make_shared<size_t>(4096);
  auto min_freq = std::make_shared<uint64_t>(2);
  auto specials = std::make_shared<std::vector<std::string>>();
  auto out = std::make_shared<std::string>();
  sub.add_option("--corpus", *corpus, "UTF-8 text files")->required()->expected(1, -1);
  sub.add_option("--vocab-size", *vocab, "total vocabulary size (special + 256 bytes + merges)")->required();
  sub.add_option("--min-frequency", *min_freq, "stop when the best pair occurs fewer times (default 2)");
  sub.add_option("--special", *specials, "special tokens (default: Janus/DeepSeek chat, image and think markers)");
  sub.add_option("--out", *out, "output folder")->required();
  return [=] { return run(*corpus, *vocab, *min_freq, *specials, *out); };
});
}  // namespace
