// Learning-rate schedules: lr(step) as pure functions of the step index.
//
// `step` is the 0-based index of the optimizer step about to be taken (the first update uses
// lr(0)). W = warmup_steps, N = total_steps, peak = peak_lr, lo = min_lr.
//   warmup (all kinds, W > 0, step < W):  lr = peak · (step + 1) / W     (reaches peak at W-1)
//   kConstant: lr = peak after warmup.
//   kCosine:   p = clamp((step - W) / max(1, N - W), 0, 1);  lr = lo + (peak - lo)·½(1 + cos(π·p))
//              (peak at step W, lo at step N and after).
//   kWsd (warmup-stable-decay): D = decay_steps (0 < D <= N - W), S = N - D.
//              stable: lr = peak for W <= step < S;
//              decay:  p = clamp((step - S) / D, 0, 1);  lr = lo + (peak - lo)·(1 - p)   (linear)
//              or with wsd_cosine_decay: lr = lo + (peak - lo)·½(1 + cos(π·p)); lo from step N on.
// Invalid settings (negative counts, N < W, WSD with D out of range, lr < 0) throw
// std::invalid_argument from validate() and lr().
#pragma once
#include <cstdint>
#include <string>

namespace janus::train {

enum class ScheduleKind { kConstant, kCosine, kWsd };

struct LrSchedule {
  ScheduleKind kind = ScheduleKind::kConstant;
  double peak_lr = 1e-3;
  double min_lr = 0.0;
  int64_t warmup_steps = 0;
  int64_t total_steps = 0;  // cosine, WSD
  int64_t decay_steps = 0;  // WSD
  bool wsd_cosine_decay = false;

  void validate() const;
  double lr(int64_t step) const;
};

// "constant" | "cosine" | "wsd" (throws std::invalid_argument otherwise).
ScheduleKind schedule_kind_from_string(const std::string& s);
const char* schedule_kind_name(ScheduleKind k);

}  // namespace janus::train
