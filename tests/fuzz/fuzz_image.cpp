// libFuzzer target for image decoding (vision/image.h) and what consumes decoded images.
//
// Property: for any bytes, decode_image either throws kernels::Error or returns an image whose
// buffer matches its declared size (width * height * channels * bytes per sample, at most the
// pixel limit). A decoded image converts to 8-bit RGB; a small one also resizes, preprocesses and
// survives a PNG encode/decode round trip unchanged (with a text chunk). Any other exception, crash
// or sanitizer report is a bug. OpenCV, libjpeg, libpng and stb are not instrumented (only our
// code is), so the fuzzer explores our parsing around them.
// Build and run: tests/fuzz/run_fuzzers.sh 30 fuzz_image (seeds: tests/fuzz/corpus/image/).
#include <cstdint>
#include <cstdlib>
#include <string>

#include "kernels/tensor.h"
#include "vision/image.h"
#include "vision/preprocess.h"
#include "vision/resize.h"

using janus::kernels::Error;
using namespace janus::vision;  // NOLINT(build/namespaces)

static void check(bool ok) {
  if (!ok) std::abort();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  DecodeOptions opt;
  opt.max_pixels = 1 << 20;  // keeps every run small; the limit itself is part of what is fuzzed
  Image img;
  try {
    img = decode_image(data, size, "fuzz.img", opt);
  } catch (const Error&) {
    return 0;
  }
  check(img.width > 0 && img.height > 0 && uint64_t(img.width) * img.height <= opt.max_pixels);
  check(img.channels >= 1 && img.channels <= 4 && (img.bit_depth == 8 || img.bit_depth == 16));
  check(img.data.size() == img.row_bytes() * size_t(img.height));
  Image rgb = to_rgb8(img);
  check(rgb.channels == 3 && rgb.width == img.width && rgb.height == img.height);
  if (uint64_t(rgb.width) * rgb.height > 4096) return 0;
  Image small = resize_bicubic(rgb, 5, 3);
  check(small.data.size() == 5 * 3 * 3);
  PreprocessOptions pp;
  pp.image_size = 16;
  janus::kernels::Tensor t = preprocess(rgb, pp);
  check(t.numel() == 3 * 16 * 16);
  std::string png = encode_png(rgb, {{"fuzz", "round trip"}});
  Image back = decode_image(png, "roundtrip.png");
  check(back.channels == 3 && back.bit_depth == 8 && back.data == rgb.data);
  check(read_png_text(png, "roundtrip.png").at(0).second == "round trip");
  return 0;
}
