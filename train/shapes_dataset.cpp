// Shapes-world data sets on disk: generation (resumable) and evaluation of answers and images.
#include "train/shapes_dataset.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>
#include <sstream>
#include <stdexcept>

#include "train/atomic_file.h"
#include "train/json_file.h"
#include "train/shapes_tasks.h"
#include "vision/image.h"
#include "vision/shapes_detect.h"
#include "vision/shapes_render.h"

namespace janus::train::shapes {

namespace fs = std::filesystem;
using namespace vision::shapes;
using nlohmann::json;

namespace {

constexpr const char* kGenerator = "janus-shapes-v1";
const char* const kTaskFiles[][2] = {
    {"caption", "captions.jsonl"}, {"vqa", "vqa.jsonl"}, {"reasoning", "reasoning.jsonl"}, {"t2i", "t2i.jsonl"}};

// The scene detected in an image file. An image the detector cannot read (not square, side outside
// [kMinCanvas, kMaxCanvas], e.g. a small model's 16 px drawing) detects nothing and counts in
// *undetectable: it is a sample that failed, as GenEval scores an unusable image.
DetectResult detect_file(const std::string& path, int64_t* undetectable) {
  const vision::Image img = vision::load_image(path);
  if (img.width != img.height || img.width < kMinCanvas || img.width > kMaxCanvas) {
    ++*undetectable;
    return DetectResult();
  }
  return detect_scene(img);
}

// Calls f(line_number, parsed_object) for every non-blank line of a JSONL file.
void for_each_jsonl(const std::string& path, const std::function<void(int, const json&)>& f) {
  std::istringstream in(read_file(path));
  std::string line;
  for (int ln = 1; std::getline(in, line); ++ln) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    json j;
    try {
      j = json::parse(line);
    } catch (const std::exception& e) {
      throw std::runtime_error(path + ":" + std::to_string(ln) + ": invalid JSON (" + e.what() + ")");
    }
    if (!j.is_object()) throw std::runtime_error(path + ":" + std::to_string(ln) + ": expected a JSON object");
    f(ln, j);
  }
}

std::string get_string(const json& j, const char* key, const std::string& where) {
  if (!j.contains(key) || !j[key].is_string()) throw std::runtime_error(where + ": needs string \"" + key + "\"");
  return j[key].get<std::string>();
}

}  // namespace

std::string scene_id(int64_t index) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%06lld", (long long)index);
  return buf;
}

std::vector<json> scene_records(uint64_t seed, int64_t index, int canvas, int vqa_per_scene, int reasoning_per_scene) {
  const Scene s = generate_scene(seed, uint64_t(index), canvas);
  const std::string id = scene_id(index), image = "images/" + id + ".png", cap = caption(s);
  const json sj = scene_to_json(s);
  auto rec = [&](const std::string& rid, const char* task, const std::string& kind, const std::string& prompt,
                 const std::string& answer) {
    return json{{"id", rid},        {"task", task},      {"kind", kind}, {"prompt", prompt},
                {"answer", answer}, {"images", {image}}, {"scene", sj}};
  };
  std::vector<json> out;
  out.push_back(rec(id + "-cap", "caption", "caption", kCaptionPrompt, cap));
  const auto vqa = vqa_questions(s, seed, uint64_t(index), vqa_per_scene);
  for (size_t k = 0; k < vqa.size(); ++k)
    out.push_back(rec(id + "-vqa-" + std::to_string(k), "vqa", vqa[k].kind, vqa[k].question, vqa[k].answer));
  const auto rsn = reasoning_questions(s, seed, uint64_t(index), reasoning_per_scene);
  for (size_t k = 0; k < rsn.size(); ++k)
    out.push_back(rec(id + "-rsn-" + std::to_string(k), "reasoning", rsn[k].kind, rsn[k].question, rsn[k].answer));
  out.push_back(rec(id, "t2i", "t2i", cap, ""));
  return out;
}

GenStats generate_dataset(const GenOptions& opt, const std::function<void(int64_t, int64_t)>& progress) {
  if (opt.out.empty()) throw std::runtime_error("shapes gen: no output folder");
  if (opt.n < 1) throw std::runtime_error("shapes gen: --n must be >= 1, got " + std::to_string(opt.n));
  if (opt.canvas < kMinCanvas || opt.canvas > kMaxCanvas)
    throw std::runtime_error("shapes gen: --size must be in [" + std::to_string(kMinCanvas) + ", " +
                             std::to_string(kMaxCanvas) + "], got " + std::to_string(opt.canvas));
  const fs::path dir(opt.out), meta_path = dir / "meta.json";
  if (fs::exists(meta_path)) {  // resuming: same generator, seed and canvas only
    const json m = read_json_file(meta_path.string());
    bool same = false;
    try {  // value() throws json::type_error for a field of another type
      same = m.value("generator", "") == kGenerator && m.value("seed", uint64_t(0)) == opt.seed &&
             m.value("canvas", 0) == opt.canvas;
    } catch (const json::exception& e) {
      throw std::runtime_error(meta_path.string() + ": " + e.what());
    }
    if (!same)
      throw std::runtime_error(meta_path.string() + ": folder holds a data set with " + m.dump() +
                               "; refusing to mix it with seed " + std::to_string(opt.seed) + ", canvas " +
                               std::to_string(opt.canvas) + " (use another --out)");
  }
  fs::create_directories(dir / "images");
  const json meta = {{"generator", kGenerator}, {"seed", opt.seed}, {"n", opt.n}, {"canvas", opt.canvas}};
  // meta.json first (records the seed before any image exists), rewritten with the final n below.
  if (!fs::exists(meta_path)) write_file_atomic(meta_path.string(), meta.dump(1) + "\n");

  GenStats stats;
  std::map<std::string, std::string> files;  // task -> JSONL contents
  std::string scenes;
  for (int64_t i = 0; i < opt.n; ++i) {
    const std::vector<json> recs = scene_records(opt.seed, i, opt.canvas, opt.vqa_per_scene, opt.reasoning_per_scene);
    for (const json& r : recs) files[r["task"].get<std::string>()] += r.dump() + "\n";
    const std::string image = "images/" + scene_id(i) + ".png";
    const json& sj = recs.front()["scene"];
    scenes += json{{"id", scene_id(i)}, {"image", image}, {"scene", sj}}.dump() + "\n";
    const fs::path png = dir / image;
    std::error_code ec;
    if (fs::is_regular_file(png, ec) && fs::file_size(png, ec) > 0) {
      ++stats.kept;
    } else {
      vision::save_png(png.string(), render_scene(scene_from_json(sj)), {{"scene", sj.dump()}});
      ++stats.written;
    }
    if (progress) progress(i + 1, opt.n);
  }
  for (const auto& tf : kTaskFiles) write_file_atomic((dir / tf[1]).string(), files[tf[0]]);
  write_file_atomic((dir / "scenes.jsonl").string(), scenes);
  write_file_atomic(meta_path.string(), meta.dump(1) + "\n");
  return stats;
}

json AnswerReport::to_json() const {
  auto tallies = [](const std::map<std::string, AnswerTally>& m) {
    json j = json::object();
    for (const auto& [k, t] : m)
      j[k] = {{"n", t.n}, {"correct", t.correct}, {"accuracy", t.accuracy()}, {"think", t.think}};
    return j;
  };
  return {{"tasks", tallies(per_task)}, {"kinds", tallies(per_kind)}, {"missing", missing}, {"unknown", unknown}};
}

AnswerReport evaluate_answers(const std::string& data_dir, const std::vector<std::string>& answer_files) {
  struct Truth {
    std::string task, kind, answer;
    bool answered = false;
  };
  std::map<std::string, Truth> truth;
  int found = 0;
  for (const auto& tf : kTaskFiles) {
    if (std::string(tf[0]) == "t2i") continue;
    const fs::path p = fs::path(data_dir) / tf[1];
    if (!fs::exists(p)) continue;
    ++found;
    for_each_jsonl(p.string(), [&](int ln, const json& j) {
      const std::string where = p.string() + ":" + std::to_string(ln);
      truth[get_string(j, "id", where)] =
          Truth{get_string(j, "task", where), j.value("kind", std::string()), get_string(j, "answer", where)};
    });
  }
  if (!found) throw std::runtime_error(data_dir + ": no captions.jsonl, vqa.jsonl or reasoning.jsonl (not a data set)");
  AnswerReport rep;
  std::set<std::string> answered_tasks;
  auto tally = [&](const Truth& t, bool ok, bool think) {
    for (AnswerTally* a : {&rep.per_task[t.task], &rep.per_kind[t.task + "/" + t.kind]}) {
      ++a->n;
      a->correct += ok;
      a->think += think;
    }
  };
  for (const std::string& file : answer_files) {
    for_each_jsonl(file, [&](int ln, const json& j) {
      const std::string where = file + ":" + std::to_string(ln);
      const std::string id = get_string(j, "id", where), answer = get_string(j, "answer", where);
      auto it = truth.find(id);
      if (it == truth.end()) {
        ++rep.unknown;
        return;
      }
      if (it->second.answered) throw std::runtime_error(where + ": second answer for id \"" + id + "\"");
      it->second.answered = true;
      answered_tasks.insert(it->second.task);
      tally(it->second, answer_correct(it->second.task, answer, it->second.answer), has_think_trace(answer));
    });
  }
  for (const auto& [id, t] : truth)
    if (!t.answered && answered_tasks.count(t.task)) {
      ++rep.missing;
      tally(t, false, false);
    }
  return rep;
}

json ImageReport::to_json() const {
  json by = json::object();
  for (const auto& [k, t] : by_objects) by[std::to_string(k)] = t.to_json();
  return {{"all", all.to_json()},         {"by_objects", by},
          {"prompts", prompts},           {"missing_prompts", missing_prompts},
          {"undetectable", undetectable}, {"mean_iou", mean_iou}};
}

ImageReport evaluate_images(const std::string& images_dir, const std::string& prompts_file) {
  struct Prompt {
    std::string id;
    Scene scene;
  };
  std::vector<Prompt> prompts;
  std::map<std::string, size_t> by_id;
  for_each_jsonl(prompts_file, [&](int ln, const json& j) {
    const std::string where = prompts_file + ":" + std::to_string(ln);
    Prompt p{get_string(j, "id", where), {}};
    if (j.contains("scene")) {
      try {
        p.scene = scene_from_json(j["scene"]);
      } catch (const std::exception& e) {
        throw std::runtime_error(where + ": " + e.what());
      }
    } else {
      std::string err;
      if (!parse_caption(get_string(j, "prompt", where), &p.scene, &err))
        throw std::runtime_error(where + ": prompt is not a shapes caption (" + err + ")");
    }
    if (by_id.count(p.id)) throw std::runtime_error(where + ": duplicate id \"" + p.id + "\"");
    by_id[p.id] = prompts.size();
    prompts.push_back(p);
  });
  if (!fs::is_directory(images_dir)) throw std::runtime_error(images_dir + ": not a folder");
  std::vector<std::vector<std::string>> files(prompts.size());
  for (const auto& e : fs::directory_iterator(images_dir)) {
    if (!e.is_regular_file() || e.path().extension() != ".png") continue;
    const std::string stem = e.path().stem().string();
    auto it = by_id.find(stem);
    if (it == by_id.end()) {
      const size_t u = stem.rfind('_');
      if (u == std::string::npos || u + 1 == stem.size() ||
          stem.find_first_not_of("0123456789", u + 1) != std::string::npos)
        continue;
      it = by_id.find(stem.substr(0, u));
      if (it == by_id.end()) continue;
    }
    files[it->second].push_back(e.path().string());
  }
  ImageReport rep;
  double iou_sum = 0;
  int64_t iou_n = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    ++rep.prompts;
    if (files[i].empty()) {
      ++rep.missing_prompts;
      continue;
    }
    std::sort(files[i].begin(), files[i].end());
    for (const std::string& f : files[i]) {
      const DetectResult d = detect_file(f, &rep.undetectable);
      for (const Detection& det : d.detections) iou_sum += det.iou, ++iou_n;
      const ImageScore s = score_image(prompts[i].scene, d.scene);
      rep.all.add(s);
      rep.by_objects[int(prompts[i].scene.objects.size())].add(s);
    }
  }
  if (rep.all.n == 0)
    throw std::runtime_error(images_dir + ": no images named <id>.png or <id>_<k>.png for the " +
                             std::to_string(prompts.size()) + " prompts of " + prompts_file);
  rep.mean_iou = iou_n ? iou_sum / double(iou_n) : 0.0;
  return rep;
}

ImageReport evaluate_images_for_prompt(const std::string& images_dir, const Scene& prompt,
                                       std::vector<ImageVerdict>* verdicts) {
  if (!fs::is_directory(images_dir)) throw std::runtime_error(images_dir + ": not a folder");
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(images_dir))
    if (e.is_regular_file() && e.path().extension() == ".png") files.push_back(e.path().string());
  if (files.empty()) throw std::runtime_error(images_dir + ": no .png images");
  std::sort(files.begin(), files.end());
  ImageReport rep;
  rep.prompts = 1;
  double iou_sum = 0;
  int64_t iou_n = 0;
  for (const std::string& f : files) {
    const DetectResult d = detect_file(f, &rep.undetectable);
    for (const Detection& det : d.detections) iou_sum += det.iou, ++iou_n;
    const ImageScore s = score_image(prompt, d.scene);
    rep.all.add(s);
    rep.by_objects[int(prompt.objects.size())].add(s);
    if (verdicts) verdicts->push_back({f, d.scene, s});
  }
  rep.mean_iou = iou_n ? iou_sum / double(iou_n) : 0.0;
  return rep;
}

}  // namespace janus::train::shapes
