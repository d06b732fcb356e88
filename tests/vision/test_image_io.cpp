// Image decoding against PIL, hostile inputs, EXIF orientation, PNG text chunks (vision/image.h).
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "image_fixtures.h"

namespace {

using janus::kernels::Error;
using namespace janus::vision;  // NOLINT(build/namespaces)
using namespace janus::test;    // NOLINT(build/namespaces)

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string error_of(const std::string& file, const DecodeOptions& opt = {}) {
  try {
    load_image(image_dir() + file, opt);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// Tolerance: none. PNG/BMP/GIF/WebP-lossless are lossless; JPEG goes through libjpeg-turbo's ISLOW
// IDCT with fancy upsampling (PIL's settings) and lossy WebP through libwebp's default decoder —
// both are deterministic integer pipelines, so the decode must equal PIL's byte for byte.
TEST(DecodeImage, EveryFixtureEqualsPilRgbAfterExifTranspose) {
  auto ref = image_expected();
  auto names = image_fixture_names("files");
  ASSERT_GE(names.size(), 20u);
  for (const std::string& f : names) {
    SCOPED_TRACE(f);
    Image rgb = to_rgb8(load_image(image_dir() + f));
    std::vector<int64_t> shape = ref->get(f + "/rgb_shape").to_i64_vector();
    ASSERT_EQ(rgb.height, shape[0]);
    ASSERT_EQ(rgb.width, shape[1]);
    Diff d;
    if (ref->has(f + "/rgb")) {
      d = diff_u8(rgb.data, ref->get(f + "/rgb").data<uint8_t>(), rgb.data.size());
    } else {
      janus::kernels::Tensor head = ref->get(f + "/rgb_head");
      std::vector<uint8_t> ours_head(rgb.data.begin(), rgb.data.begin() + head.numel());
      d = diff_u8(ours_head, head.data<uint8_t>(), size_t(head.numel()));
      EXPECT_EQ(fnv1a64(rgb.data), uint64_t(ref->get(f + "/rgb_hash").to_i64_vector()[0]));
    }
    std::printf("decode %-28s %4dx%-4d differing %zu of %zu (max |diff| %d)\n", f.c_str(), rgb.width, rgb.height,
                d.differing, d.count, d.max_abs);
    EXPECT_EQ(d.differing, 0u);
  }
}

TEST(DecodeImage, KeepsSixteenBitsAlphaAndGrayUntilConversion) {
  Image g16 = load_image(image_dir() + "png_i16_40x30.png");
  EXPECT_EQ(g16.bit_depth, 16);
  EXPECT_EQ(g16.channels, 1);
  Image rgba = load_image(image_dir() + "png_rgba_57x31.png");
  EXPECT_EQ(rgba.channels, 4);
  EXPECT_EQ(rgba.bit_depth, 8);
  Image gray = load_image(image_dir() + "jpg_gray_90x45.jpg");
  EXPECT_EQ(gray.channels, 1);
  Image rgb16 = load_image(image_dir() + "png_rgb16_50x20.png");
  EXPECT_EQ(rgb16.bit_depth, 16);
  EXPECT_EQ(rgb16.channels, 3);
}

TEST(DecodeImage, ExifOrientationSixRotatesClockwise) {
  DecodeOptions raw;
  raw.apply_exif_orientation = false;
  Image stored = load_image(image_dir() + "jpg_exif6_60x40.jpg", raw);
  Image shown = load_image(image_dir() + "jpg_exif6_60x40.jpg");
  ASSERT_EQ(stored.width, 60);
  ASSERT_EQ(stored.height, 40);
  ASSERT_EQ(shown.width, 40);
  ASSERT_EQ(shown.height, 60);
  // 90 degrees clockwise: the stored bottom-left pixel is shown at the top-left.
  EXPECT_EQ(std::memcmp(shown.at(0, 0), stored.at(0, 39), 3), 0);
  EXPECT_EQ(std::memcmp(shown.at(39, 0), stored.at(0, 0), 3), 0);
}

TEST(DecodeImage, FormatComesFromMagicBytesNotExtension) {
  std::string png = read_file(image_dir() + "png_named_as.jpg");
  EXPECT_EQ(sniff_image_format(png.data(), png.size()), ImageFormat::Png);
  Image a = decode_image(png, "x.webp");
  EXPECT_EQ(a.width, 23);
  EXPECT_EQ(a.height, 29);
}

TEST(DecodeImage, HostileFilesGiveOneLineErrorsNamingTheFile) {
  struct Case {
    const char* file;
    const char* expect;
  } cases[] = {
      {"hostile_truncated.png", "truncated or corrupt PNG data"},
      {"hostile_truncated.jpg", "truncated JPEG data"},
      {"hostile_truncated.gif", "truncated or corrupt GIF data"},
      {"hostile_empty.png", "empty file (0 bytes)"},
      {"hostile_random.png", "not a supported image (PNG, JPEG, BMP, GIF, WebP)"},
      {"hostile_bomb.png",
       "decompression bomb: declared size 100000x100000 (10000000000 pixels) exceeds the limit of 89478485 pixels"},
      {"hostile_zero_width.png", "zero-size PNG image (declared 0x10)"},
      {"hostile_header_only.jpg", "truncated or corrupt JPEG header"},
  };
  auto listed = image_fixture_names("hostile");
  EXPECT_EQ(listed.size(), std::size(cases));
  for (const Case& c : cases) {
    std::string msg = error_of(c.file);
    std::printf("%-24s -> %s\n", c.file, msg.c_str());
    EXPECT_EQ(msg.rfind(image_dir() + c.file + ": ", 0), 0u) << msg;
    EXPECT_NE(msg.find(c.expect), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
  EXPECT_NE(error_of("does_not_exist.png").find("cannot open"), std::string::npos);
}

TEST(DecodeImage, PixelLimitIsConfigurableAndCheckedBeforeDecoding) {
  DecodeOptions opt;
  opt.max_pixels = 777 * 33 - 1;
  EXPECT_NE(error_of("png_rgb_777x33.png", opt).find("declared size 777x33 (25641 pixels) exceeds the limit of 25640"),
            std::string::npos);
  opt.max_pixels = 777 * 33;
  EXPECT_EQ(load_image(image_dir() + "png_rgb_777x33.png", opt).width, 777);
}

TEST(DecodeImage, EveryPrefixOfAFixtureFailsCleanlyOrDecodes) {
  // Truncation at every length of small files of each format: an error or an image, never a crash.
  for (const char* f :
       {"png_p_64x48.png", "jpg_exif2_7x5.jpg", "gif_trns_40x30.gif", "bmp_p_20x10.bmp", "webp_lossy_81x59.webp"}) {
    std::string bytes = read_file(image_dir() + f);
    size_t ok = 0;
    for (size_t n = 0; n < bytes.size(); ++n) {
      try {
        decode_image(bytes.data(), n, f);
        ++ok;
      } catch (const Error&) {
      }
    }
    std::printf("%-24s %zu prefixes: %zu decoded, the rest refused\n", f, bytes.size(), ok);
    EXPECT_LE(ok, 2u) << f;  // at most a prefix that only drops trailing bytes after the image
  }
}

// Header parsers must not read past `size`: the bytes are placed so that the first byte after
// them is on a PROT_NONE page, so any over-read faults. Every prefix of a 34-byte WebP VP8X header
// (the shortest header is 30 bytes: RIFF + "VP8X" chunk header + 10 payload bytes) must give an
// Error or decode, never a crash.
TEST(DecodeImage, HeaderParsersStayInsideTheBuffer) {
  const size_t page = size_t(sysconf(_SC_PAGESIZE));
  void* mem = mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  auto* guard = static_cast<uint8_t*>(mem) + page;
  ASSERT_EQ(mprotect(guard, page, PROT_NONE), 0);
  std::string vp8x("RIFF\x1a\0\0\0WEBPVP8X\x0a\0\0\0\0\0\0\0\x07\0\0\x04\0\0", 30);
  vp8x += std::string(4, '\0');
  for (size_t n = 0; n <= vp8x.size(); ++n) {
    uint8_t* p = guard - n;
    std::memcpy(p, vp8x.data(), n);
    try {
      decode_image(p, n, "x.webp");
    } catch (const Error&) {
    }
  }
  munmap(mem, 2 * page);
}

// A folder given as an image path is an Error naming it (it used to escape as a bare
// std::ios_base::failure "basic_filebuf::underflow error reading the file: Is a directory").
TEST(DecodeImage, FolderPathIsAnErrorNamingIt) {
  const std::string dir = image_dir();
  std::string msg;
  try {
    load_image(dir);
  } catch (const Error& e) {
    msg = e.what();
  } catch (const std::exception& e) {
    msg = std::string("not a kernels::Error: ") + e.what();
  }
  EXPECT_EQ(msg.rfind(dir + ": ", 0), 0u) << msg;
}

TEST(SavePng, TextChunksRoundTripAndPixelsAreLossless) {
  std::string dir = std::string(JANUS_BINARY_DIR) + "/test_image_io_tmp";
  std::filesystem::create_directories(dir);
  std::string path = dir + "/out.png";
  Image rgb = to_rgb8(load_image(image_dir() + "png_rgba_57x31.png"));
  PngText text = {{"parameters", "prompt: a red circle; cfg 5; seed 7"}, {"Software", "janus"}};
  save_png(path, rgb, text);
  std::string bytes = read_file(path);
  EXPECT_EQ(read_png_text(bytes, path), text);
  Image back = load_image(path);
  EXPECT_EQ(back.channels, 3);
  EXPECT_EQ(back.data, rgb.data);
  // Only the destination remains (the temporary was renamed).
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) files += e.is_regular_file();
  EXPECT_EQ(files, 1);
  // A corrupted chunk CRC is detected by the reader.
  std::string bad = bytes;
  bad[40] ^= 1;
  EXPECT_THROW(read_png_text(bad, "bad.png"), Error);
  EXPECT_THROW(encode_png(rgb, {{"", "x"}}), Error);
  EXPECT_THROW(save_png(dir + "/missing_dir/x.png", rgb), Error);
  std::filesystem::remove_all(dir);
}

}  // namespace
