// Training progress output: a progress line on stderr, a metrics JSONL file, a loss-curve PNG.
//
// ProgressBar: "[#######.........] 120/1000 loss 2.3456 lr 3.00e-04 1.25k tok/s ETA 0:12:34".
// When the stream is a TTY the line is redrawn in place with '\r' on every update; otherwise one
// full line is printed every `every_n` steps (and at the last step), so logs stay readable.
// tokens/s and ETA use wall time since the bar was created (steps before `first_step`, e.g. a
// resumed run's, are not counted in the rate).
//
// MetricsWriter: one JSON object per line, flushed after each line. Opening with
// keep_up_to_step >= 0 first drops lines whose "step" is greater (atomically rewritten), so a run
// resumed from step S does not duplicate the steps a crashed run logged after its last checkpoint;
// keep_up_to_step < 0 starts a new file.
//
// write_loss_curve_png: a line plot (OpenCV drawing) of y over x with axes, min/max labels and a
// title, written atomically (temp + rename). Needs >= 1 point; non-finite points are skipped.
// Errors: std::runtime_error naming the path.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace janus::train {

struct ProgressInfo {
  int64_t step = 0, total = 0;  // steps done, steps planned
  double loss = 0, lr = 0;
  double tokens_per_s = 0;  // <= 0: not shown
  double eta_s = -1;        // < 0: not shown
};
std::string format_progress(const ProgressInfo& p, int bar_width = 20);
std::string format_duration(double seconds);  // "1:02:03", "0:00:07"

class ProgressBar {
 public:
  ProgressBar(int64_t total_steps, int64_t first_step = 0, int64_t every_n = 10, FILE* out = stderr);
  // `step` = steps done so far, `tokens` = tokens processed by this step.
  void update(int64_t step, double loss, double lr, int64_t tokens);
  void finish();  // ends a TTY line with '\n'

 private:
  int64_t total_, first_, every_;
  FILE* out_;
  bool tty_, open_line_ = false;
  int64_t tokens_ = 0;
  std::chrono::steady_clock::time_point start_;
};

class MetricsWriter {
 public:
  MetricsWriter() = default;
  MetricsWriter(const std::string& path, int64_t keep_up_to_step);
  ~MetricsWriter();
  MetricsWriter(const MetricsWriter&) = delete;
  MetricsWriter& operator=(const MetricsWriter&) = delete;
  bool is_open() const { return f_ != nullptr; }
  void write(const nlohmann::json& record);

 private:
  std::string path_;
  FILE* f_ = nullptr;
};

// (step, value) of every line of a metrics JSONL that has numeric `key` and "step".
std::vector<std::pair<double, double>> read_metric_series(const std::string& path, const std::string& key);

void write_loss_curve_png(const std::string& path, const std::vector<std::pair<double, double>>& points,
                          const std::string& title, int width = 800, int height = 480);

}  // namespace janus::train
