// janus random-model: write an HF folder with a random-weight model of a given shape (for
// benchmarks and memory tests where no real weights can be downloaded).
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "apps/janus/command.h"
#include "kernels/thread_pool.h"
#include "llm/safetensors.h"

namespace janus::app {
namespace {

using kernels::DType;
using kernels::Tensor;

struct RandomArgs {
  std::string arch = "qwen2", dtype = "bf16", out;
  int64_t hidden = 896, layers = 24, heads = 14, kv_heads = 2, ffn = 4864, vocab = 151936;
  uint64_t seed = 0;
};

Tensor random_tensor(const kernels::Shape& shape, DType dtype, float std, uint64_t seed) {
  Tensor t = Tensor::empty(shape, dtype);
  const int64_t n = t.numel();
  kernels::parallel_for(
      n,
      [&](int64_t b, int64_t e) {
        std::mt19937 rng(uint32_t(seed * 1000003u + uint64_t(b)));
        std::uniform_real_distribution<float> u(-std * 1.7320508f, std * 1.7320508f);  // same variance
        for (int64_t i = b; i < e; ++i) {
          float v = u(rng);
          if (dtype == DType::BF16)
            t.data<uint16_t>()[i] = kernels::f32_to_bf16(v);
          else
            t.data<float>()[i] = v;
        }
      },
      1 << 16);
  return t;
}

int make(const RandomArgs& a) {
  if (a.arch != "qwen2" && a.arch != "llama") throw std::runtime_error("--arch must be qwen2 or llama");
  if (a.dtype != "bf16" && a.dtype != "f32") throw std::runtime_error("--dtype must be bf16 or f32");
  if (a.hidden % a.heads || a.heads % a.kv_heads)
    throw std::runtime_error("heads must divide hidden and kv-heads must divide heads");
  const DType dt = a.dtype == "bf16" ? DType::BF16 : DType::F32;
  std::filesystem::create_directories(a.out);
  const int64_t H = a.hidden, D = H / a.heads, KV = a.kv_heads * D;
  nlohmann::json cfg = {{"architectures", {a.arch == "qwen2" ? "Qwen2ForCausalLM" : "LlamaForCausalLM"}},
                        {"model_type", a.arch},
                        {"hidden_size", H},
                        {"intermediate_size", a.ffn},
                        {"num_hidden_layers", a.layers},
                        {"num_attention_heads", a.heads},
                        {"num_key_value_heads", a.kv_heads},
                        {"vocab_size", a.vocab},
                        {"rms_norm_eps", 1e-6},
                        {"rope_theta", 1000000.0},
                        {"max_position_embeddings", 32768},
                        {"tie_word_embeddings", a.arch == "qwen2"},
                        {"torch_dtype", a.dtype == "bf16" ? "bfloat16" : "float32"}};
  llm::NamedTensors ts;
  uint64_t seed = a.seed;
  auto add = [&](const std::string& name, const kernels::Shape& s, float std) {
    ts.push_back({name, random_tensor(s, dt, std, ++seed)});
  };
  auto ones = [&](const std::string& name) { ts.push_back({name, random_tensor({H}, dt, 0.0f, ++seed)}); };
  add("model.embed_tokens.weight", {a.vocab, H}, 0.02f);
  for (int64_t l = 0; l < a.layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "self_attn.q_proj.weight", {H, H}, 0.02f);
    add(p + "self_attn.k_proj.weight", {KV, H}, 0.02f);
    add(p + "self_attn.v_proj.weight", {KV, H}, 0.02f);
    add(p + "self_attn.o_proj.weight", {H, H}, 0.02f);
    if (a.arch == "qwen2") {
      add(p + "self_attn.q_proj.bias", {H}, 0.02f);
      add(p + "self_attn.k_proj.bias", {KV}, 0.02f);
      add(p + "self_attn.v_proj.bias", {KV}, 0.02f);
    }
    add(p + "mlp.gate_proj.weight", {a.ffn, H}, 0.02f);
    add(p + "mlp.up_proj.weight", {a.ffn, H}, 0.02f);
    add(p + "mlp.down_proj.weight", {H, a.ffn}, 0.02f);
    ones(p + "input_layernorm.weight");
    ones(p + "post_attention_layernorm.weight");
  }
  ones("model.norm.weight");
  if (a.arch != "qwen2") add("lm_head.weight", {a.vocab, H}, 0.02f);
  // Norm weights of 1: overwrite the zero-std tensors.
  for (auto& [name, t] : ts)
    if (name.find("norm") != std::string::npos)
      for (int64_t i = 0; i < t.numel(); ++i) {
        if (dt == DType::BF16)
          t.data<uint16_t>()[i] = kernels::f32_to_bf16(1.0f);
        else
          t.data<float>()[i] = 1.0f;
      }
  llm::write_safetensors(a.out + "/model.safetensors", ts);
  std::ofstream(a.out + "/config.json") << cfg.dump(2) << "\n";
  std::printf("wrote %s (%zu tensors)\n", a.out.c_str(), ts.size());
  return 0;
}

Registrar reg("random-model", "Write a random-weight Llama/Qwen2 model folder (benchmarks)", [](CLI::App& sub) {
  auto a = std::make_shared<RandomArgs>();
  sub.add_option("--arch", a->arch, "qwen2 | llama");
  sub.add_option("--dtype", a->dtype, "bf16 | f32");
  sub.add_option("--hidden", a->hidden, "hidden size");
  sub.add_option("--layers", a->layers, "decoder layers");
  sub.add_option("--heads", a->heads, "attention heads");
  sub.add_option("--kv-heads", a->kv_heads, "key/value heads");
  sub.add_option("--ffn", a->ffn, "MLP intermediate size");
  sub.add_option("--vocab", a->vocab, "vocabulary size");
  sub.add_option("--seed", a->seed, "RNG seed");
  sub.add_option("--out", a->out, "output folder")->required();
  return [a] { return make(*a); };
});

}  // namespace
}  // namespace janus::app
