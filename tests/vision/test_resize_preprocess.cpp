// PIL-compatible bicubic resize and Janus preprocessing against PIL / transformers
// (vision/resize.h, vision/preprocess.h).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#include "image_fixtures.h"
#include "vision/preprocess.h"
#include "vision/resize.h"

namespace {

using janus::kernels::Error;
using janus::kernels::Tensor;
using namespace janus::vision;  // NOLINT(build/namespaces)
using namespace janus::test;    // NOLINT(build/namespaces)

// Tolerance: bit-exact. Pillow's 8-bit resampling is integer arithmetic on coefficients computed
// in double precision; the same computation in the same order gives the same integers. (The bar
// of the issue is >= 99% identical and the rest within 1; we assert 100% and print the counts.)
TEST(ResizeBicubic, EveryFixtureEqualsPilImageResize) {
  auto ref = image_expected();
  size_t total = 0, differing = 0;
  for (const std::string& f : image_fixture_names("files")) {
    SCOPED_TRACE(f);
    Image rgb = to_rgb8(load_image(image_dir() + f));
    Tensor e = ref->get(f + "/resize");
    Image r = resize_bicubic(rgb, int(e.size(1)), int(e.size(0)));
    Diff d = diff_u8(r.data, e.data<uint8_t>(), size_t(e.numel()));
    std::printf("resize %-28s %4dx%-4d -> %3dx%-3d differing %zu of %zu (max |diff| %d)\n", f.c_str(), rgb.width,
                rgb.height, r.width, r.height, d.differing, d.count, d.max_abs);
    total += d.count;
    differing += d.differing;
    EXPECT_EQ(d.differing, 0u);
  }
  std::printf("resize: %zu of %zu values identical (%.4f%%)\n", total - differing, total,
              100.0 * double(total - differing) / double(total));
}

TEST(ResizeBicubic, SweepOfTargetSizesEqualsPil) {
  auto ref = image_expected();
  Image src = rgb_tensor_to_image(ref->get("sweep/src"));
  int cases = 0, vertical_first = 0;
  for (const std::string& n : ref->names()) {
    if (n.rfind("sweep/", 0) != 0 || n == "sweep/src") continue;
    Tensor e = ref->get(n);
    Image r = resize_bicubic(src, int(e.size(1)), int(e.size(0)));
    Diff d = diff_u8(r.data, e.data<uint8_t>(), size_t(e.numel()));
    EXPECT_EQ(d.differing, 0u) << n << " max |diff| " << d.max_abs;
    ++cases;
    // Pillow < 13 always went horizontal first; the sweep must tell the two orders apart.
    Image legacy = resize_bicubic(src, int(e.size(1)), int(e.size(0)), PassOrder::kHorizontalFirst);
    if (diff_u8(legacy.data, e.data<uint8_t>(), size_t(e.numel())).differing != 0) {
      std::printf("sweep %-12s needs the vertical pass first\n", n.c_str());
      ++vertical_first;
    }
  }
  EXPECT_EQ(cases, 17);
  // 150x7, 30x5, 30x7, 33x10, 36x1; 29x7 is the edge of the strict inequality (horizontal first).
  EXPECT_EQ(vertical_first, 5);
}

TEST(ResizeBicubic, GrayResizesLikeEachRgbChannel) {
  Image rgb = to_rgb8(load_image(image_dir() + "png_l_200x17.png"));
  Image gray = load_image(image_dir() + "png_l_200x17.png");
  ASSERT_EQ(gray.channels, 1);
  Image a = resize_bicubic(rgb, 61, 40), b = resize_bicubic(gray, 61, 40);
  for (size_t i = 0; i < b.data.size(); ++i) ASSERT_EQ(a.data[3 * i], b.data[i]);
  EXPECT_THROW(resize_bicubic(rgb, 0, 3), Error);
  EXPECT_THROW(resize_bicubic(load_image(image_dir() + "png_rgba_57x31.png"), 3, 3), Error);
}

TEST(JanusPreprocess, SizeRulesFollowTransformersAndTheOriginal) {
  PreprocessOptions t, o;
  o.size_rule = SizeRule::kOriginal;
  // transformers 5.24: round(2 * (384 / 14)) = round(54.86) = 55; original int(2 / 14 * 384) = 54.
  EXPECT_EQ(janus_resized_size(14, 2, t), std::make_pair(384, 55));
  EXPECT_EQ(janus_resized_size(14, 2, o), std::make_pair(384, 54));
  // 161 * (384 / 483) = 127.99999999999999 rounds to 128; 161 / 483 * 384 is exactly 128.0 in doubles.
  EXPECT_EQ(janus_resized_size(483, 161, t), std::make_pair(384, 128));
  EXPECT_EQ(janus_resized_size(483, 161, o), std::make_pair(384, 128));
  // Python's round is half to even: 3 * (384 / 768) = 1.5 -> 2 and 5 * 0.5 = 2.5 -> 2.
  PreprocessOptions small = t;
  small.min_size = 1;
  EXPECT_EQ(janus_resized_size(768, 3, small), std::make_pair(384, 2));
  EXPECT_EQ(janus_resized_size(768, 5, small), std::make_pair(384, 2));
  EXPECT_EQ(janus_resized_size(3, 500, t), std::make_pair(14, 384));  // min_size 14
  EXPECT_EQ(janus_resized_size(1000, 999, t), std::make_pair(384, 384));
}

// Tolerance: the issue allows >= 99% identical and the rest within one 8-bit step (2/255 after
// normalisation); the pipeline is exact (PIL-exact resize, the same float64 rescale and float32
// normalisation), so we assert 100% and print the measured fractions.
TEST(JanusPreprocess, EqualsTransformersJanusImageProcessor) {
  auto ref = image_expected();
  Tensor table = ref->get("pp_table");  // f32 [3, 256]
  const float* tab = table.data<float>();
  size_t total = 0, identical = 0, within_step = 0;
  for (const std::string& f : image_fixture_names("files")) {
    SCOPED_TRACE(f);
    PreprocessOptions opt;
    opt.image_size = int(ref->get(f + "/pp_size").to_i64_vector()[0]);
    Tensor ours = preprocess(to_rgb8(load_image(image_dir() + f)), opt);
    Tensor idx = ref->get(f + "/pp_index");
    ASSERT_EQ(ours.shape(), idx.shape());
    const float* o = ours.data<float>();
    const uint8_t* ix = idx.data<uint8_t>();
    const size_t plane = size_t(opt.image_size) * opt.image_size;
    size_t same = 0, near = 0;
    for (size_t i = 0; i < size_t(idx.numel()); ++i) {
      float e = tab[(i / plane) * 256 + ix[i]];
      same += o[i] == e;
      near += std::fabs(o[i] - e) <= 2.0f / 255.0f + 1e-6f;
    }
    std::printf("preprocess %-28s S=%3d identical %zu of %zu\n", f.c_str(), opt.image_size, same, size_t(idx.numel()));
    total += size_t(idx.numel());
    identical += same;
    within_step += near;
  }
  std::printf("preprocess: identical %.4f%%, within one 8-bit step %.4f%% of %zu values\n",
              100.0 * double(identical) / double(total), 100.0 * double(within_step) / double(total), total);
  EXPECT_EQ(identical, total);
}

TEST(JanusPreprocess, PadsCentredWithGray) {
  Image img = Image::make(40, 21, 3);  // black, landscape, no resize at S = 40
  PreprocessOptions opt;
  opt.image_size = 40;
  Image sq = resize_and_pad(img, opt);
  ASSERT_EQ(sq.width, 40);
  ASSERT_EQ(sq.height, 40);
  EXPECT_EQ(sq.at(0, 8)[0], 127);  // rows 0..8 background: (40 - 21) / 2 = 9
  EXPECT_EQ(sq.at(0, 9)[0], 0);
  EXPECT_EQ(sq.at(39, 29)[2], 0);
  EXPECT_EQ(sq.at(0, 30)[1], 127);
  Image portrait = resize_and_pad(Image::make(21, 40, 3), opt);
  EXPECT_EQ(portrait.at(8, 0)[0], 127);
  EXPECT_EQ(portrait.at(9, 0)[0], 0);
  Tensor t = preprocess(img, opt);
  EXPECT_EQ(t.shape(), (janus::kernels::Shape{3, 40, 40}));
  // 127 -> float32(127 * 0.00392156862745098) = 0.498039; (x - 0.5) / 0.5 = -0.0039216.
  EXPECT_EQ(t.data<float>()[0], (float(127 * 0.00392156862745098) - 0.5f) / 0.5f);
  EXPECT_EQ(t.data<float>()[9 * 40], -1.0f);
}

// Tolerance: exact against both recipes (original Janus float32 and transformers' float64 rescale
// agree on every float32 input, see preprocess.h); 200 of the 768 values sit one float32 step next
// to (x + 1) / 2 * 255 = integer, where truncation is most fragile.
TEST(JanusPostprocess, MatchesOriginalJanusAndTransformersExactly) {
  auto ref = image_expected();
  Tensor x = ref->get("post/x");
  Image ours = postprocess(x);
  Diff d_orig = diff_u8(ours.data, ref->get("post/original").data<uint8_t>(), ours.data.size());
  Diff d_tf = diff_u8(ours.data, ref->get("post/transformers").data<uint8_t>(), ours.data.size());
  std::printf("postprocess vs original Janus: %zu of %zu differ; vs transformers: %zu differ (max |diff| %d)\n",
              d_orig.differing, d_orig.count, d_tf.differing, d_tf.max_abs);
  EXPECT_EQ(d_orig.differing, 0u);
  EXPECT_EQ(d_tf.differing, 0u);
  EXPECT_THROW(postprocess(Tensor::zeros({4, 2, 2}, janus::kernels::DType::F32)), Error);
}

}  // namespace
