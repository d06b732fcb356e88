// Janus multimodal model (llm/janus_model.h, janus_generate.h) against transformers on the tiny
// random checkpoint of tools/make_janus_fixtures.py (transformers `janus` layout, hf/) and the same
// weights in the original `multi_modality` layout (pytorch_model.bin, mm/) written by
// tools/make_janus_mm_fixtures.py, which also computed ref_mm.safetensors.
//
// Tolerances: float32 everywhere; 1e-4 relative (max |a - b| / max |b|, DESIGN §6) for activations
// that go through a backbone / ViT / VQ decoder with a different summation order than torch.
// Codes (argmax / sampling) must be identical: the fixture script asserts a top-1/top-2 margin
// > 1e-3 at every greedy step, far above float32 rounding. The two layouts hold the same numbers
// and run the same code, so their outputs must be bit-identical.
#include <gtest/gtest.h>

#include "fixture_util.h"
#include "llm/janus_generate.h"
#include "llm/janus_model.h"
#include "llm/safetensors.h"

namespace janus::llm {
namespace {

using kernels::Tensor;
using test::rel_max_err;

const std::string kDir = std::string(JANUS_FIXTURES) + "/janus";

struct Fixture {
  std::unique_ptr<JanusModel> hf, mm;
  std::shared_ptr<SafetensorsFile> ref_vision, ref_mm;
};

const Fixture& fx() {
  static Fixture* f = [] {
    auto* f = new Fixture;
    f->hf = JanusModel::load(kDir + "/hf");
    f->mm = JanusModel::load(kDir + "/mm");
    f->ref_vision = SafetensorsFile::open(kDir + "/ref_vision.safetensors");
    f->ref_mm = SafetensorsFile::open(kDir + "/ref_mm.safetensors");
    return f;
  }();
  return *f;
}

std::vector<float> f32(const Tensor& t) { return t.to_f32_vector(); }
std::vector<int64_t> i64(const Tensor& t) { return t.to_i64_vector(); }

TEST(JanusConfig, BothLayoutsDescribeTheSameModel) {
  const JanusConfig& a = fx().hf->config();
  const JanusConfig& b = fx().mm->config();
  EXPECT_EQ(a.layout, JanusLayout::kTransformers);
  EXPECT_EQ(b.layout, JanusLayout::kMultiModality);
  EXPECT_EQ(a.text.hidden_size, 64);
  EXPECT_EQ(b.text.hidden_size, 64);
  EXPECT_EQ(b.text.num_key_value_heads, 2);
  EXPECT_EQ(a.vision.num_layers, b.vision.num_layers);
  EXPECT_EQ(a.vision.num_heads, b.vision.num_heads);
  EXPECT_EQ(a.vision.intermediate_size, b.vision.intermediate_size);
  EXPECT_EQ(a.image_tokens(), 16);
  EXPECT_EQ(b.image_tokens(), 16);
  EXPECT_EQ(a.vq.channel_multiplier, b.vq.channel_multiplier);
  EXPECT_EQ(a.vq.latent_channels, b.vq.latent_channels);
  EXPECT_EQ(a.gen_image_tokens(), 16);
  EXPECT_EQ(b.gen_image_tokens(), 16);
  EXPECT_EQ(a.gen_head.hidden, b.gen_head.hidden);
  // transformers' config carries the id; the original is looked up in tokenizer.json.
  EXPECT_EQ(fx().hf->image_token_id(), 300);
  EXPECT_EQ(fx().mm->image_token_id(), 300);
}

// The released Janus-Pro-7B config.json (../shared/reference/janus.md §1.1): the language config
// names 4 fields, the rest are LlamaConfig defaults; SigLIP and VQ-16 are presets.
TEST(JanusConfig, ReleasedJanusPro7BConfig) {
  const JanusConfig c = parse_janus_config(R"({
    "aligner_config": {"cls": "MlpProjector", "model_type": "aligner",
                       "params": {"depth": 2, "input_dim": 1024, "n_embed": 4096, "projector_type": "mlp_gelu"}},
    "gen_aligner_config": {"cls": "MlpProjector", "model_type": "gen_aligner",
                           "params": {"depth": 2, "input_dim": 8, "n_embed": 4096, "projector_type": "mlp_gelu"}},
    "gen_head_config": {"cls": "vision_head", "model_type": "gen_head",
                        "params": {"image_token_embed": 4096, "image_token_size": 16384, "n_embed": 4096}},
    "gen_vision_config": {"cls": "VQ-16", "model_type": "gen_vision",
                          "params": {"image_token_size": 16384, "n_embed": 8}},
    "language_config": {"max_position_embeddings": 16384, "model_type": "llama", "num_hidden_layers": 30,
                        "torch_dtype": "bfloat16", "vocab_size": 102400},
    "model_type": "multi_modality", "torch_dtype": "bfloat16",
    "vision_config": {"cls": "CLIPVisionTower", "model_type": "vision",
                      "params": {"image_size": 384, "model_name": "siglip_large_patch16_384",
                                 "select_feature": "same", "select_layer": -1}}})",
                                           "7b.json");
  EXPECT_EQ(c.text.hidden_size, 4096);
  EXPECT_EQ(c.text.intermediate_size, 11008);
  EXPECT_EQ(c.text.num_hidden_layers, 30);
  EXPECT_EQ(c.text.num_key_value_heads, 32);
  EXPECT_EQ(c.text.head_dim, 128);
  EXPECT_EQ(c.text.vocab_size, 102400);
  EXPECT_DOUBLE_EQ(c.text.rms_norm_eps, 1e-6);
  EXPECT_EQ(c.vision.hidden_size, 1024);
  EXPECT_EQ(c.vision.num_layers, 24);
  EXPECT_EQ(c.vision.num_heads, 16);
  EXPECT_EQ(c.vision.intermediate_size, 4096);
  EXPECT_EQ(c.image_tokens(), 576);
  EXPECT_EQ(c.aligner.out_dim, 4096);
  EXPECT_EQ(c.gen_aligner.in_dim, 8);
  EXPECT_EQ(c.gen_head.num_codes, 16384);
  EXPECT_EQ(c.vq.base_channels, 128);
  EXPECT_EQ(c.vq.latent_channels, 256);
  EXPECT_EQ(c.vq.channel_multiplier, (std::vector<int64_t>{1, 1, 2, 2, 4}));
  EXPECT_EQ(c.vq.num_res_blocks, 2);
  EXPECT_EQ(c.gen_image_tokens(), 576);
  EXPECT_EQ(c.image_token_id, -1);  // looked up in tokenizer.json
  EXPECT_EQ(janus_names(c.layout).lm_prefix, "language_model.model.");
}

TEST(JanusConfig, ErrorsNameTheFieldAndFile) {
  EXPECT_THROW(parse_janus_config(R"({"model_type": "llama"})", "c.json"), kernels::Error);
  try {
    parse_janus_config(R"({"model_type": "multi_modality", "language_config": {"hidden_size": 64},
      "aligner_config": {"params": {"projector_type": "linear"}}})",
                       "c.json");
    FAIL();
  } catch (const kernels::Error& e) {
    EXPECT_NE(std::string(e.what()).find("c.json: aligner_config.params: projector_type 'linear'"), std::string::npos)
        << e.what();
  }
}

TEST(JanusModel, ImageEmbedsMatchTransformersInBothLayouts) {
  const Tensor pixels = fx().ref_vision->get("pixel_values");
  const auto ref = f32(fx().ref_vision->get("image_embeds"));
  const Tensor a = fx().hf->image_embeds(pixels), b = fx().mm->image_embeds(pixels);
  EXPECT_EQ(a.shape(), (kernels::Shape{2, 16, 64}));
  const double e = rel_max_err(f32(a), ref);
  EXPECT_LT(e, 1e-4);
  std::printf("[janus] image_embeds: rel max err %.3g\n", e);
  EXPECT_EQ(f32(a), f32(b));
}

TEST(JanusModel, MultimodalLogitsMatchTransformers) {
  const auto& r = *fx().ref_mm;
  const auto ids = i64(r.get("mm_input_ids"));
  for (const JanusModel* m : {fx().hf.get(), fx().mm.get()}) {
    Tensor hidden, logits;
    ForwardOutput out;
    out.hidden = &hidden;
    out.logits = &logits;
    m->forward(ids.data(), int64_t(ids.size()), r.get("mm_pixel_values"), out);
    const double e_logits = rel_max_err(f32(logits), f32(r.get("mm_logits")));
    const double e_hidden = rel_max_err(f32(hidden), f32(r.get("mm_hidden")));
    const double e_gen = rel_max_err(f32(m->gen_logits(hidden)), f32(r.get("mm_gen_logits")));
    EXPECT_LT(e_logits, 1e-4);
    EXPECT_LT(e_hidden, 1e-4);
    EXPECT_LT(e_gen, 1e-4);
    std::printf("[janus] %s: logits %.3g, hidden %.3g, gen_logits %.3g (rel max err)\n",
                m == fx().hf.get() ? "hf" : "mm", e_logits, e_hidden, e_gen);
  }
}

// Prefill with spliced image embeddings, then cached decode: the greedy answer equals transformers'
// (full recompute per step; the fixture asserts a top-1/top-2 margin > 1e-3 at every step).
TEST(JanusModel, GreedyAnswerMatchesTransformers) {
  const auto& r = *fx().ref_mm;
  GenerateOptions o;
  o.max_new_tokens = 8;
  for (const JanusModel* m : {fx().hf.get(), fx().mm.get()}) {
    const GenerateResult g = janus_answer(*m, i64(r.get("mm_input_ids")), m->image_embeds(r.get("mm_pixel_values")), o);
    EXPECT_EQ(g.tokens, i64(r.get("answer_greedy")));
    EXPECT_EQ(g.stop_reason, "length");
  }
}

TEST(JanusModel, PlaceholderRunsMustMatchTheImages) {
  const auto& r = *fx().ref_mm;
  auto ids = i64(r.get("mm_input_ids"));
  const Tensor images = fx().hf->image_embeds(r.get("mm_pixel_values"));
  EXPECT_THROW(fx().hf->splice(ids.data(), int64_t(ids.size()), images.slice(0, 0, 1).contiguous()), kernels::Error);
  ids[6] = 5;  // shortens the first run to 2 + 13
  EXPECT_THROW(fx().hf->splice(ids.data(), int64_t(ids.size()), images), kernels::Error);
}

TEST(JanusModel, GenerationPiecesMatchTransformers) {
  const auto& r = *fx().ref_vision;
  for (const JanusModel* m : {fx().hf.get(), fx().mm.get()}) {
    const Tensor codes = r.get("image_tokens");
    EXPECT_LT(rel_max_err(f32(m->decode_images(codes, 1)), f32(r.get("decoded_images"))), 1e-4);
    EXPECT_EQ(f32(m->decode_images(codes, 1)), f32(m->decode_images(codes, 2)));  // chunking changes nothing
    EXPECT_LT(rel_max_err(f32(m->gen_embeds(codes)), f32(r.get("gen_embeds"))), 1e-4);
    EXPECT_LT(rel_max_err(f32(m->gen_logits(r.get("hidden_states"))), f32(r.get("gen_logits"))), 1e-4);
    // vq_codes: the release's LlamaGen quantizer L2-normalises both the latents and the codebook
    // before the nearest-code search (what we follow by default); transformers' encode searches with
    // the raw vectors (vq_codes_hf). The fixture's latents are chosen so the two rules disagree.
    EXPECT_EQ(i64(m->encode_images(r.get("vq_pixels"))), i64(r.get("vq_codes")));
    EXPECT_EQ(i64(m->encode_images(r.get("vq_pixels"), vision::QuantizeRule::kRaw)), i64(r.get("vq_codes_hf")));
  }
}

ImageGenOptions greedy(float cfg) {
  ImageGenOptions o;
  o.cfg_weight = cfg;
  o.sampling.temperature = 0.0f;
  return o;
}

TEST(JanusGenerate, GreedyCfgCodesAndImageMatchTransformers) {
  const auto& r = *fx().ref_mm;
  const auto prompt = i64(r.get("gen_prompt"));
  EXPECT_EQ(unconditional_prompt(prompt, 2), i64(r.get("gen_uncond")));
  for (const JanusModel* m : {fx().hf.get(), fx().mm.get()}) {
    const ImageGenResult g = generate_images(*m, prompt, 2, greedy(5.0f));
    EXPECT_EQ(i64(g.codes), i64(r.get("gen_codes_cfg5")));
    const double e = rel_max_err(f32(g.images), f32(r.get("gen_images_cfg5")));
    EXPECT_LT(e, 1e-4);
    std::printf("[janus] greedy CFG 5 image: rel max err %.3g\n", e);
    ImageGenOptions cond = greedy(5.0f);
    cond.conditional_only = true;
    EXPECT_EQ(i64(generate_images(*m, prompt, 2, cond).codes), i64(r.get("gen_codes_cond")));
  }
}

TEST(JanusGenerate, FixedCodeSequenceReproducesTheReferenceImage) {
  const auto& r = *fx().ref_mm;
  const auto prompt = i64(r.get("gen_prompt"));
  ImageGenOptions o;  // sampling, but every code is forced
  o.num_images = 2;
  o.seed = 3;
  const auto ref_codes = i64(r.get("gen_codes_cfg5"));
  o.forced_codes = {ref_codes, ref_codes};
  const ImageGenResult g = generate_images(*fx().hf, prompt, 2, o);
  EXPECT_EQ(i64(g.codes.slice(0, 1, 2)), ref_codes);
  const auto ref = f32(r.get("gen_images_cfg5"));
  EXPECT_LT(rel_max_err(f32(g.images.slice(0, 0, 1)), ref), 1e-5);
  EXPECT_EQ(f32(g.images.slice(0, 0, 1)), f32(g.images.slice(0, 1, 2)));
}

TEST(JanusGenerate, CfgOneEqualsConditionalOnlyAndSeedsReproduce) {
  const auto prompt = i64(fx().ref_mm->get("gen_prompt"));
  ImageGenOptions o;  // temperature 1, no top-k/top-p: full sampling
  o.num_images = 3;
  o.seed = 7;
  o.decode = false;
  o.cfg_weight = 1.0f;
  const auto cfg1 = i64(generate_images(*fx().hf, prompt, 2, o).codes);
  o.conditional_only = true;
  const auto cond = i64(generate_images(*fx().hf, prompt, 2, o).codes);
  EXPECT_EQ(cfg1, cond);
  EXPECT_EQ(i64(generate_images(*fx().hf, prompt, 2, o).codes), cond);  // same seed, same codes
  EXPECT_EQ(i64(generate_images(*fx().mm, prompt, 2, o).codes), cond);  // and the same in the other layout
  o.seed = 8;
  EXPECT_NE(i64(generate_images(*fx().hf, prompt, 2, o).codes), cond);
  o.seed = 7;
  o.cfg_weight = 5.0f;
  o.conditional_only = false;
  EXPECT_NE(i64(generate_images(*fx().hf, prompt, 2, o).codes), cond);  // guidance matters
}

// Our janus_r1 shape: the Janus pathways on a DeepSeek-V3 backbone (MLA, YaRN, MoE), referenced by
// transformers' JanusForConditionalGeneration with a deepseek_v3 text_config.
TEST(JanusR1, DeepSeekV3BackboneMatchesTransformers) {
  auto m = JanusModel::load(kDir + "/r1");
  EXPECT_EQ(m->config().text.model_type, "deepseek_v3");
  EXPECT_TRUE(m->config().text.mla);
  const auto& r = *fx().ref_mm;
  auto ref = SafetensorsFile::open(kDir + "/ref_r1.safetensors");
  const auto ids = i64(r.get("mm_input_ids"));
  Tensor hidden, logits;
  ForwardOutput out;
  out.hidden = &hidden;
  out.logits = &logits;
  m->forward(ids.data(), int64_t(ids.size()), r.get("mm_pixel_values"), out);
  const double e_logits = rel_max_err(f32(logits), f32(ref->get("r1_logits")));
  const double e_gen = rel_max_err(f32(m->gen_logits(hidden)), f32(ref->get("r1_gen_logits")));
  EXPECT_LT(e_logits, 1e-4);
  EXPECT_LT(rel_max_err(f32(hidden), f32(ref->get("r1_hidden"))), 1e-4);
  EXPECT_LT(e_gen, 1e-4);
  std::printf("[janus] r1: logits %.3g, gen_logits %.3g (rel max err)\n", e_logits, e_gen);
  const ImageGenResult g = generate_images(*m, i64(r.get("gen_prompt")), 2, greedy(5.0f));
  EXPECT_EQ(i64(g.codes), i64(ref->get("r1_codes_cfg5")));
}

TEST(JanusGenerate, ProgressAndCancel) {
  const auto prompt = i64(fx().ref_mm->get("gen_prompt"));
  ImageGenOptions o = greedy(5.0f);
  std::vector<int64_t> seen;
  std::atomic<bool> cancel{false};
  o.on_progress = [&](int64_t done, int64_t total) {
    seen.push_back(done);
    EXPECT_EQ(total, 16);
    if (done == 4) cancel = true;
  };
  o.cancel = &cancel;
  const ImageGenResult g = generate_images(*fx().hf, prompt, 2, o);
  EXPECT_TRUE(g.cancelled);
  EXPECT_EQ(seen, (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_FALSE(g.images.defined());
}

}  // namespace
}  // namespace janus::llm
