#include "train/run_vq.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <set>
#include <stdexcept>

#include "llm/safetensors.h"
#include "train/atomic_file.h"
#include "train/checkpoint.h"
#include "train/json_file.h"
#include "train/vq_data.h"
#include "train/vq_kmeans.h"

namespace janus::train {

namespace fs = std::filesystem;
namespace ag = kernels::ag;
using nlohmann::json;

namespace {

// The "quantize_after" switch (run_vq.h): k-means centroids of the encoder's ẑ on a fixed image set.
void init_codebook_by_kmeans(const vision::TrainVqModel& model, const VqTrainOptions& o, Rng& rng) {
  const int64_t V = o.vq.num_embeddings, E = o.vq.embed_dim, per_image = o.grid() * o.grid();
  const int64_t images = (32 * V + per_image - 1) / per_image;
  VqImageSource src = o.image_dir.empty()
                          ? VqImageSource::shapes(o.shapes_seed + 1, o.image_size, o.batch, per_image)
                          : VqImageSource::folder(o.image_dir, o.image_size, o.batch, o.data_seed + 1, true, per_image);
  std::vector<float> rows;
  ag::NoGradGuard no_grad;
  for (int64_t done = 0; done < images; done += o.batch) {
    const Batch b = src.next_batch();
    const std::vector<float> z =
        model.normed_latents(model.encode_latents(ag::Var::constant(b.pixel_values[0]))).value().to_f32_vector();
    rows.insert(rows.end(), z.begin(), z.end());
  }
  const std::vector<float> c = spherical_kmeans(rows, E, V, 50, rng);
  std::copy(c.begin(), c.end(), model.codebook().value().data<float>());
}

}  // namespace

VqTrainOptions::VqTrainOptions() {
  vq.embed_dim = 8;
  vq.num_embeddings = 512;
  vq.latent_channels = 32;
  vq.base_channels = 32;
  vq.channel_multiplier = {1, 1, 2};
  vq.num_res_blocks = 1;
  vq.num_patches = 16;
  lr = 1e-3;
  adamw.beta1 = 0.9;
  adamw.beta2 = 0.99;
  adamw.weight_decay = 0.0;
  adamw.groups = {no_decay_norms_and_biases()};
  schedule.kind = ScheduleKind::kCosine;
  schedule.peak_lr = lr;
  schedule.total_steps = steps;
  output_dir = "runs/shapes-vq";
  checkpoint_dir = output_dir + "/checkpoints";
  metrics_path = output_dir + "/metrics.jsonl";
  loss_plot_path = output_dir + "/loss.png";
  export_dir = output_dir + "/final";
}

json vq_export_config(const vision::VqConfig& c, int image_size) {
  return {{"model_type", "janus_vq"},
          {"image_size", image_size},
          {"vq_config",
           {{"embed_dim", c.embed_dim},
            {"num_embeddings", c.num_embeddings},
            {"latent_channels", c.latent_channels},
            {"in_channels", c.in_channels},
            {"out_channels", c.out_channels},
            {"base_channels", c.base_channels},
            {"channel_multiplier", c.channel_multiplier},
            {"num_res_blocks", c.num_res_blocks},
            {"num_patches", c.num_patches}}}};
}

VqTrainOptions parse_vq_options(const json& j, const std::string& file) {
  const JsonReader rd{file, fs::path(file).parent_path().string()};
  rd.keys(j, "", {"kind", "name", "model", "data", "loss", "optimizer", "schedule", "train", "eval", "output"});
  if (rd.string(j, "kind", "", "") != "vq") rd.fail("kind", "expected \"vq\" for a VQ tokenizer recipe");
  VqTrainOptions o;
  o.source = file;
  o.name = rd.string(j, "name", "", o.name);
  json canon = json::object();  // what the resume hash covers, defaults filled in

  const json m = rd.object(j, "model");
  rd.keys(m, "model", {"vq_config", "seed"});
  if (m.contains("vq_config")) {
    // Start from this function's tiny defaults, overridden by the given fields, then validate.
    json vc = vq_export_config(o.vq, o.image_size)["vq_config"];
    if (!m["vq_config"].is_object()) rd.fail("model.vq_config", "expected an object");
    for (const auto& [k, v] : m["vq_config"].items()) vc[k] = v;
    try {
      o.vq = vision::parse_vq_config(vc);
    } catch (const std::exception& e) {
      rd.fail("model.vq_config", e.what());
    }
  }
  o.init_seed = uint64_t(rd.integer(m, "seed", "model", 0, 0));

  const json d = rd.object(j, "data");
  rd.keys(d, "data", {"shapes_seed", "images", "seed", "shuffle", "image_size", "batch"});
  const bool has_images = d.contains("images"), has_shapes = d.contains("shapes_seed");
  if (has_images && has_shapes) rd.fail("data", "give either \"shapes_seed\" or \"images\", not both");
  if (has_images) {
    o.image_dir = rd.resolve(rd.string(d, "images", "data", ""));
    if (o.image_dir.empty()) rd.fail("data.images", "empty folder name");
  }
  o.shapes_seed = uint64_t(rd.integer(d, "shapes_seed", "data", 0, 0));
  o.data_seed = uint64_t(rd.integer(d, "seed", "data", 0, 0));
  o.shuffle = rd.boolean(d, "shuffle", "data", true);
  o.image_size = int(rd.integer(d, "image_size", "data", 64, 1));
  o.batch = rd.integer(d, "batch", "data", 8, 1);
  const int64_t f = o.vq.downsample_factor();
  if (o.image_size % f != 0 || o.image_size > 4096)
    rd.fail("data.image_size", std::to_string(o.image_size) + " is not a multiple of the downsample factor " +
                                   std::to_string(f) + " (at most 4096)");
  if (!has_images && (o.image_size < 48 || o.image_size > 1024))
    rd.fail("data.image_size", "shapes scenes need a canvas in [48, 1024], got " + std::to_string(o.image_size));
  o.vq.num_patches = o.image_size / f;
  canon["model"] = {{"vq_config", vq_export_config(o.vq, o.image_size)["vq_config"]}, {"seed", o.init_seed}};
  canon["data"] = {{"source", has_images ? "images:" + rd.string(d, "images", "data", "")
                                         : "shapes:" + std::to_string(o.shapes_seed)},
                   {"seed", o.data_seed},
                   {"shuffle", o.shuffle},
                   {"image_size", o.image_size},
                   {"batch", o.batch}};

  const json l = rd.object(j, "loss");
  rd.keys(l, "loss", {"beta", "codebook_weight", "reconstruction_weight", "restart_dead_codes", "quantize_after"});
  o.loss.beta = rd.number(l, "beta", "loss", 0.25);
  o.loss.codebook_weight = rd.number(l, "codebook_weight", "loss", 1.0);
  o.loss.reconstruction_weight = rd.number(l, "reconstruction_weight", "loss", 1.0);
  o.restart_dead_codes = rd.integer(l, "restart_dead_codes", "loss", 0, 0);
  o.quantize_after = rd.integer(l, "quantize_after", "loss", 0, 0);
  canon["loss"] = {{"beta", o.loss.beta},
                   {"restart_dead_codes", o.restart_dead_codes},
                   {"codebook_weight", o.loss.codebook_weight},
                   {"reconstruction_weight", o.loss.reconstruction_weight}};
  if (o.quantize_after > 0) canon["loss"]["quantize_after"] = o.quantize_after;

  parse_train_sections(rd, j, o, canon);
  if (o.quantize_after > 0 && o.quantize_after >= o.steps)
    rd.fail("loss.quantize_after", std::to_string(o.quantize_after) + " warm-up steps leave none of train.steps = " +
                                       std::to_string(o.steps) + " to train the codebook");

  const json e = rd.object(j, "eval");
  rd.keys(e, "eval", {"shapes_seed", "scenes"});
  o.eval_seed = uint64_t(rd.integer(e, "shapes_seed", "eval", int64_t(o.eval_seed), 0));
  o.eval_scenes = rd.integer(e, "scenes", "eval", o.eval_scenes, 0);

  parse_output_section(rd, j, "runs/" + o.name, o);

  o.hash = fnv1a64_hex(canon.dump());
  return o;
}

VqTrainOptions load_vq_options(const std::string& path) { return parse_vq_options(read_json_file(path), path); }

VqTrainResult train_vq(const VqTrainOptions& o, const VqTrainOverrides& ov) {
  VqTrainResult res;
  vision::VqConfig cfg = o.vq;
  cfg.num_patches = o.grid();
  vision::ParamMaker pm(res.params, nullptr, o.init_seed);
  vision::TrainVqModel model(cfg, pm, "model.vqmodel.");

  const int64_t tokens_per_image = o.grid() * o.grid();
  VqImageSource data =
      o.image_dir.empty()
          ? VqImageSource::shapes(o.shapes_seed, o.image_size, o.batch, tokens_per_image)
          : VqImageSource::folder(o.image_dir, o.image_size, o.batch, o.data_seed, o.shuffle, tokens_per_image);

  for (const std::string& p : {o.metrics_path, o.loss_plot_path})
    if (!p.empty() && fs::path(p).has_parent_path()) fs::create_directories(fs::path(p).parent_path());
  AdamW opt(res.params, o.adamw);
  const TrainerConfig tc = trainer_config(o, o, o.hash, ov.stop_at_step, ov.progress, ov.log);

  Trainer* trainer_ptr = nullptr;
  const vision::VqLossOptions loss_opt = o.loss;
  const int64_t V = cfg.num_embeddings, E = cfg.embed_dim;
  kernels::Tensor last_used = kernels::Tensor::zeros({V}, kernels::DType::F32);  // step a code was last chosen
  std::vector<float> pool;       // ẑ rows of the current step's micro-batches (restart candidates)
  std::vector<double> pool_err;  // cumulative squared quantisation errors of those rows
  auto loss_fn = [&](const Batch& b, Rng&) {
    if (b.pixel_values.size() != 1) throw std::runtime_error("train_vq: batch without its pixel tensor");
    vision::VqLossOptions step_opt = loss_opt;
    step_opt.quantize = trainer_ptr->step() >= o.quantize_after;  // step() steps are done
    const vision::VqLosses l = vision::vq_tokenizer_losses(model, ag::Var::constant(b.pixel_values[0]), step_opt);
    if (o.restart_dead_codes > 0 && step_opt.quantize) {
      float* lu = last_used.data<float>();
      for (int64_t c : l.codes) lu[c] = float(trainer_ptr->step() + 1);
      // Candidates: every ẑ of the step, weighted by its squared distance to its code (in double).
      const std::vector<float> z = l.z_normed.value().to_f32_vector();
      const float* cb = model.codebook().value().data<float>();
      for (size_t i = 0; i < l.codes.size(); ++i) {
        const float* e = cb + l.codes[i] * E;
        double n2 = 0, err = 0;
        for (int64_t d = 0; d < E; ++d) n2 += double(e[d]) * e[d];
        const double inv = 1.0 / std::max(std::sqrt(n2), 1e-12);
        for (int64_t d = 0; d < E; ++d) err += (z[i * E + d] - e[d] * inv) * (z[i * E + d] - e[d] * inv);
        pool_err.push_back((pool_err.empty() ? 0.0 : pool_err.back()) + err);  // cumulative
      }
      pool.insert(pool.end(), z.begin(), z.end());
    }
    trainer_ptr->record("rec", double(l.reconstruction.value().to_f32_vector()[0]));
    trainer_ptr->record("codebook", double(l.codebook.value().to_f32_vector()[0]));
    trainer_ptr->record("commit", double(l.commitment.value().to_f32_vector()[0]));
    trainer_ptr->record("codes_used", double(std::set<int64_t>(l.codes.begin(), l.codes.end()).size()));
    return l.total;
  };
  Trainer trainer(res.params, opt, o.schedule, data, loss_fn, tc);
  trainer_ptr = &trainer;
  if (o.restart_dead_codes > 0) {
    trainer.set_buffers({{"model.vqmodel.quantize.last_used", last_used}});
    trainer.add_hook([&](const StepResult& r) {
      const int64_t every = o.restart_dead_codes, rows = int64_t(pool.size()) / E;
      const double total = pool_err.empty() ? 0.0 : pool_err.back();
      if (r.step % every == 0 && rows > 0 && total > 0) {
        float* lu = last_used.data<float>();
        float* cb = model.codebook().value().data<float>();
        int64_t restarted = 0;
        for (int64_t j = 0; j < V; ++j) {
          if (double(r.step) - double(lu[j]) < double(every)) continue;
          const double u = double(trainer.rng().next_u64() >> 11) * 0x1.0p-53 * total;
          const int64_t pick = std::min<int64_t>(
              rows - 1, int64_t(std::upper_bound(pool_err.begin(), pool_err.end(), u) - pool_err.begin()));
          std::copy(pool.begin() + pick * E, pool.begin() + (pick + 1) * E, cb + j * E);
          lu[j] = float(r.step);
          ++restarted;
        }
        if (restarted > 0) {
          const std::string m = "step " + std::to_string(r.step) + ": restarted " + std::to_string(restarted) +
                                " dead codes of " + std::to_string(V);
          if (ov.log)
            ov.log(m);
          else
            std::fprintf(stderr, "%s\n", m.c_str());
        }
      }
      pool.clear();
      pool_err.clear();
    });
  }
  if (o.quantize_after > 0) {
    trainer.add_hook([&](const StepResult& r) {
      if (r.step != o.quantize_after) return;
      init_codebook_by_kmeans(model, o, trainer.rng());
      std::fill(last_used.data<float>(), last_used.data<float>() + V, float(r.step));
      const std::string m = "step " + std::to_string(r.step) + ": codebook set to k-means centroids of the encoder's " +
                            "latents; quantising from now on";
      if (ov.log)
        ov.log(m);
      else
        std::fprintf(stderr, "%s\n", m.c_str());
    });
  }
  if (ov.resume) trainer.resume();
  res.start_step = trainer.step();
  res.first_loss = std::numeric_limits<double>::quiet_NaN();
  const auto t0 = std::chrono::steady_clock::now();
  bool first = true;
  trainer.add_hook([&](const StepResult& r) {
    if (first) res.first_loss = r.loss, first = false;
  });
  res.last = trainer.run();
  res.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (ov.export_model && !o.export_dir.empty()) {
    export_vq(o.export_dir, res.params, cfg, o.image_size);
    res.export_dir = o.export_dir;
  }
  return res;
}

void export_vq(const std::string& dir, const ag::ParamList& params, const vision::VqConfig& cfg, int image_size) {
  fs::create_directories(dir);
  llm::NamedTensors t;
  for (const auto& p : params) t.emplace_back(p.name, p.var.value());
  llm::write_safetensors((fs::path(dir) / "model.safetensors").string(), t, {{"format", "pt"}});
  write_file_atomic((fs::path(dir) / "config.json").string(), vq_export_config(cfg, image_size).dump(2) + "\n");
}

LoadedVq load_vq_export(const std::string& dir) {
  const std::string cfg_path = (fs::path(dir) / "config.json").string();
  const json j = read_json_file(cfg_path);
  if (!j.is_object() || !j.contains("vq_config") || !j.contains("image_size") || !j["image_size"].is_number_integer())
    throw std::runtime_error(cfg_path + ": expected {\"image_size\": int, \"vq_config\": {...}}");
  LoadedVq out;
  out.image_size = j["image_size"].get<int>();
  const vision::VqConfig cfg = vision::parse_vq_config(j["vq_config"]);
  auto file = llm::SafetensorsFile::open((fs::path(dir) / "model.safetensors").string());
  vision::MapWeightSource src(file->path());
  for (const auto& n : file->names()) src.set(n, file->get(n));  // views keep the mapping alive
  out.model = vision::VqModel(cfg, src, "model.vqmodel.");
  return out;
}

}  // namespace janus::train
