#include "train/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <stdexcept>

#include "train/atomic_file.h"

namespace janus::train {

using nlohmann::json;

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) s = 0;
  const int64_t t = int64_t(s + 0.5);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", (long long)(t / 3600), (long long)(t / 60 % 60),
                (long long)(t % 60));
  return buf;
}

static std::string si(double v) {
  char buf[32];
  if (v >= 1e6)
    std::snprintf(buf, sizeof buf, "%.2fM", v / 1e6);
  else if (v >= 1e3)
    std::snprintf(buf, sizeof buf, "%.2fk", v / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string format_progress(const ProgressInfo& p, int bar_width) {
  const double frac = p.total > 0 ? std::clamp(double(p.step) / double(p.total), 0.0, 1.0) : 0.0;
  const int fill = int(frac * bar_width);
  std::string s = "[" + std::string(size_t(fill), '#') + std::string(size_t(bar_width - fill), '.') + "] ";
  char buf[160];
  std::snprintf(buf, sizeof buf, "%lld/%lld loss %.4f lr %.2e", (long long)p.step, (long long)p.total, p.loss, p.lr);
  s += buf;
  if (p.tokens_per_s > 0) s += " " + si(p.tokens_per_s) + " tok/s";
  if (p.eta_s >= 0) s += " ETA " + format_duration(p.eta_s);
  return s;
}

ProgressBar::ProgressBar(int64_t total_steps, int64_t first_step, int64_t every_n, FILE* out)
    : total_(total_steps),
      first_(first_step),
      every_(std::max<int64_t>(1, every_n)),
      out_(out),
      tty_(out && isatty(fileno(out))),
      start_(std::chrono::steady_clock::now()) {}

void ProgressBar::update(int64_t step, double loss, double lr, int64_t tokens) {
  if (!out_) return;
  tokens_ += tokens;
  const bool last = step >= total_;
  if (!tty_ && step % every_ != 0 && !last) return;
  const double el = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  ProgressInfo p{step, total_, loss, lr, -1, -1};
  const int64_t done = step - first_;
  if (el > 0 && done > 0) {
    p.tokens_per_s = double(tokens_) / el;
    p.eta_s = el / double(done) * double(std::max<int64_t>(0, total_ - step));
  }
  const std::string line = format_progress(p);
  if (tty_) {
    std::fprintf(out_, "\r%s\x1b[K", line.c_str());
    open_line_ = true;
  } else {
    std::fprintf(out_, "%s\n", line.c_str());
  }
  std::fflush(out_);
}

void ProgressBar::finish() {
  if (out_ && tty_ && open_line_) std::fprintf(out_, "\n");
  open_line_ = false;
}

MetricsWriter::MetricsWriter(const std::string& path, int64_t keep_up_to_step) : path_(path) {
  std::string kept;
  if (keep_up_to_step >= 0 && std::filesystem::exists(path)) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      try {
        json j = json::parse(line);
        if (j.contains("step") && j["step"].is_number() && j["step"].get<double>() > double(keep_up_to_step)) continue;
      } catch (const json::exception&) {
        continue;  // a torn last line from a crash
      }
      kept += line + "\n";
    }
  }
  write_file_atomic(path, kept);
  f_ = std::fopen(path.c_str(), "ab");
  if (!f_) throw std::runtime_error(path + ": cannot open metrics file for appending");
}

MetricsWriter::~MetricsWriter() {
  if (f_) std::fclose(f_);
}

void MetricsWriter::write(const json& record) {
  if (!f_) return;
  const std::string line = record.dump() + "\n";
  if (std::fwrite(line.data(), 1, line.size(), f_) != line.size() || std::fflush(f_) != 0)
    throw std::runtime_error(path_ + ": cannot write metrics");
}

std::vector<std::pair<double, double>> read_metric_series(const std::string& path, const std::string& key) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path + ": cannot open metrics file");
  std::vector<std::pair<double, double>> out;
  std::string line;
  while (std::getline(in, line)) {
    try {
      json j = json::parse(line);
      if (j.contains("step") && j["step"].is_number() && j.contains(key) && j[key].is_number())
        out.emplace_back(j["step"].get<double>(), j[key].get<double>());
    } catch (const json::exception&) {
    }
  }
  return out;
}

static std::string label(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

void write_loss_curve_png(const std::string& path, const std::vector<std::pair<double, double>>& points_in,
                          const std::string& title, int width, int height) {
  std::vector<std::pair<double, double>> pts;
  for (const auto& p : points_in)
    if (std::isfinite(p.first) && std::isfinite(p.second)) pts.push_back(p);
  if (pts.empty()) throw std::runtime_error(path + ": no finite points to plot");
  if (width < 200 || height < 150) throw std::runtime_error(path + ": plot too small");
  double x0 = pts[0].first, x1 = x0, y0 = pts[0].second, y1 = y0;
  for (const auto& [x, y] : pts) {
    x0 = std::min(x0, x), x1 = std::max(x1, x), y0 = std::min(y0, y), y1 = std::max(y1, y);
  }
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) y1 = y0 + 1;
  const int left = 70, right = 20, top = 40, bottom = 40;
  const int pw = width - left - right, ph = height - top - bottom;
  cv::Mat img(height, width, CV_8UC3, cv::Scalar(255, 255, 255));
  const cv::Scalar axis(0, 0, 0), grid(225, 225, 225), curve(200, 90, 30);
  auto px = [&](double x) { return left + int(std::lround((x - x0) / (x1 - x0) * pw)); };
  auto py = [&](double y) { return top + int(std::lround((y1 - y) / (y1 - y0) * ph)); };
  for (int i = 1; i < 4; ++i) {
    cv::line(img, {left, top + ph * i / 4}, {left + pw, top + ph * i / 4}, grid, 1);
    cv::line(img, {left + pw * i / 4, top}, {left + pw * i / 4, top + ph}, grid, 1);
  }
  cv::rectangle(img, {left, top}, {left + pw, top + ph}, axis, 1);
  for (size_t i = 1; i < pts.size(); ++i)
    cv::line(img, {px(pts[i - 1].first), py(pts[i - 1].second)}, {px(pts[i].first), py(pts[i].second)}, curve, 2,
             cv::LINE_AA);
  if (pts.size() == 1) cv::circle(img, {px(pts[0].first), py(pts[0].second)}, 3, curve, -1);
  const int font = cv::FONT_HERSHEY_SIMPLEX;
  cv::putText(img, title, {left, 26}, font, 0.6, axis, 1, cv::LINE_AA);
  cv::putText(img, label(y1), {4, top + 5}, font, 0.4, axis, 1, cv::LINE_AA);
  cv::putText(img, label(y0), {4, top + ph}, font, 0.4, axis, 1, cv::LINE_AA);
  cv::putText(img, label(x0), {left, top + ph + 18}, font, 0.4, axis, 1, cv::LINE_AA);
  cv::putText(img, label(x1), {left + pw - 40, top + ph + 18}, font, 0.4, axis, 1, cv::LINE_AA);
  cv::putText(img, "step", {left + pw / 2 - 15, top + ph + 32}, font, 0.45, axis, 1, cv::LINE_AA);
  std::vector<uchar> png;
  if (!cv::imencode(".png", img, png)) throw std::runtime_error(path + ": PNG encoding failed");
  write_file_atomic(path, std::string(png.begin(), png.end()));
}

}  // namespace janus::train
