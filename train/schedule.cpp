#include "train/schedule.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace janus::train {

static constexpr double kPi = 3.14159265358979323846;

void LrSchedule::validate() const {
  auto bad = [](const std::string& m) { throw std::invalid_argument("lr schedule: " + m); };
  if (peak_lr < 0 || min_lr < 0) bad("learning rates must be >= 0");
  if (warmup_steps < 0 || total_steps < 0 || decay_steps < 0) bad("step counts must be >= 0");
  if (kind != ScheduleKind::kConstant && total_steps < warmup_steps)
    bad("total_steps (" + std::to_string(total_steps) + ") < warmup_steps (" + std::to_string(warmup_steps) + ")");
  if (kind == ScheduleKind::kWsd && (decay_steps <= 0 || decay_steps > total_steps - warmup_steps))
    bad("WSD decay_steps " + std::to_string(decay_steps) +
        " must be in [1, total - warmup = " + std::to_string(total_steps - warmup_steps) + "]");
}

double LrSchedule::lr(int64_t step) const {
  validate();
  if (step < 0) throw std::invalid_argument("lr schedule: negative step");
  if (step < warmup_steps) return peak_lr * double(step + 1) / double(warmup_steps);
  switch (kind) {
    case ScheduleKind::kConstant: return peak_lr;
    case ScheduleKind::kCosine: {
      const double p =
          std::clamp(double(step - warmup_steps) / double(std::max<int64_t>(1, total_steps - warmup_steps)), 0.0, 1.0);
      return min_lr + (peak_lr - min_lr) * 0.5 * (1.0 + std::cos(kPi * p));
    }
    case ScheduleKind::kWsd: {
      const int64_t start = total_steps - decay_steps;
      if (step < start) return peak_lr;
      const double p = std::clamp(double(step - start) / double(decay_steps), 0.0, 1.0);
      const double f = wsd_cosine_decay ? 0.5 * (1.0 + std::cos(kPi * p)) : 1.0 - p;
      return min_lr + (peak_lr - min_lr) * f;
    }
  }
  return peak_lr;
}

ScheduleKind schedule_kind_from_string(const std::string& s) {
  if (s == "constant") return ScheduleKind::kConstant;
  if (s == "cosine") return ScheduleKind::kCosine;
  if (s == "wsd") return ScheduleKind::kWsd;
  throw std::invalid_argument("lr schedule: unknown kind '" + s + "' (expected constant, cosine or wsd)");
}

const char* schedule_kind_name(ScheduleKind k) {
  switch (k) {
    case ScheduleKind::kConstant: return "constant";
    case ScheduleKind::kCosine: return "cosine";
    case ScheduleKind::kWsd: return "wsd";
  }
  return "?";
}

}  // namespace janus::train
