// Progress line formatting, metrics JSONL (resume without duplicates), loss-curve PNG.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "train/atomic_file.h"
#include "train/progress.h"

namespace {

namespace tr = janus::train;
namespace fs = std::filesystem;

std::string tmp(const std::string& name) {
  return testing::TempDir() + "/janus_progress_" + std::to_string(getpid()) + "_" + name;
}

TEST(Progress, FormatsStepLossLrRateAndEta) {
  tr::ProgressInfo p{250, 1000, 2.345678, 3e-4, 12345.0, 3723.4};
  EXPECT_EQ(tr::format_progress(p, 8), "[##......] 250/1000 loss 2.3457 lr 3.00e-04 12.35k tok/s ETA 1:02:03");
  tr::ProgressInfo q{0, 10, 5.0, 1e-3, 0, -1};  // no rate or ETA yet
  EXPECT_EQ(tr::format_progress(q, 4), "[....] 0/10 loss 5.0000 lr 1.00e-03");
  EXPECT_EQ(tr::format_duration(7.4), "0:00:07");
}

TEST(Progress, PrintsOneLineEveryNStepsWhenNotATty) {
  const std::string path = tmp("bar.txt");
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  {
    tr::ProgressBar bar(25, 0, 10, f);
    for (int s = 1; s <= 25; ++s) bar.update(s, 1.0, 1e-3, 100);
    bar.finish();
  }
  std::fclose(f);
  std::string text = tr::read_file(path);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3);  // steps 10, 20 and the last (25)
  EXPECT_EQ(text.find('\r'), std::string::npos);
  EXPECT_NE(text.find("] 10/25 loss"), std::string::npos);
  EXPECT_NE(text.find("] 25/25 loss"), std::string::npos);
  fs::remove(path);
}

TEST(Metrics, WritesOneFlushedJsonLinePerStepAndDropsStepsAfterAResumePoint) {
  const std::string path = tmp("metrics.jsonl");
  {
    tr::MetricsWriter w(path, -1);
    for (int s = 1; s <= 15; ++s) w.write({{"step", s}, {"loss", 10.0 / s}});
    // Flushed after every line: readable before the writer closes.
    EXPECT_EQ(tr::read_metric_series(path, "loss").size(), 15u);
  }
  std::ofstream(path, std::ios::app) << "{\"step\": 16, \"lo";  // a torn line from a crash
  {
    tr::MetricsWriter w(path, 10);  // resumed from the step-10 checkpoint
    for (int s = 11; s <= 12; ++s) w.write({{"step", s}, {"loss", 1.0}});
  }
  auto series = tr::read_metric_series(path, "loss");
  ASSERT_EQ(series.size(), 12u);
  for (size_t i = 0; i < series.size(); ++i) EXPECT_EQ(series[i].first, double(i + 1));
  EXPECT_DOUBLE_EQ(series[9].second, 1.0);
  EXPECT_DOUBLE_EQ(series[10].second, 1.0);
  fs::remove(path);
}

uint32_t be32(const std::string& s, size_t at) {
  return uint32_t(uint8_t(s[at])) << 24 | uint32_t(uint8_t(s[at + 1])) << 16 | uint32_t(uint8_t(s[at + 2])) << 8 |
         uint32_t(uint8_t(s[at + 3]));
}

TEST(LossCurve, WritesAPngOfTheRequestedSize) {
  const std::string path = tmp("loss.png");
  std::vector<std::pair<double, double>> pts;
  for (int s = 1; s <= 50; ++s) pts.emplace_back(s, 5.0 / s + (s == 20 ? NAN : 0.0));
  tr::write_loss_curve_png(path, pts, "training loss", 640, 360);
  std::string png = tr::read_file(path);
  ASSERT_GT(png.size(), 33u);
  EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(png.substr(12, 4), "IHDR");
  EXPECT_EQ(be32(png, 16), 640u);
  EXPECT_EQ(be32(png, 20), 360u);
  // No temporary file is left next to it.
  for (auto& e : fs::directory_iterator(fs::path(path).parent_path()))
    EXPECT_EQ(e.path().string().find(path + ".tmp"), std::string::npos);
  EXPECT_THROW(tr::write_loss_curve_png(path, {{1, NAN}}, "x"), std::runtime_error);
  fs::remove(path);
}

}  // namespace
