#include "llm/moe_balance.h"

#include <algorithm>
#include <string>

namespace janus::llm {

using kernels::Error;

void update_router_bias(kernels::Tensor& bias, const std::vector<int64_t>& load, double gamma) {
  if (!bias.defined() || bias.dtype() != kernels::DType::F32 || bias.dim() != 1 || !bias.is_contiguous() ||
      bias.size(0) != int64_t(load.size()))
    throw Error("update_router_bias: bias must be a contiguous f32 [" + std::to_string(load.size()) + "], got " +
                (bias.defined() ? kernels::shape_str(bias.shape()) : std::string("undefined")));
  if (load.empty()) return;
  double mean = 0;
  for (int64_t l : load) mean += double(l);
  mean /= double(load.size());
  float* b = bias.data<float>();
  for (size_t e = 0; e < load.size(); ++e) {
    const double d = mean - double(load[e]);
    if (d > 0)
      b[e] = float(double(b[e]) + gamma);
    else if (d < 0)
      b[e] = float(double(b[e]) - gamma);
  }
}

void update_router_biases(TrainableModel& model, const std::vector<std::vector<int64_t>>& loads, double gamma) {
  auto& bufs = model.buffers();
  if (bufs.empty()) return;  // no correction biases (DeepSeek-V2)
  if (int64_t(loads.size()) != model.num_moe_layers() || bufs.size() != loads.size())
    throw Error("update_router_biases: " + std::to_string(loads.size()) + " load lists for " +
                std::to_string(model.num_moe_layers()) + " MoE layers");
  for (size_t i = 0; i < bufs.size(); ++i) update_router_bias(bufs[i].value, loads[i], gamma);
}

void update_router_biases(std::vector<NamedBuffer>& biases, const std::vector<std::vector<int64_t>>& loads,
                          double gamma) {
  if (biases.empty()) return;
  if (biases.size() != loads.size())
    throw Error("update_router_biases: " + std::to_string(loads.size()) + " load lists for " +
                std::to_string(biases.size()) + " correction biases");
  for (size_t i = 0; i < biases.size(); ++i) update_router_bias(biases[i].value, loads[i], gamma);
}

void add_loads(std::vector<std::vector<int64_t>>& acc, const std::vector<std::vector<int64_t>>& step) {
  if (acc.empty()) {
    acc = step;
    return;
  }
  if (acc.size() != step.size()) throw Error("add_loads: layer count differs");
  for (size_t i = 0; i < acc.size(); ++i) {
    if (acc[i].size() != step[i].size()) throw Error("add_loads: expert count differs in layer " + std::to_string(i));
    for (size_t e = 0; e < acc[i].size(); ++e) acc[i][e] += step[i][e];
  }
}

double load_max_over_mean(const std::vector<int64_t>& load) {
  if (load.empty()) return 1.0;
  double sum = 0, mx = 0;
  for (int64_t l : load) {
    sum += double(l);
    mx = std::max(mx, double(l));
  }
  return sum > 0 ? mx / (sum / double(load.size())) : 1.0;
}

}  // namespace janus::llm
