#include "train/run_janus.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <stdexcept>

#include "llm/janus_config.h"
#include "llm/moe_balance.h"
#include "llm/safetensors.h"
#include "llm/tensor_store.h"
#include "tokenizers/chat_template.h"
#include "tokenizers/tokenizer.h"
#include "train/atomic_file.h"
#include "train/freeze.h"
#include "train/prefetch.h"
#include "vision/image.h"
#include "vision/preprocess.h"
#include "vision/shapes_scene.h"

namespace janus::train {

namespace fs = std::filesystem;
namespace ag = kernels::ag;
using kernels::Tensor;

namespace {

constexpr int32_t kUnd = 0, kGen = 1;  // Batch::segments tags: understanding / t2i row tokens

// One tokenised record: ids, next-token targets (kIgnoreIndex where untrained), and its kind.
struct Row {
  std::vector<int64_t> ids, targets;
  bool gen = false;
};

// One record per row, in the seeded epoch order; the batch's seq_len is its longest row.
// Batch::segments holds kUnd / kGen on a row's tokens and -1 on padding; examples[r] is row r.
class JanusLoader : public DataSource {
 public:
  using TokenizeRow = std::function<Row(const Record&)>;
  // cfg_dropout: probability that a t2i row's prompt becomes the unconditional one (ids[1..P-2] =
  // pad: BOS and the final <begin_of_image> kept, as the inference CFG row), drawn from
  // SplitMix64(seed ^ epoch, record index).
  JanusLoader(const std::vector<Record>* records, TokenizeRow tok, int64_t rows, int64_t pad, uint64_t seed,
              bool shuffle, double cfg_dropout)
      : records_(records),
        tok_(std::move(tok)),
        rows_(rows),
        pad_(pad),
        seed_(seed),
        shuffle_(shuffle),
        cfg_dropout_(cfg_dropout) {}

  Batch next_batch() override {
    std::vector<Row> rows;
    std::vector<DataCursor> at;
    std::vector<std::vector<std::string>> images;
    for (int64_t r = 0; r < rows_; ++r) {
      const Record& rec = (*records_)[size_t(record_index(cursor_))];
      at.push_back(cursor_);
      rows.push_back(tok_(rec));
      if (rows.back().gen && cfg_dropout_ > 0 && drop_prompt(cursor_))
        for (size_t t = 1; t + 1 < rows.back().ids.size(); ++t) rows.back().ids[t] = pad_;
      images.push_back(rec.images);
      advance();
    }
    Batch b;
    b.rows = rows_;
    for (const Row& r : rows) b.seq_len = std::max<int64_t>(b.seq_len, int64_t(r.ids.size()));
    const size_t n = size_t(b.rows * b.seq_len);
    b.tokens.assign(n, pad_);
    b.targets.assign(n, kIgnoreIndex);
    b.segments.assign(n, -1);
    b.positions.assign(n, 0);
    for (int64_t r = 0; r < b.rows; ++r) {
      const Row& row = rows[size_t(r)];
      for (size_t t = 0; t < row.ids.size(); ++t) {
        const size_t i = size_t(r * b.seq_len) + t;
        b.tokens[i] = row.ids[t];
        b.targets[i] = row.targets[t];
        b.segments[i] = row.gen ? kGen : kUnd;
        b.positions[i] = int64_t(t);
        b.target_tokens += row.targets[t] != kIgnoreIndex;
      }
      b.real_tokens += int64_t(row.ids.size());
      b.examples.push_back({r, 0, int64_t(row.ids.size()), at[size_t(r)], images[size_t(r)]});
    }
    return b;
  }
  DataCursor cursor() const override { return cursor_; }
  void seek(const DataCursor& c) override { cursor_ = c; }

  // Thread-safe (the prepare step on worker threads names records through it).
  int64_t record_index(const DataCursor& c) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = orders_.find(c.epoch);
    if (it == orders_.end()) {
      it = orders_.emplace(c.epoch, epoch_order(int64_t(records_->size()), seed_, c.epoch, shuffle_)).first;
      while (orders_.size() > 3) orders_.erase(orders_.begin());
    }
    return it->second.at(size_t(c.index));
  }
  const Record& record(const DataCursor& c) const { return (*records_)[size_t(record_index(c))]; }

 private:
  bool drop_prompt(const DataCursor& c) const {
    vision::shapes::SplitMix64 g(seed_ ^ (0x9e3779b97f4a7c15ull * uint64_t(c.epoch + 1)), uint64_t(c.index));
    return double(g.next() >> 11) * 0x1.0p-53 < cfg_dropout_;
  }
  void advance() {
    if (++cursor_.index >= int64_t(records_->size())) cursor_ = {cursor_.epoch + 1, 0};
  }
  const std::vector<Record>* records_;
  TokenizeRow tok_;
  int64_t rows_, pad_;
  uint64_t seed_;
  bool shuffle_;
  double cfg_dropout_;
  DataCursor cursor_;
  mutable std::mutex mu_;
  mutable std::map<int64_t, std::vector<int64_t>> orders_;
};

bool is_gen_task(const Record& r) { return r.task == "t2i"; }

// The model name a folder's tensor `n` seeds: its longest matching rename prefix replaced.
std::string renamed(const std::string& n, const std::vector<std::pair<std::string, std::string>>& rename) {
  const std::pair<std::string, std::string>* best = nullptr;
  for (const auto& r : rename)
    if (n.compare(0, r.first.size(), r.first) == 0 && (!best || r.first.size() > best->first.size())) best = &r;
  return best ? best->second + n.substr(best->first.size()) : n;
}

// model.weights_from: every tensor of the folder's safetensors must name (after its renames) a
// parameter or a buffer (the MoE correction biases) of the same shape, once, so a whole exported
// Janus folder can seed a run (or a deeper one, with its MTP layer renamed past the new layers).
void load_weights_from(llm::TrainableJanus& model, const RunRecipe::WeightsFrom& from, const std::string& recipe) {
  llm::TensorStore store = llm::TensorStore::open_dir(from.dir);
  std::map<std::string, Tensor> by_name;  // shared storage: writing it updates the model
  for (auto& p : model.params()) by_name[p.name] = p.var.value();
  for (auto& b : model.buffers()) by_name[b.name] = b.value;
  std::map<std::string, std::string> source_of;  // model name -> the folder's name that set it
  const std::string where = recipe + ": model.weights_from: " + from.dir + ": ";
  for (const std::string& n : store.names()) {
    const std::string target = renamed(n, from.rename);
    const std::string what = "tensor '" + n + "'" + (target == n ? "" : " (renamed '" + target + "')");
    auto it = by_name.find(target);
    if (it == by_name.end()) throw std::runtime_error(where + what + " is not a parameter or buffer of the model");
    if (!source_of.emplace(target, n).second)
      throw std::runtime_error(where + what + " and tensor '" + source_of[target] + "' both set '" + target + "'");
    Tensor t = store.get(n).to(kernels::DType::F32).contiguous();
    const Tensor& dst = it->second;
    if (t.shape() != dst.shape())
      throw std::runtime_error(where + what + " is " + kernels::shape_str(t.shape()) + ", the model's is " +
                               kernels::shape_str(dst.shape()));
    std::memcpy(dst.data<float>(), t.data<float>(), t.nbytes());
  }
}

// model.zero_init: every pattern must match a parameter; the matches are set to zero.
void zero_init(llm::TrainableJanus& model, const std::vector<std::string>& patterns, const std::string& recipe) {
  for (const std::string& pat : patterns) {
    size_t hits = 0;
    for (auto& p : model.params())
      if (glob_match(pat, p.name)) {
        Tensor v = p.var.value();
        std::memset(v.data<float>(), 0, v.nbytes());
        ++hits;
      }
    if (hits == 0) throw std::runtime_error(recipe + ": model.zero_init: pattern '" + pat + "' matches no parameter");
  }
}

}  // namespace

struct JanusRun::Impl {
  RunRecipe recipe;
  RunOverrides ov;
  tokenizers::Tokenizer tok;
  llm::TrainableJanus model;
  std::string config_source;
  tokenizers::ChatTemplate tmpl = tokenizers::ChatTemplate::from_name("janus");
  int64_t bos = -1, eos = -1, pad = 0, image_id = -1, n_image = 0, n_codes = 0;
  int image_side = 0, gen_side = 0;
  std::vector<Record> records;
  std::unique_ptr<JanusLoader> loader;
  std::unique_ptr<PrefetchSource> prefetch;
  std::unique_ptr<AdamW> opt;
  std::unique_ptr<Trainer> trainer;
  mutable std::mutex log_mu;
  std::atomic<int64_t> skipped{0};
  int64_t first_step_of_run = 1;
  double first_loss = NAN;
  std::map<std::string, std::vector<int64_t>> code_cache;  // image path → VQ codes (frozen VQ)
  bool vq_frozen = true;                                   // set once the freezing is applied
  std::vector<std::vector<int64_t>> step_load;             // expert loads of the current step

  Impl(RunRecipe r, RunOverrides o, tokenizers::Tokenizer t, llm::TrainableJanus m)
      : recipe(std::move(r)), ov(std::move(o)), tok(std::move(t)), model(std::move(m)) {}

  void log(const std::string& m) const {
    std::lock_guard<std::mutex> lock(log_mu);
    if (ov.log)
      ov.log(m);
    else
      std::cerr << m << "\n";
  }

  void encode(std::vector<int64_t>& out, const std::string& s) const {
    for (int32_t id : tok.encode(s)) out.push_back(id);
  }

  [[noreturn]] void fail(const Record& r, const std::string& m) const { throw std::runtime_error(r.source + ": " + m); }

  Row tokenize(const Record& rec) const {
    const int64_t seq_len = recipe.base.pack.seq_len;
    Row row;
    std::vector<int64_t> prompt;
    if (recipe.add_bos && bos >= 0) prompt.push_back(bos);
    if (is_gen_task(rec)) {
      if (rec.images.size() != 1)
        fail(rec, "a t2i record needs exactly one image (the target), got " + std::to_string(rec.images.size()));
      encode(prompt, tmpl.render({{"user", rec.prompt}}, true) + "<begin_of_image>");
      if (int64_t(prompt.size()) + n_codes > seq_len)
        fail(rec, std::to_string(prompt.size()) + " prompt tokens + " + std::to_string(n_codes) +
                      " image codes exceed data.seq_len " + std::to_string(seq_len));
      row.gen = true;
      row.ids = prompt;
      row.targets.assign(prompt.size(), kIgnoreIndex);
      return row;
    }
    std::vector<int64_t> answer;
    bool answer_only = false;
    if (rec.answer.empty() && rec.prompt.empty() && !rec.text.empty() && rec.images.empty()) {
      encode(answer, rec.text);
    } else {
      std::string user = rec.prompt;
      if (user.find(tmpl.image_tag) == std::string::npos) {
        std::string tags;
        for (size_t i = 0; i < rec.images.size(); ++i) tags += tmpl.image_tag + "\n";
        user = tags + user;
      }
      tokenizers::ChatOptions co;
      co.expand_images = true;
      encode(prompt, tmpl.render({{"user", user}}, co));
      encode(answer, " " + (rec.answer.empty() ? rec.text : rec.answer));
      answer_only = recipe.loss == LossScope::kAnswer || (recipe.loss == LossScope::kRecord && rec.answer_only_loss);
    }
    if (recipe.add_eos && eos >= 0) answer.push_back(eos);
    const int64_t n_ph = std::count(prompt.begin(), prompt.end(), image_id);
    if (n_ph != int64_t(rec.images.size()) * n_image)
      fail(rec, std::to_string(n_ph) + " image placeholders in the prompt for " + std::to_string(rec.images.size()) +
                    " image(s) of " + std::to_string(n_image) + " tokens");
    Example e = make_example(prompt, answer, answer_only);
    if (int64_t(e.ids.size()) > seq_len) {
      int64_t last_ph = -1;
      for (size_t t = 0; t < e.ids.size(); ++t)
        if (e.ids[t] == image_id) last_ph = int64_t(t);
      if (last_ph >= seq_len) fail(rec, "the image placeholders reach past data.seq_len " + std::to_string(seq_len));
      e.ids.resize(size_t(seq_len));
      e.loss.resize(size_t(seq_len));
    }
    row.ids = e.ids;
    row.targets.assign(e.ids.size(), kIgnoreIndex);
    for (size_t t = 0; t + 1 < e.ids.size(); ++t)
      if (e.loss[t + 1] && e.ids[t + 1] != image_id) row.targets[t] = e.ids[t + 1];
    return row;
  }

  // Worker thread: load + preprocess every image of the batch into pixel_values (in order).
  void prepare(Batch& b) {
    for (auto& ex : b.examples) {
      const Record& rec = loader->record(ex.cursor);
      const bool gen = b.segments[size_t(ex.row * b.seq_len)] == kGen;
      vision::PreprocessOptions po;
      po.image_size = gen ? gen_side : image_side;
      std::vector<Tensor> px;
      for (const std::string& path : ex.images) {
        try {
          px.push_back(vision::preprocess(vision::to_rgb8(vision::load_image(path)), po));
        } catch (const std::exception& e) {
          const std::string msg = rec.source + ": image '" + path + "': " + e.what();
          if (!recipe.base.jsonl.skip_bad) throw std::runtime_error(msg);
          px.clear();
          ex.length = 0;  // dropped: loss() logs the message (on the training thread) and skips the row
          ex.images = {"skipping " + msg};
          break;
        }
      }
      for (auto& t : px) b.pixel_values.push_back(std::move(t));
    }
  }

  static Tensor stack(const std::vector<const Tensor*>& xs) {
    const Tensor& f = *xs[0];
    kernels::Shape s = f.shape();
    s.insert(s.begin(), int64_t(xs.size()));
    Tensor out = Tensor::empty(s, kernels::DType::F32);
    for (size_t i = 0; i < xs.size(); ++i)
      std::memcpy(out.data<float>() + i * size_t(f.numel()), xs[i]->contiguous().data<float>(), f.nbytes());
    return out;
  }

  // The VQ codes of the batch's t2i images (in order), encoded under NoGradGuard by the model's own
  // (frozen) VQ. Codes are remembered per image path when the VQ is frozen, so each distinct image
  // is encoded once per run (a trainable VQ re-encodes every time).
  std::vector<int64_t> image_codes(const Batch& b, const std::vector<const Tensor*>& px) {
    std::vector<std::string> paths;
    for (const auto& ex : b.examples)
      if (ex.length > 0 && b.segments[size_t(ex.row * b.seq_len)] == kGen) paths.push_back(ex.images.at(0));
    std::vector<const Tensor*> todo;
    std::vector<size_t> todo_at;
    for (size_t i = 0; i < px.size(); ++i)
      if (!vq_frozen || !code_cache.count(paths.at(i))) todo.push_back(px[i]), todo_at.push_back(i);
    std::vector<int64_t> fresh;
    if (!todo.empty()) {
      ag::NoGradGuard ng;
      const auto& vq = model.vq();
      fresh = vq.quantize(vq.encode_latents(ag::Var::constant(stack(todo)))).codes;
    }
    std::vector<int64_t> codes(px.size() * size_t(n_codes));
    std::vector<bool> done(px.size(), false);
    for (size_t j = 0; j < todo.size(); ++j) {
      std::copy(fresh.begin() + int64_t(j) * n_codes, fresh.begin() + int64_t(j + 1) * n_codes,
                codes.begin() + int64_t(todo_at[j]) * n_codes);
      done[todo_at[j]] = true;
      if (vq_frozen)
        code_cache[paths[todo_at[j]]].assign(fresh.begin() + int64_t(j) * n_codes,
                                             fresh.begin() + int64_t(j + 1) * n_codes);
    }
    for (size_t i = 0; i < px.size(); ++i)
      if (!done[i]) {
        const auto& c = code_cache.at(paths[i]);
        std::copy(c.begin(), c.end(), codes.begin() + int64_t(i) * n_codes);
      }
    return codes;
  }

  ag::Var loss(const Batch& b) {
    std::vector<int64_t> und_rows, gen_rows;
    std::vector<const Tensor*> und_px, gen_px;
    size_t pi = 0;
    for (const auto& ex : b.examples) {
      const bool gen = b.segments[size_t(ex.row * b.seq_len)] == kGen;
      if (ex.length == 0) {
        log(ex.images.at(0));
        ++skipped;
        continue;
      }
      for (size_t i = 0; i < ex.images.size(); ++i) (gen ? gen_px : und_px).push_back(&b.pixel_values.at(pi++));
      (gen ? gen_rows : und_rows).push_back(ex.row);
    }
    struct Part {
      ag::Var ce;
      int64_t n;
    };
    std::vector<Part> parts;
    double mtp_sum = 0;
    int64_t mtp_n = 0;
    if (!und_rows.empty()) {
      int64_t T = 0;
      for (const auto& ex : b.examples)
        if (ex.length > 0 && b.segments[size_t(ex.row * b.seq_len)] == kUnd) T = std::max(T, ex.length);
      const int64_t B = int64_t(und_rows.size());
      std::vector<int64_t> ids(size_t(B * T), pad), targets(size_t(B * T), kIgnoreIndex);
      int64_t n = 0;
      for (int64_t i = 0; i < B; ++i)
        for (int64_t t = 0; t < T; ++t) {
          const size_t src = size_t(und_rows[size_t(i)] * b.seq_len + t);
          if (b.segments[src] < 0) continue;
          ids[size_t(i * T + t)] = b.tokens[src];
          targets[size_t(i * T + t)] = b.targets[src];
          n += b.targets[src] != kIgnoreIndex;
        }
      ag::Var px = und_px.empty() ? ag::Var() : ag::Var::constant(stack(und_px));
      llm::JanusLoss l =
          model.understanding_losses(ids, B, T, px, targets, recipe.mtp_lambda, recipe.moe_balance_alpha);
      trainer->record("loss_und", l.main.value().to_f32_vector()[0]);
      if (l.mtp.defined()) mtp_sum += l.mtp.value().to_f32_vector()[0] * double(n), mtp_n += n;
      llm::add_loads(step_load, l.expert_load);
      if (n > 0) parts.push_back({l.total, n});
    }
    if (!gen_rows.empty()) {
      const std::vector<int64_t> codes = image_codes(b, gen_px);
      // Rows with the same prompt length run together.
      std::map<int64_t, std::vector<size_t>> by_len;
      size_t gi = 0;
      for (const auto& ex : b.examples)
        if (ex.length > 0 && b.segments[size_t(ex.row * b.seq_len)] == kGen) by_len[ex.length].push_back(gi++);
      double sum = 0;
      int64_t total = 0;
      for (const auto& [P, members] : by_len) {
        std::vector<int64_t> prompt, cs;
        for (size_t g : members) {
          const int64_t row = gen_rows[g];
          prompt.insert(prompt.end(), b.tokens.begin() + row * b.seq_len, b.tokens.begin() + row * b.seq_len + P);
          cs.insert(cs.end(), codes.begin() + int64_t(g) * n_codes, codes.begin() + int64_t(g + 1) * n_codes);
        }
        const int64_t B = int64_t(members.size());
        llm::JanusLoss l =
            model.generation_losses(prompt, cs, B, P, n_codes, recipe.mtp_lambda, recipe.moe_balance_alpha);
        sum += l.main.value().to_f32_vector()[0] * double(B * n_codes);
        total += B * n_codes;
        if (l.mtp.defined()) mtp_sum += l.mtp.value().to_f32_vector()[0] * double(B * n_codes), mtp_n += B * n_codes;
        llm::add_loads(step_load, l.expert_load);
        parts.push_back({l.total, B * n_codes});
      }
      trainer->record("loss_gen", sum / double(total));
    }
    if (mtp_n > 0) trainer->record("loss_mtp", mtp_sum / double(mtp_n));
    int64_t N = 0;
    for (const auto& p : parts) N += p.n;
    if (N == 0) {  // every record dropped: a zero loss with zero gradients
      for (const auto& p : model.params())
        if (p.trainable) return ag::scale(ag::sum(p.var), 0.0);
      throw std::runtime_error(recipe.source + ": no trainable parameter");
    }
    ag::Var total;
    for (const auto& p : parts) {
      ag::Var w = ag::scale(p.ce, double(p.n) / double(N));
      total = total.defined() ? ag::add(total, w) : w;
    }
    return total;
  }
};

JanusRun::JanusRun(RunRecipe recipe, RunOverrides ov) {
  const std::string src = recipe.source;
  if (recipe.janus_stage < 1 || recipe.janus_stage > 3)
    throw std::runtime_error(src + ": janus.stage: JanusRun needs a Janus stage (1, 2 or 3)");
  if (recipe.precision != ag::GemmPrecision::kFull)
    throw std::runtime_error(src + ": precision: \"" + precision_name(recipe.precision) +
                             "\" is not wired into the Janus model yet (llm::TrainableJanus runs f32 GEMMs); "
                             "use \"fp32\"");
  if (recipe.init_std)
    throw std::runtime_error(src +
                             ": model.init_std: Janus random init takes its scales from the config "
                             "(initializer_range), not from the recipe; remove model.init_std");
  auto tok = tokenizers::Tokenizer::from_dir(recipe.tokenizer_dir);
  std::string config_source;
  llm::TrainableJanus model = [&] {
    if (!recipe.init_from.empty()) {
      config_source = recipe.init_from + "/config.json";
      return llm::TrainableJanus::from_checkpoint(recipe.init_from);
    }
    config_source = recipe.config_path;
    return llm::TrainableJanus::random(llm::load_janus_config(recipe.config_path), recipe.init_seed);
  }();
  zero_init(model, recipe.zero_init, src);
  for (const auto& from : recipe.weights_from) load_weights_from(model, from, src);
  impl_ = std::make_unique<Impl>(std::move(recipe), std::move(ov), std::move(tok), std::move(model));
  Impl& m = *impl_;
  m.config_source = config_source;
  const llm::JanusConfig& c = m.model.config();
  if (int64_t(m.tok.vocab_size()) > c.text.vocab_size)
    throw std::runtime_error(src + ": tokenizer " + m.recipe.tokenizer_dir + " has " +
                             std::to_string(m.tok.vocab_size()) + " tokens but the model's vocab_size is " +
                             std::to_string(c.text.vocab_size));
  m.image_id = c.image_token_id >= 0 ? c.image_token_id : m.tok.token_to_id("<image_placeholder>");
  if (m.image_id < 0)
    throw std::runtime_error(src + ": the model config has no image_token_id and tokenizer " + m.recipe.tokenizer_dir +
                             " has no <image_placeholder>");
  if (m.tok.token_to_id("<image_placeholder>") != m.image_id)
    throw std::runtime_error(src + ": config image_token_id " + std::to_string(m.image_id) +
                             " is not the tokenizer's <image_placeholder> (" +
                             std::to_string(m.tok.token_to_id("<image_placeholder>")) + ")");
  m.model.set_image_token_id(m.image_id);
  m.bos = m.tok.bos_id();
  m.eos = m.tok.eos_id();
  m.pad = m.tok.pad_id() >= 0 ? m.tok.pad_id() : (m.eos >= 0 ? m.eos : 0);
  m.n_image = c.image_tokens();
  m.n_codes = c.gen_image_tokens();
  m.image_side = int(c.vision.image_size);
  m.gen_side = int(c.vq.num_patches << (c.vq.num_levels() - 1));
  m.tmpl.image_tokens = int(m.n_image);
  const Recipe& r = m.recipe.base;

  JsonlOptions jo = r.jsonl;
  jo.log = [this](const std::string& s) { impl_->log(s); };
  for (const auto& f : r.train_files) {
    auto recs = read_jsonl(f, jo);
    m.records.insert(m.records.end(), std::make_move_iterator(recs.begin()), std::make_move_iterator(recs.end()));
  }
  if (m.records.empty()) throw std::runtime_error(src + ": data.train: no records in the listed files");

  auto& params = m.model.params();
  apply_freeze_lists(params, m.recipe);
  m.log("janus stage " + std::to_string(m.recipe.janus_stage) + ": " + count_trainable(params).summary());
  for (const auto& p : params)
    if (p.trainable && p.name.rfind("model.vqmodel.", 0) == 0) m.vq_frozen = false;

  m.loader = std::make_unique<JanusLoader>(
      &m.records, [this](const Record& rec) { return impl_->tokenize(rec); }, r.pack.rows, m.pad, r.pack.seed,
      r.pack.shuffle, m.recipe.cfg_dropout);
  m.prefetch = std::make_unique<PrefetchSource>(
      *m.loader, [this](Batch& b) { impl_->prepare(b); }, 2);
  m.opt = std::make_unique<AdamW>(params, r.adamw);
  m.trainer = std::make_unique<Trainer>(
      params, *m.opt, r.schedule, *m.prefetch, [this](const Batch& b, Rng&) { return impl_->loss(b); },
      trainer_config(m.recipe, m.ov));
  llm::NamedTensors bufs;
  for (const auto& b : m.model.buffers()) bufs.push_back({b.name, b.value});
  m.trainer->set_buffers(bufs);
  const double gamma = m.recipe.moe_bias_gamma;
  m.trainer->add_hook([this, gamma](const StepResult& s) {
    Impl& mi = *impl_;
    if (s.step == mi.first_step_of_run) mi.first_loss = s.loss;
    if (gamma > 0 && !mi.step_load.empty()) llm::update_router_biases(mi.model.buffers(), mi.step_load, gamma);
    mi.step_load.clear();
  });
}

JanusRun::~JanusRun() = default;

llm::TrainableJanus& JanusRun::model() { return impl_->model; }
const RunRecipe& JanusRun::recipe() const { return impl_->recipe; }
int64_t JanusRun::skipped_records() const { return impl_->skipped.load(); }

RunSummary JanusRun::run() {
  Impl& m = *impl_;
  fs::create_directories(m.recipe.output_dir);
  RunSummary s;
  if (m.ov.resume) m.trainer->resume();
  s.start_step = m.trainer->step();
  m.first_loss = NAN;
  m.first_step_of_run = s.start_step + 1;
  s.last = m.trainer->run();
  s.first_loss = m.first_loss;
  s.export_dir = m.recipe.export_dir;
  export_model(s.export_dir);
  m.log("exported the model to " + s.export_dir);
  return s;
}

void JanusRun::export_model(const std::string& dir) const {
  const Impl& m = *impl_;
  if (m.model.config().layout != llm::JanusLayout::kTransformers)
    throw std::runtime_error(m.recipe.source + ": export: " + m.config_source +
                             " is the original multi_modality layout; export writes the transformers janus "
                             "layout and cannot convert that config yet");
  llm::NamedTensors ts;
  for (const auto& p : m.model.params()) ts.push_back({p.name, p.var.value()});
  for (const auto& b : m.model.buffers()) ts.push_back({b.name, b.value});
  write_export_folder(dir, ts, m.config_source, m.recipe, {"generation_config.json", "processor_config.json"});
  if (m.recipe.init_from.empty() ||
      !fs::exists(fs::path(m.recipe.init_from) /
                  "processor_config.json")) {  // the prompt format this run trained on: no system prompt
    const nlohmann::json pc = {{"processor_class", "VLChatProcessor"},
                               {"image_tag", "<image_placeholder>"},
                               {"num_image_tokens", m.n_image},
                               {"sft_format", "deepseek"},
                               {"system_prompt", ""}};
    write_file_atomic(dir + "/processor_config.json", pc.dump(2) + "\n");
  }
}

}  // namespace janus::train
