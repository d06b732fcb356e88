#include "apps/janus/shapes_model_eval.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "apps/janus/janus_session.h"
#include "llm/janus_generate.h"
#include "train/atomic_file.h"
#include "vision/image.h"
#include "vision/preprocess.h"

namespace janus::app {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const char* const kTaskFiles[][2] = {
    {"caption", "captions.jsonl"}, {"vqa", "vqa.jsonl"}, {"reasoning", "reasoning.jsonl"}, {"t2i", "t2i.jsonl"}};

struct Record {
  std::string id, prompt, image;  // image: the input image path (understanding tasks)
};

struct TaskRecords {
  std::string task, file;  // "vqa", "vqa.jsonl"
  std::string lines;       // the selected lines, verbatim
  std::vector<Record> records;
};

std::string get_string(const json& j, const char* key, const std::string& where) {
  if (!j.contains(key) || !j[key].is_string()) throw std::runtime_error(where + ": no string \"" + key + "\"");
  return j[key].get<std::string>();
}

// The first n (all when n < 0) records of DATA/<file>; checks the input images exist.
TaskRecords read_task(const std::string& data, const char* task, const char* file, int64_t n) {
  TaskRecords t{task, file, "", {}};
  const fs::path path = fs::path(data) / file;
  if (!fs::is_regular_file(path))
    throw std::runtime_error(path.string() + ": missing (--data must be a folder made by `janus shapes gen`)");
  std::istringstream in(train::read_file(path.string()));
  std::string line;
  for (int ln = 1; std::getline(in, line) && (n < 0 || int64_t(t.records.size()) < n); ++ln) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path.string() + ":" + std::to_string(ln);
    json j;
    try {
      j = json::parse(line);
    } catch (const std::exception& e) {
      throw std::runtime_error(where + ": not JSON (" + e.what() + ")");
    }
    Record r{get_string(j, "id", where), get_string(j, "prompt", where), ""};
    if (t.task != "t2i") {
      if (!j.contains("images") || !j["images"].is_array() || j["images"].size() != 1 || !j["images"][0].is_string())
        throw std::runtime_error(where + ": \"images\" must hold one image path");
      r.image = (fs::path(data) / j["images"][0].get<std::string>()).string();
      if (!fs::is_regular_file(r.image)) throw std::runtime_error(r.image + ": missing (named by " + where + ")");
    }
    t.records.push_back(r);
    t.lines += line + "\n";
  }
  return t;
}

}  // namespace

ShapesModelEvalFiles run_shapes_model_eval(const ShapesModelEvalOptions& opt,
                                           const std::function<void(const char*, int64_t, int64_t)>& progress) {
  if (opt.images_per_prompt < 1 || opt.images_per_prompt > 64)
    throw std::runtime_error("--images-per-prompt must be in [1, 64]");
  if (opt.n == 0) throw std::runtime_error("--n must be >= 1");
  for (const std::string& t : opt.tasks)
    if (t != "caption" && t != "vqa" && t != "reasoning" && t != "t2i")
      throw std::runtime_error("--tasks: unknown task '" + t + "' (expected caption, vqa, reasoning, t2i)");
  if (opt.tasks.empty()) throw std::runtime_error("--tasks: no task given");
  if (!fs::is_directory(opt.data)) throw std::runtime_error(opt.data + ": not a folder (--data)");
  // Every input of DATA is checked before the (slow) model load.
  std::vector<TaskRecords> tasks;
  for (const auto& tf : kTaskFiles)
    if (std::find(opt.tasks.begin(), opt.tasks.end(), tf[0]) != opt.tasks.end())
      tasks.push_back(read_task(opt.data, tf[0], tf[1], opt.n));

  const JanusSession s(opt.model);  // before OUT is touched
  ShapesModelEvalFiles files;
  files.model_dir = s.dir();
  files.sampling = s.image_sampling(opt.cfg, opt.temperature);
  files.truth = (fs::path(opt.out) / "truth").string();
  fs::create_directories(files.truth);
  for (const TaskRecords& t : tasks) train::write_file_atomic((fs::path(files.truth) / t.file).string(), t.lines);

  // Understanding: greedy answers, one image per record (records of one scene share it).
  int64_t total = 0, done = 0;
  for (const TaskRecords& t : tasks)
    if (t.task != "t2i") total += int64_t(t.records.size());
  llm::GenerateOptions gopt = s.answer_options();
  gopt.max_new_tokens = opt.max_new_tokens;
  gopt.sampling = {0.0f, 0, 1.0f, 0.0f};
  std::string cached_image;
  kernels::Tensor embeds;
  for (const TaskRecords& t : tasks) {
    if (t.task == "t2i") continue;
    std::string answers;
    for (const Record& r : t.records) {
      if (r.image != cached_image) {
        embeds = s.model().image_embeds(s.load_pixels({r.image}));
        cached_image = r.image;
      }
      const std::string text =
          s.answer(s.chat_ids(s.system_prompt().empty()
                                  ? std::vector<tokenizers::ChatMessage>{{"user", image_slots(1) + r.prompt}}
                                  : std::vector<tokenizers::ChatMessage>{{"system", s.system_prompt()},
                                                                         {"user", image_slots(1) + r.prompt}}),
                   embeds, gopt);
      // A random or half-trained model may emit invalid UTF-8: replaced (U+FFFD), as scored.
      answers += json{{"id", r.id}, {"answer", text}}.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
      if (progress) progress("records", ++done, total);
    }
    const std::string path = (fs::path(opt.out) / ("answers_" + t.task + ".jsonl")).string();
    train::write_file_atomic(path, answers);
    files.answer_files.push_back(path);
  }

  // Text-to-image: K samples per prompt with CFG.
  for (const TaskRecords& t : tasks) {
    if (t.task != "t2i") continue;
    files.images = (fs::path(opt.out) / "images").string();
    files.prompts = (fs::path(files.truth) / t.file).string();
    fs::create_directories(files.images);
    for (const auto& e : fs::directory_iterator(files.images))
      if (e.is_regular_file() && e.path().extension() == ".png") fs::remove(e.path());
    llm::ImageGenOptions iopt;
    iopt.num_images = opt.images_per_prompt;
    iopt.cfg_weight = files.sampling.cfg;
    iopt.sampling = {files.sampling.temperature, 0, 1.0f, 0.0f};
    iopt.seed = opt.seed;
    const std::string params = "seed=" + std::to_string(opt.seed) + " cfg=" + std::to_string(files.sampling.cfg) +
                               " temperature=" + std::to_string(files.sampling.temperature);
    for (size_t i = 0; i < t.records.size(); ++i) {
      const Record& r = t.records[i];
      const llm::ImageGenResult g = llm::generate_images(s.model(), s.t2i_ids(r.prompt), s.pad_id(), iopt);
      for (int64_t k = 0; k < opt.images_per_prompt; ++k)
        vision::save_png((fs::path(files.images) / (r.id + "_" + std::to_string(k) + ".png")).string(),
                         vision::postprocess(g.images.select(0, k)),
                         {{"prompt", r.prompt},
                          {"parameters", params + " index=" + std::to_string(k)},
                          {"Software", "janus shapes eval"}});
      if (progress) progress("prompts", int64_t(i + 1), int64_t(t.records.size()));
    }
  }
  return files;
}

}  // namespace janus::app
