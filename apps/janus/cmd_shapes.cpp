// janus shapes gen --n N --seed S --out DIR [--size 64]     shapes-world data set (train/shapes_dataset.h)
// janus shapes eval --data DIR --answers FILE.jsonl...      answer accuracy per task (VQA, captions, reasoning)
// janus shapes eval --images DIR --prompts FILE.jsonl       GenEval-style scores of generated images
// janus shapes eval --images DIR --prompt "a large red ..."  every PNG of DIR against one caption
// janus shapes eval --model M --data DIR [--out OUT] [--n N]  runs model M on DIR (answers + K images
//                   [--images-per-prompt K] [--tasks ...]   per t2i prompt, shapes_model_eval.h), scores both
// janus shapes detect IMAGE...                              detected scene + caption per image (JSON lines)
// Eval prints a table and writes the numbers as JSON (--json, default next to the input; with
// --model OUT/scores.json).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "apps/janus/command.h"
#include "apps/janus/shapes_model_eval.h"
#include "kernels/thread_pool.h"
#include "train/atomic_file.h"
#include "train/shapes_dataset.h"
#include "train/shapes_tasks.h"
#include "vision/image.h"
#include "vision/shapes_detect.h"

namespace {
using namespace janus::train::shapes;
using nlohmann::json;

struct Args {
  int64_t n = 1000;
  uint64_t seed = 0;
  int size = 64;
  std::string out, data, images, prompts, prompt, json_path;
  std::vector<std::string> answers, detect_images;
  // eval --model
  std::string model, eval_out, tasks = "caption,vqa,reasoning,t2i";
  int64_t eval_n = -1, images_per_prompt = 4;
  float cfg = 5.0f, temperature = 1.0f;  // used only when given (else the model's defaults)
  CLI::Option *cfg_flag = nullptr, *temperature_flag = nullptr;
  uint64_t eval_seed = 0;
  int threads = 0;
};

void progress(const char* unit, int64_t done, int64_t total) {
  static const bool tty = isatty(fileno(stderr));
  const int width = 30, filled = int(width * done / total);
  if (!tty && done != total && (done * 10 / total) == ((done - 1) * 10 / total)) return;  // every 10 %
  std::fprintf(stderr, "%s[%s%s] %lld/%lld %s%s", tty ? "\r" : "", std::string(filled, '#').c_str(),
               std::string(width - filled, '.').c_str(), (long long)done, (long long)total, unit,
               (tty && done != total) ? "" : "\n");
  std::fflush(stderr);
}

int run_gen(const Args& a) {
  GenOptions opt;
  opt.out = a.out;
  opt.n = a.n;
  opt.seed = a.seed;
  opt.canvas = a.size;
  const GenStats st = generate_dataset(opt, [](int64_t d, int64_t t) { progress("scenes", d, t); });
  std::printf("shapes gen: %lld scenes (%lld images written, %lld kept) -> %s\n", (long long)a.n, (long long)st.written,
              (long long)st.kept, a.out.c_str());
  return 0;
}

void write_json(const std::string& path, const json& j) {
  janus::train::write_file_atomic(path, j.dump(2) + "\n");
  std::printf("wrote %s\n", path.c_str());
}

void print_answers(const AnswerReport& r) {
  std::printf("%-24s %8s %8s %9s %7s\n", "task", "n", "correct", "accuracy", "think");
  for (const auto& [task, t] : r.per_task) {
    std::printf("%-24s %8lld %8lld %8.2f%% %7lld\n", task.c_str(), (long long)t.n, (long long)t.correct,
                100 * t.accuracy(), (long long)t.think);
    for (const auto& [kind, k] : r.per_kind)
      if (kind.rfind(task + "/", 0) == 0)
        std::printf("  %-22s %8lld %8lld %8.2f%% %7lld\n", kind.c_str() + task.size() + 1, (long long)k.n,
                    (long long)k.correct, 100 * k.accuracy(), (long long)k.think);
  }
  std::printf("missing answers (counted wrong): %lld, answers with unknown ids: %lld\n", (long long)r.missing,
              (long long)r.unknown);
}

void print_images(const ImageReport& r) {
  std::printf("%-10s %6s %8s %8s %8s %9s %8s %8s %8s\n", "objects", "images", "object", "count", "colour", "position",
              "size", "exact", "overall");
  auto row = [](const std::string& name, const ImageTally& t) {
    std::printf("%-10s %6lld %8.3f %8.3f %8.3f %9.3f %8.3f %8.3f %8.3f\n", name.c_str(), (long long)t.n,
                t.rate(t.object), t.rate(t.count), t.rate(t.colour), t.rate(t.position), t.rate(t.size),
                t.rate(t.exact), t.overall());
  };
  for (const auto& [k, t] : r.by_objects) row(std::to_string(k), t);
  row("all", r.all);
  std::printf("prompts %lld (without images: %lld), mean template IoU %.3f\n", (long long)r.prompts,
              (long long)r.missing_prompts, r.mean_iou);
  if (r.undetectable)
    std::printf("images the detector cannot read (not square or side outside [%d, %d]; scored as empty): %lld\n",
                janus::vision::shapes::kMinCanvas, janus::vision::shapes::kMaxCanvas, (long long)r.undetectable);
}

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= s.size()) {
    const size_t j = std::min(s.find(',', i), s.size());
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

// --model: the model answers and draws (shapes_model_eval.h), then the file-based scorers run on
// what it wrote, so re-scoring OUT's files with --answers / --images gives the same numbers.
int run_model_eval(const Args& a) {
  if (a.threads > 0) janus::kernels::set_num_threads(a.threads);
  janus::app::ShapesModelEvalOptions o;
  o.model = a.model;
  o.data = a.data;
  std::filesystem::path model_name = std::filesystem::path(a.model);
  if (model_name.filename().empty()) model_name = model_name.parent_path();  // "DIR/"
  o.out = a.eval_out.empty() ? (std::filesystem::path(a.data) / ("eval-" + model_name.filename().string())).string()
                             : a.eval_out;
  o.n = a.eval_n;
  o.images_per_prompt = a.images_per_prompt;
  if (a.cfg_flag->count()) o.cfg = a.cfg;
  if (a.temperature_flag->count()) o.temperature = a.temperature;
  o.seed = a.eval_seed;
  o.tasks = split_list(a.tasks);
  const janus::app::ShapesModelEvalFiles f = janus::app::run_shapes_model_eval(o, progress);
  json j = {{"model", f.model_dir},
            {"data", a.data},
            {"out", o.out},
            {"settings",
             {{"n", o.n},
              {"tasks", o.tasks},
              {"max_new_tokens", o.max_new_tokens},
              {"images_per_prompt", o.images_per_prompt},
              {"cfg", f.sampling.cfg},
              {"temperature", f.sampling.temperature},
              {"sampling_from", f.sampling.source},
              {"seed", o.seed}}}};
  if (!f.images.empty())
    std::printf("image sampling: cfg %g, temperature %g (%s)\n", f.sampling.cfg, f.sampling.temperature,
                f.sampling.source.c_str());
  if (o.n >= 0) std::printf("scored: the first %lld records of each task file (%s)\n", (long long)o.n, f.truth.c_str());
  if (!f.answer_files.empty()) {
    const AnswerReport r = evaluate_answers(f.truth, f.answer_files);
    print_answers(r);
    j["answers"] = r.to_json();
  }
  if (!f.images.empty()) {
    const ImageReport r = evaluate_images(f.images, f.prompts);
    print_images(r);
    j["images"] = r.to_json();
  }
  write_json(a.json_path.empty() ? o.out + "/scores.json" : a.json_path, j);
  return 0;
}

int run_eval(const Args& a) {
  if (!a.model.empty()) {
    if (a.data.empty() || !a.answers.empty() || !a.images.empty() || !a.prompts.empty() || !a.prompt.empty())
      throw std::runtime_error("--model takes --data DIR (and no --answers, --images, --prompts or --prompt)");
    return run_model_eval(a);
  }
  const bool answers = !a.data.empty() || !a.answers.empty();
  const bool images = !a.images.empty() || !a.prompts.empty() || !a.prompt.empty();
  if (answers == images || (answers && (a.data.empty() || a.answers.empty())) ||
      (images && (a.images.empty() || a.prompts.empty() == a.prompt.empty())))
    throw std::runtime_error(
        "give either --data DIR --answers FILE.jsonl, --model DIR --data DIR, or --images DIR with --prompts "
        "FILE.jsonl or --prompt CAPTION");
  if (answers) {
    const AnswerReport r = evaluate_answers(a.data, a.answers);
    print_answers(r);
    write_json(a.json_path.empty() ? a.answers.front() + ".eval.json" : a.json_path, r.to_json());
    return 0;
  }
  ImageReport r;
  if (!a.prompt.empty()) {
    janus::vision::shapes::Scene want;
    std::string err;
    if (!parse_caption(a.prompt, &want, &err))
      throw std::runtime_error("--prompt is not a shapes caption (" + err + ")");
    std::vector<ImageVerdict> verdicts;
    r = evaluate_images_for_prompt(a.images, want, &verdicts);
    for (const ImageVerdict& v : verdicts)
      std::printf("%s: %s  [%s]\n", v.file.c_str(), caption(v.detected).c_str(),
                  v.score.exact ? "matches the prompt"
                                : (std::string("object ") + (v.score.object ? "ok" : "WRONG") + ", count " +
                                   (v.score.count ? "ok" : "WRONG") + ", colour " + (v.score.colour ? "ok" : "WRONG") +
                                   ", position " + (v.score.position ? "ok" : "WRONG") + ", size " +
                                   (v.score.size ? "ok" : "WRONG"))
                                      .c_str());
  } else {
    r = evaluate_images(a.images, a.prompts);
  }
  print_images(r);
  write_json(a.json_path.empty() ? a.images + "/eval.json" : a.json_path, r.to_json());
  return 0;
}

int run_detect(const Args& a) {
  for (const std::string& path : a.detect_images) {
    const janus::vision::shapes::DetectResult d = janus::vision::shapes::detect_scene(janus::vision::load_image(path));
    std::cout << json{{"image", path},
                      {"caption", caption(d.scene)},
                      {"scene", janus::vision::shapes::scene_to_json(d.scene)}}
                     .dump()
              << "\n";
  }
  return 0;
}

janus::app::Registrar reg(
    "shapes", "Shapes world: generate data sets, detect scenes, evaluate answers and images", [](CLI::App& sub) {
      auto a = std::make_shared<Args>();
      sub.require_subcommand(1);
      CLI::App* gen = sub.add_subcommand("gen", "Generate a data set (images + JSONL tasks)");
      gen->add_option("--n", a->n, "number of scenes")->required();
      gen->add_option("--seed", a->seed, "data set seed")->required();
      gen->add_option("--out", a->out, "output folder (resumable)")->required();
      gen->add_option("--size", a->size, "canvas side in pixels (default 64)");
      CLI::App* ev = sub.add_subcommand("eval", "Score answers or generated images");
      ev->add_option("--data", a->data, "data set folder (ground truth for --answers and --model)");
      ev->add_option("--answers", a->answers, "JSONL files of {\"id\", \"answer\"}")->expected(1, -1);
      ev->add_option("--images", a->images, "folder of <id>.png / <id>_<k>.png");
      ev->add_option("--prompts", a->prompts, "JSONL prompts (e.g. DIR/t2i.jsonl)");
      ev->add_option("--prompt", a->prompt, "one caption: every PNG of --images is its sample");
      ev->add_option("--json", a->json_path, "where to write the scores as JSON");
      ev->add_option("--model", a->model, "Janus model folder: run it on --data, then score its answers and images");
      ev->add_option("--out", a->eval_out, "--model: output folder (default DATA/eval-<model folder name>)");
      ev->add_option("--n", a->eval_n, "--model: at most N records per task file (default all)");
      ev->add_option("--images-per-prompt", a->images_per_prompt, "--model: images per t2i prompt (default 4)");
      a->cfg_flag = ev->add_option("--cfg", a->cfg,
                                   "--model: classifier-free guidance weight (default: the model's "
                                   "generation_config.json image_generation.cfg, else 5)")
                        ->check(janus::app::kNonNegative);
      a->temperature_flag = ev->add_option("--temperature", a->temperature,
                                           "--model: image sampling temperature (default: the model's "
                                           "image_generation.temperature, else 1)")
                                ->check(janus::app::kNonNegative);
      ev->add_option("--seed", a->eval_seed, "--model: image sampling seed (default 0)");
      ev->add_option("--threads", a->threads, "--model: CPU threads (default: all cores)");
      ev->add_option("--tasks", a->tasks, "--model: comma list of caption,vqa,reasoning,t2i (default all)");
      CLI::App* det = sub.add_subcommand("detect", "Print the detected scene of images");
      det->add_option("images", a->detect_images, "image files")->required()->expected(1, -1);
      return [a, gen, ev] {
        if (gen->parsed()) return run_gen(*a);
        if (ev->parsed()) return run_eval(*a);
        return run_detect(*a);
      };
    });
}  // namespace
