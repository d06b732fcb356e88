// janus vq train --recipe FILE.json [--steps N] [--resume] [--out DIR] [--no-eval] [--threads N]
//     trains the VQ image tokenizer of a "kind": "vq" recipe (train/run_vq.h), exports it, then
//     scores it on the recipe's held-out shapes scenes (train/vq_eval.h)
// janus vq eval --model DIR [--n 200] [--seed S] [--json FILE] [--dump DIR] [--threads N]
//     scores an exported VQ tokenizer on held-out shapes scenes: reconstruction MSE, codebook
//     usage and the detector's exact-scene accuracy on the decoded images
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "command.h"
#include "kernels/thread_pool.h"
#include "train/atomic_file.h"
#include "train/run_vq.h"
#include "train/vq_eval.h"
#include "vision/shapes_render.h"
#include "vision/shapes_scene.h"

namespace {
using namespace janus::train;
using nlohmann::json;

struct Args {
  std::string recipe, out, model, json_path, dump_dir;
  int64_t steps = -1, n = 200, dump = 8;
  int threads = 0;  // 0: JANUS_THREADS or all cores
  uint64_t seed = 1000003;
  bool resume = false, no_eval = false;
};

json report(const VqShapesEval& e, uint64_t seed, int size) {
  std::printf(
      "vq eval: %lld held-out scenes (seed %llu, %dx%d): mse %.5f, codes used %lld/%lld (%.1f%%), "
      "detector exact %lld/%lld (%.1f%%), objects %lld/%lld "
      "(wrong shape %lld, colour %lld, size %lld; missing %lld, extra %lld), %.1f s\n",
      (long long)e.scenes, (unsigned long long)seed, size, size, e.mse, (long long)e.codes_used,
      (long long)e.codebook_size, 100 * e.usage(), (long long)e.exact, (long long)e.scenes, 100 * e.exact_rate(),
      (long long)e.objects_right, (long long)e.objects, (long long)e.wrong_shape, (long long)e.wrong_colour,
      (long long)e.wrong_size, (long long)e.missing, (long long)e.extra, e.seconds);
  std::string by;
  for (int k = 0; k < janus::vision::shapes::kNumShapes; ++k)
    for (int z = 0; z < janus::vision::shapes::kNumSizes; ++z)
      if (e.wrong_shape_of[k][z] > 0)
        by += std::string(by.empty() ? "" : ", ") + janus::vision::shapes::size_name(janus::vision::shapes::Size(z)) +
              " " + janus::vision::shapes::shape_name(janus::vision::shapes::Shape(k)) + " " +
              std::to_string(e.wrong_shape_of[k][z]);
  if (!by.empty()) std::printf("vq eval: wrong shapes by true object: %s\n", by.c_str());
  return {{"scenes", e.scenes},
          {"seed", seed},
          {"mse", e.mse},
          {"codes_used", e.codes_used},
          {"codebook_size", e.codebook_size},
          {"usage", e.usage()},
          {"exact", e.exact},
          {"exact_rate", e.exact_rate()},
          {"objects", e.objects},
          {"objects_right", e.objects_right},
          {"wrong_shape", e.wrong_shape},
          {"wrong_colour", e.wrong_colour},
          {"wrong_size", e.wrong_size},
          {"missing", e.missing},
          {"extra", e.extra}};
}

int run_train(const Args& a) {
  if (a.threads > 0) janus::kernels::set_num_threads(a.threads);
  VqTrainOptions o = load_vq_options(a.recipe);
  if (!a.out.empty()) set_output_dir(o, a.out);
  VqTrainOverrides ov;
  ov.stop_at_step = a.steps;
  ov.resume = a.resume;
  const VqTrainResult r = train_vq(o, ov);
  std::printf("vq train: steps %lld..%lld, batch %lld, %.1f s, loss %.5f -> %.5f (rec %.5f), exported %s\n",
              (long long)r.start_step, (long long)r.last.step, (long long)o.batch, r.seconds, r.first_loss, r.last.loss,
              r.last.extra.count("rec") ? r.last.extra.at("rec") : 0.0, r.export_dir.c_str());
  if (a.no_eval || o.eval_scenes == 0) return 0;
  const LoadedVq vq = load_vq_export(r.export_dir);
  json j = report(evaluate_vq_shapes(vq.model, o.eval_seed, o.eval_scenes, vq.image_size), o.eval_seed, vq.image_size);
  j["steps"] = r.last.step;
  j["batch"] = o.batch;
  j["train_seconds"] = r.seconds;
  write_file_atomic(o.output_dir + "/eval.json", j.dump(2) + "\n");
  return 0;
}

int run_eval(const Args& a) {
  if (a.threads > 0) janus::kernels::set_num_threads(a.threads);
  const LoadedVq vq = load_vq_export(a.model);
  const json j = report(evaluate_vq_shapes(vq.model, a.seed, a.n, vq.image_size), a.seed, vq.image_size);
  if (!a.json_path.empty()) write_file_atomic(a.json_path, j.dump(2) + "\n");
  if (!a.dump_dir.empty()) {  // scene | reconstruction side by side
    std::filesystem::create_directories(a.dump_dir);
    for (int64_t i = 0; i < a.dump; ++i) {
      namespace sh = janus::vision::shapes;
      const janus::vision::Image img = sh::render_scene(sh::generate_scene(a.seed, uint64_t(i), vq.image_size));
      const janus::vision::Image rec = vq_reconstruct(vq.model, img);
      janus::vision::Image both = janus::vision::Image::make(img.width * 2, img.height, 3);
      for (int y = 0; y < img.height; ++y) {
        std::memcpy(both.at(0, y), img.data.data() + size_t(y) * img.row_bytes(), img.row_bytes());
        std::memcpy(both.at(img.width, y), rec.data.data() + size_t(y) * rec.row_bytes(), rec.row_bytes());
      }
      janus::vision::save_png(a.dump_dir + "/" + std::to_string(i) + ".png", both);
    }
    std::printf("wrote %lld scene|reconstruction pairs to %s\n", (long long)a.dump, a.dump_dir.c_str());
  }
  return 0;
}

janus::app::Registrar reg("vq", "VQ image tokenizer: train from a recipe, score on shapes scenes", [](CLI::App& sub) {
  auto a = std::make_shared<Args>();
  sub.require_subcommand(1);
  CLI::App* tr = sub.add_subcommand("train", "Train a \"kind\": \"vq\" recipe, export, then evaluate");
  tr->add_option("--recipe", a->recipe, "recipe JSON (train/run_vq.h)")->required();
  tr->add_option("--steps", a->steps, "stop after this many steps (the schedule keeps the recipe's)");
  tr->add_flag("--resume", a->resume, "continue from the latest valid checkpoint");
  tr->add_option("--out", a->out, "output folder (default: the recipe's output.dir)");
  tr->add_flag("--no-eval", a->no_eval, "skip the held-out evaluation");
  tr->add_option("--threads", a->threads, "CPU threads (default: all cores)")->check(CLI::Range(1, 1024));
  CLI::App* ev = sub.add_subcommand("eval", "Score an exported VQ tokenizer on held-out shapes scenes");
  ev->add_option("--model", a->model, "export folder (config.json + model.safetensors)")->required();
  ev->add_option("--n", a->n, "number of scenes (default 200)");
  ev->add_option("--seed", a->seed, "scene seed (default 1000003, never used for training)");
  ev->add_option("--json", a->json_path, "where to write the scores as JSON");
  ev->add_option("--dump", a->dump_dir, "write the first scenes and their reconstructions side by side here");
  ev->add_option("--threads", a->threads, "CPU threads (default: all cores)")->check(CLI::Range(1, 1024));
  return [a, tr] { return tr->parsed() ? run_train(*a) : run_eval(*a); };
});
}  // namespace
