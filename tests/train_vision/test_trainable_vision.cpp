// Trainable Janus vision modules (vision/trainable_vision.h, trainable_vq.h):
// 1. forward values equal the inference modules (siglip.h, aligner.h, vq.h, gen_head.h) on the
//    tiny transformers checkpoint (tests/fixtures/janus/hf) within 1e-5 relative (max|Δ|/max|ref|):
//    the same float32 math with different summation orders (autograd GEMMs / attention vs the
//    inference kernels) measures ~1e-7..1e-6;
// 2. one VQ tokenizer training step (reconstruction + codebook + commitment, L2-normalised
//    codebook, straight-through) against PyTorch on transformers' JanusVQVAE modules
//    (tests/fixtures/train_janus/vq.safetensors, tools/make_train_janus_fixtures.py): losses within
//    1e-5 relative, every parameter gradient within 1e-4 relative (issue 7, must-show 2), codes
//    identical (the script asserts a top-1/top-2 gap > 2e-4 per latent).
#include <gtest/gtest.h>

#include "tests/train_vision/train_vision_util.h"
#include "vision/aligner.h"
#include "vision/gen_head.h"
#include "vision/siglip.h"
#include "vision/trainable_vision.h"
#include "vision/trainable_vq.h"
#include "vision/vq.h"

namespace janus::vision {
namespace {

namespace ag = kernels::ag;
using ag::Var;
using kernels::Tensor;
using test::rel_err;

constexpr double kFwdTol = 1e-5;   // trainable vs inference forward (same f32 math)
constexpr double kLossTol = 1e-5;  // issue 7: loss within 1e-5 relative of PyTorch
constexpr double kGradTol = 1e-4;  // issue 7: every gradient within 1e-4 relative

class TrainableVision : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cfg_ = new nlohmann::json(test::janus_config_json());
    src_ = new test::StoreSource(llm::TensorStore::open_dir(test::janus_fixture("hf")));
    ref_ = new std::shared_ptr<llm::SafetensorsFile>(
        llm::SafetensorsFile::open(test::janus_fixture("ref_vision.safetensors")));
  }
  static void TearDownTestSuite() {
    delete cfg_;
    delete src_;
    delete ref_;
  }
  static Tensor ref(const std::string& n) { return (*ref_)->get(n); }
  static const nlohmann::json& vis() { return cfg_->at("vision_config"); }
  static const nlohmann::json& vq() { return cfg_->at("vq_config"); }
  static nlohmann::json* cfg_;
  static test::StoreSource* src_;
  static std::shared_ptr<llm::SafetensorsFile>* ref_;
};
nlohmann::json* TrainableVision::cfg_ = nullptr;
test::StoreSource* TrainableVision::src_ = nullptr;
std::shared_ptr<llm::SafetensorsFile>* TrainableVision::ref_ = nullptr;

TEST_F(TrainableVision, SiglipAndAlignerForwardMatchInference) {
  ag::ParamList params;
  ParamMaker pm(params, src_);
  TrainSiglip vit(parse_siglip_config(vis()), pm, "model.vision_model.");
  TrainMlpAligner aligner(parse_aligner_config(vis()), pm, "model.aligner.");
  const Tensor px = ref("pixel_values");
  const Var got = aligner.forward(vit.forward(Var::constant(px)));
  SiglipVisionModel ivit(parse_siglip_config(vis()), *src_, "model.vision_model.");
  MlpAligner ialigner(parse_aligner_config(vis()), *src_, "model.aligner.");
  const double err = rel_err(got.value(), ialigner.forward(ivit.forward(px)));
  std::printf("image_embeds trainable vs inference rel err %.3g (vs transformers %.3g)\n", err,
              rel_err(got.value(), ref("image_embeds")));
  EXPECT_LT(err, kFwdTol);
  EXPECT_EQ(params.size(), size_t(2 + 1 + 2 * 16 + 2 + 4));  // patch, pos, 2 layers, post LN, aligner
  EXPECT_EQ(params[0].name, "model.vision_model.embeddings.patch_embedding.weight");
}

TEST_F(TrainableVision, GenEmbeddingAndHeadForwardMatchInference) {
  ag::ParamList params;
  ParamMaker pm(params, src_);
  TrainGenEmbedding emb(parse_gen_aligner_config(vq()), parse_vq_config(vq()).num_embeddings, pm,
                        "model.generation_embeddings.weight", "model.generation_aligner.");
  TrainGenHead head(parse_gen_head_config(vq()), pm, "model.generation_head.");
  const Tensor ids = ref("image_tokens");
  GenEmbedding iemb(parse_gen_aligner_config(vq()), parse_vq_config(vq()).num_embeddings, *src_,
                    "model.generation_embeddings.weight", "model.generation_aligner.");
  const double e1 = rel_err(ag::reshape(emb.forward(ids.to_i64_vector()), {2, 16, 64}).value(), iemb.forward(ids));
  GenHead ihead(parse_gen_head_config(vq()), *src_, "model.generation_head.");
  const Tensor hs = ref("hidden_states");
  const double e2 = rel_err(head.forward(Var::constant(hs)).value(), ihead.forward(hs));
  std::printf("gen_embeds rel err %.3g, gen_logits rel err %.3g (trainable vs inference)\n", e1, e2);
  EXPECT_LT(e1, kFwdTol);
  EXPECT_LT(e2, kFwdTol);
  EXPECT_THROW(emb.forward({64}), kernels::Error);
}

TEST_F(TrainableVision, VqEncodeQuantizeDecodeMatchInference) {
  ag::ParamList params;
  ParamMaker pm(params, src_);
  const VqConfig c = parse_vq_config(vq());
  TrainVqModel m(c, pm, "model.vqmodel.");
  VqModel im(c, *src_, "model.vqmodel.");
  const Tensor px = ref("vq_pixels");
  const Var z = m.encode_latents(Var::constant(px));
  const double ez = rel_err(z.value(), im.encode_latents(px));
  const TrainVqModel::Quantized q = m.quantize(z);
  EXPECT_EQ(q.codes, im.encode(px).to_i64_vector());
  EXPECT_EQ(q.codes, ref("vq_codes").to_i64_vector());  // the original L2-normalised rule
  const Tensor tokens = ref("image_tokens");
  const double ed = rel_err(m.decode(tokens.to_i64_vector(), 2, 4, 4).value(), im.decode(tokens));
  std::printf("vq latents rel err %.3g, decoded images rel err %.3g (trainable vs inference)\n", ez, ed);
  EXPECT_LT(ez, kFwdTol);
  EXPECT_LT(ed, kFwdTol);
  // The straight-through latents carry the code vectors' values.
  EXPECT_LT(rel_err(q.z_st.value(), im.codebook_entries(Tensor::from_i64({2, 16}, q.codes), 4, 4)), 1e-6);
  // normed_latents (the k-means initialisation's input) is quantize()'s ẑ without the code search.
  EXPECT_EQ(m.normed_latents(z).value().to_f32_vector(), q.z_normed.value().to_f32_vector());
  EXPECT_THROW(m.encode_latents(Var::constant(Tensor::zeros({1, 3, 18, 18}, kernels::DType::F32))), kernels::Error);
}

TEST_F(TrainableVision, RandomInitIsSeededAndNamed) {
  ag::ParamList a, b;
  ParamMaker pa(a, nullptr, 7), pb(b, nullptr, 7);
  TrainVqModel ma(parse_vq_config(vq()), pa, "model.vqmodel."), mb(parse_vq_config(vq()), pb, "model.vqmodel.");
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].name, b[i].name);
    EXPECT_EQ(a[i].var.value().to_f32_vector(), b[i].var.value().to_f32_vector());
  }
  // Same names (and count) as the checkpoint's VQ tensors.
  size_t in_ckpt = 0;
  for (const auto& p : a) in_ckpt += src_->has(p.name);
  EXPECT_EQ(in_ckpt, a.size());
}

TEST_F(TrainableVision, VqTokenizerStepMatchesPyTorch) {
  const auto step = llm::SafetensorsFile::open(test::train_janus_fixture("vq.safetensors"));
  ag::ParamList params;
  ParamMaker pm(params, src_);
  TrainVqModel m(parse_vq_config(vq()), pm, "model.vqmodel.");
  const VqLosses l = vq_tokenizer_losses(m, Var::constant(step->get("vq_pixels")));
  EXPECT_EQ(l.codes, step->get("codes").to_i64_vector());
  const double er = test::rel_err({float(test::scalar(l.reconstruction))}, step->get("loss_rec").to_f32_vector());
  const double ec = test::rel_err({float(test::scalar(l.codebook))}, step->get("loss_codebook").to_f32_vector());
  const double em = test::rel_err({float(test::scalar(l.commitment))}, step->get("loss_commit").to_f32_vector());
  const double et = test::rel_err({float(test::scalar(l.total))}, step->get("loss").to_f32_vector());
  const double ex = rel_err(l.reconstruction_image.value(), step->get("x_rec"));
  std::printf("vq step: loss %.7g rel err %.3g (rec %.3g, codebook %.3g, commit %.3g), x_rec %.3g\n",
              test::scalar(l.total), et, er, ec, em, ex);
  EXPECT_LT(et, kLossTol);
  EXPECT_LT(er, kLossTol);
  EXPECT_LT(ec, kLossTol);
  EXPECT_LT(em, kLossTol);
  ag::backward(l.total);
  test::check_param_grads(params, *step, kGradTol, "vq step");
}

}  // namespace
}  // namespace janus::vision
