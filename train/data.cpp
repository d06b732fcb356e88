#include "train/data.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "train/rng.h"

namespace janus::train {

namespace fs = std::filesystem;
using nlohmann::json;

static std::string short_json_error(const std::string& what) {
  std::string w = what;
  if (!w.empty() && w[0] == '[') w = w.substr(std::min(w.size(), w.find(']') + 2));
  if (w.size() > 160) w = w.substr(0, 157) + "...";
  return w;
}

Record parse_record(const std::string& line, const std::string& source, const std::string& base_dir,
                    bool check_images) {
  auto fail = [&](const std::string& m) -> void { throw std::runtime_error(source + ": " + m); };
  json j;
  try {
    j = json::parse(line);
  } catch (const json::exception& e) {
    fail("invalid JSON (" + short_json_error(e.what()) + ")");
  }
  if (!j.is_object()) fail(std::string("expected a JSON object, got ") + j.type_name());
  Record r;
  r.source = source;
  auto get_string = [&](const char* key, std::string* out) {
    if (!j.contains(key)) return false;
    if (!j[key].is_string()) fail(std::string("\"") + key + "\" must be a string, got " + j[key].type_name());
    *out = j[key].get<std::string>();
    return true;
  };
  const bool has_text = get_string("text", &r.text);
  const bool has_answer = get_string("answer", &r.answer);
  const bool has_prompt = get_string("prompt", &r.prompt);
  if (has_text == has_answer) fail("needs exactly one of \"text\" or \"answer\"");
  if (has_prompt && has_text) fail("\"prompt\" goes with \"answer\", not with \"text\"");
  get_string("task", &r.task);
  std::string loss = has_answer ? "answer" : "all";
  get_string("loss", &loss);
  if (loss != "answer" && loss != "all") fail("\"loss\" must be \"answer\" or \"all\", got \"" + loss + "\"");
  if (loss == "answer" && !has_answer) fail("\"loss\": \"answer\" needs an \"answer\"");
  r.answer_only_loss = loss == "answer";
  if (j.contains("images")) {
    if (!j["images"].is_array())
      fail(std::string("\"images\" must be an array of strings, got ") + j["images"].type_name());
    for (const auto& im : j["images"]) {
      if (!im.is_string()) fail("\"images\" must be an array of strings");
      fs::path p(im.get<std::string>());
      if (p.is_relative() && !base_dir.empty()) p = fs::path(base_dir) / p;
      if (check_images) {
        std::error_code ec;
        if (!fs::is_regular_file(p, ec) || fs::file_size(p, ec) == 0)
          fail("image '" + im.get<std::string>() + "' not found or empty (" + p.string() + ")");
      }
      r.images.push_back(p.string());
    }
  }
  return r;
}

std::vector<Record> read_jsonl(const std::string& path, const JsonlOptions& options, int64_t* skipped) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open JSONL file");
  const std::string base = fs::path(path).parent_path().string();
  std::vector<Record> out;
  int64_t bad = 0, line_no = 0;
  std::string line;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    try {
      out.push_back(parse_record(line, path + ":" + std::to_string(line_no), base, options.check_images));
    } catch (const std::runtime_error& e) {
      if (!options.skip_bad) throw;
      ++bad;
      const std::string msg = std::string("skipping bad record: ") + e.what();
      if (options.log)
        options.log(msg);
      else
        std::cerr << msg << "\n";
    }
  }
  if (in.bad()) throw std::runtime_error(path + ": read error");
  if (skipped) *skipped = bad;
  return out;
}

std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch, bool shuffle) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = i;
  if (shuffle) {
    Rng rng(seed, uint64_t(epoch));
    rng.shuffle(v);
  }
  return v;
}

Example make_example(const std::vector<int64_t>& prompt_ids, const std::vector<int64_t>& answer_ids, bool answer_only) {
  Example e;
  e.ids = prompt_ids;
  e.ids.insert(e.ids.end(), answer_ids.begin(), answer_ids.end());
  e.loss.assign(e.ids.size(), 1);
  if (answer_only)
    for (size_t i = 0; i < prompt_ids.size(); ++i) e.loss[i] = 0;
  return e;
}

PackedLoader::PackedLoader(const std::vector<Record>* records, TokenizeFn tokenize, PackOptions options)
    : records_(records), tokenize_(std::move(tokenize)), opt_(options) {
  if (!records_ || records_->empty()) throw std::invalid_argument("PackedLoader: no records");
  if (opt_.rows <= 0 || opt_.seq_len <= 0)
    throw std::invalid_argument("PackedLoader: rows and seq_len must be > 0, got " + std::to_string(opt_.rows) + " x " +
                                std::to_string(opt_.seq_len));
}

void PackedLoader::seek(const DataCursor& c) {
  const int64_t n = int64_t(records_->size());
  if (c.epoch < 0 || c.index < 0 || c.index > n)
    throw std::invalid_argument("PackedLoader::seek: cursor (epoch " + std::to_string(c.epoch) + ", index " +
                                std::to_string(c.index) + ") out of range for " + std::to_string(n) + " records");
  cursor_ = c;
  if (cursor_.index == n) cursor_ = {c.epoch + 1, 0};
}

const std::vector<int64_t>& PackedLoader::order(int64_t epoch) {
  auto it = orders_.find(epoch);
  if (it != orders_.end()) return it->second;
  while (orders_.size() >= 2) orders_.erase(orders_.begin());
  return orders_[epoch] = epoch_order(int64_t(records_->size()), opt_.seed, epoch, opt_.shuffle);
}

const Example& PackedLoader::current() {
  if (!(cached_at_ == cursor_)) {
    const Record& r = (*records_)[size_t(order(cursor_.epoch)[size_t(cursor_.index)])];
    cached_ = tokenize_(r);
    if (cached_.loss.size() != cached_.ids.size())
      throw std::runtime_error(r.source + ": tokenizer returned " + std::to_string(cached_.ids.size()) + " ids but " +
                               std::to_string(cached_.loss.size()) + " loss flags");
    if (cached_.images.empty()) cached_.images = r.images;
    cached_at_ = cursor_;
  }
  return cached_;
}

void PackedLoader::advance() {
  if (++cursor_.index == int64_t(records_->size())) cursor_ = {cursor_.epoch + 1, 0};
}

Batch PackedLoader::next_batch() {
  const int64_t L = opt_.seq_len, R = opt_.rows;
  Batch b;
  b.rows = R;
  b.seq_len = L;
  b.tokens.assign(size_t(R * L), opt_.pad_id);
  b.targets.assign(size_t(R * L), kIgnoreIndex);
  b.segments.assign(size_t(R * L), -1);
  b.positions.assign(size_t(R * L), 0);
  int32_t segment = 0;
  int64_t empty_run = 0;  // guards against a dataset whose every example is empty
  for (int64_t row = 0; row < R; ++row) {
    int64_t used = 0;
    while (used < L) {
      const Example& ex = current();
      const int64_t n = int64_t(ex.ids.size());
      if (n == 0) {
        advance();
        if (++empty_run > int64_t(records_->size()))
          throw std::runtime_error("PackedLoader: every record tokenises to nothing");
        continue;
      }
      empty_run = 0;
      const int64_t take = std::min(n, L);
      if (take > L - used) break;  // does not fit: close this row, keep the example for the next
      const int64_t base = row * L + used;
      for (int64_t j = 0; j < take; ++j) {
        const size_t k = size_t(base + j);
        b.tokens[k] = ex.ids[size_t(j)];
        b.segments[k] = segment;
        b.positions[k] = j;
        if (j + 1 < take && ex.loss[size_t(j + 1)]) {
          b.targets[k] = ex.ids[size_t(j + 1)];
          ++b.target_tokens;
        }
      }
      b.examples.push_back({row, used, take, cursor_, ex.images});
      b.real_tokens += take;
      if (take < n) ++b.truncated;
      ++segment;
      used += take;
      advance();
    }
  }
  return b;
}

}  // namespace janus::train
