// Image: decoded pixels on the host, plus loading (PNG, JPEG, BMP, GIF, WebP), conversion to 8-bit
// RGB as PIL's Image.convert("RGB") does it, and PNG writing with text chunks.
//
// Layout: row-major, interleaved channels, no row padding. channels is 1 (gray), 2 (gray + alpha),
// 3 (RGB) or 4 (RGBA) — always in RGB order, never BGR. bit_depth is 8 (one byte per sample) or 16
// (one native-endian uint16 per sample; only 16-bit PNGs decode to it).
//
// Decoding (decode_image / load_image) follows PIL (Image.open + ImageOps.exif_transpose):
// - The format is sniffed from the magic bytes, never from the file name, so a wrong extension
//   still loads. PNG, BMP and WebP decode through OpenCV (IMREAD_UNCHANGED, so 16 bits, alpha and
//   gray survive); JPEG decodes through libjpeg(-turbo) directly with PIL's settings (ISLOW DCT,
//   fancy upsampling) so that CMYK/YCCK JPEGs can be converted as PIL does (Adobe-inverted CMYK,
//   R = (255-C)(255-K)/255 rounded) and truncation is detected; GIF decodes its first frame through
//   stb_image (transparent pixels get the palette colour of the transparent index, as PIL's "P"
//   mode keeps it).
// - EXIF orientation (tag 0x0112 in IFD0 of a JPEG APP1 "Exif", a PNG eXIf or a WebP EXIF chunk)
//   is applied like ImageOps.exif_transpose (values 2..8; anything else leaves the image as is).
//   OpenCV's own orientation handling is not used (IMREAD_UNCHANGED skips it).
// - Before any pixel is decoded, the declared size is read from the header and checked against
//   DecodeOptions::max_pixels (default 89,478,485 = PIL's Image.MAX_IMAGE_PIXELS).
//
// Errors: every failure throws kernels::Error with one line "<name>: <problem>", e.g.
//   photo.png: not a supported image (PNG, JPEG, BMP, GIF, WebP)
//   photo.png: empty file (0 bytes)
//   big.png: decompression bomb: declared size 100000x100000 (10000000000 pixels) exceeds the
//   limit of 89478485 pixels
//   cut.jpg: truncated JPEG data (Premature end of JPEG file)
//   cut.png: truncated or corrupt PNG data (a chunk runs past the end of the file)
// Cut files are caught by our own structure checks before OpenCV sees them; for other corrupt
// data OpenCV/libpng still print a diagnostic line on stderr (their own, not controllable) while
// we throw. Never crashes on hostile bytes (fuzzed: tests/fuzz/fuzz_image.cpp).
// Thread-safety: all functions are reentrant.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace janus::vision {

struct Image {
  int width = 0, height = 0;
  int channels = 0;           // 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA
  int bit_depth = 8;          // 8 or 16
  std::vector<uint8_t> data;  // height * width * channels * (bit_depth / 8) bytes

  // Zero-filled 8-bit image.
  static Image make(int width, int height, int channels);
  size_t bytes_per_sample() const { return size_t(bit_depth / 8); }
  size_t row_bytes() const { return size_t(width) * channels * bytes_per_sample(); }
  bool empty() const { return width == 0 || height == 0; }
  // 8-bit sample access (no bounds check).
  uint8_t* at(int x, int y) { return data.data() + (size_t(y) * width + x) * channels; }
  const uint8_t* at(int x, int y) const { return data.data() + (size_t(y) * width + x) * channels; }
};

enum class ImageFormat { Unknown, Png, Jpeg, Bmp, Gif, Webp };
const char* image_format_name(ImageFormat f);  // "PNG", "JPEG", ...
// Format from the leading magic bytes (needs at most 12 bytes); Unknown if none matches.
ImageFormat sniff_image_format(const void* data, size_t size);

// PIL's Image.MAX_IMAGE_PIXELS (1024 * 1024 * 1024 // 4 // 3).
constexpr uint64_t kDefaultMaxImagePixels = 89478485;

struct DecodeOptions {
  uint64_t max_pixels = kDefaultMaxImagePixels;  // declared width * height above this is refused
  bool apply_exif_orientation = true;
};

// Decodes an encoded image held in memory; `name` is only used in error messages.
Image decode_image(const void* data, size_t size, const std::string& name, const DecodeOptions& opt = {});
Image decode_image(const std::string& bytes, const std::string& name, const DecodeOptions& opt = {});
// Reads and decodes a file (errors name the path; an unreadable file is an error too).
Image load_image(const std::string& path, const DecodeOptions& opt = {});

// PIL's convert("RGB"): gray is replicated, alpha is dropped (not composited). 16-bit samples
// follow PIL: a 16-bit gray PNG is PIL mode "I;16", whose RGB conversion clamps to 255
// (min(v, 255)); 16-bit gray+alpha / RGB / RGBA PNGs are opened by PIL with the high byte of each
// sample (v >> 8). An 8-bit RGB image is returned as a copy.
Image to_rgb8(const Image& img);

// Rotates/flips as ImageOps.exif_transpose does for EXIF orientation 1..8 (1 and out-of-range
// values return a copy). Any channel count and bit depth.
Image apply_exif_orientation(const Image& img, int orientation);

using PngText = std::vector<std::pair<std::string, std::string>>;  // (keyword, text)

// Encodes an 8-bit RGB image as PNG (OpenCV's encoder) and inserts one tEXt chunk per entry right
// after IHDR. Keywords must be 1..79 Latin-1 printable characters without leading/trailing spaces;
// text must not contain NUL (kernels::Error otherwise). Text is stored byte for byte (UTF-8 input
// is kept as is, although PNG defines tEXt as Latin-1).
std::string encode_png(const Image& rgb8, const PngText& text = {});
// Writes encode_png(...) to `path` atomically: a temporary file in the same folder, fsync, rename.
// On failure the destination is untouched and the temporary is removed.
void save_png(const std::string& path, const Image& rgb8, const PngText& text = {});
// The tEXt chunks of a PNG (in file order). Throws if `bytes` is not a PNG or a chunk is malformed.
PngText read_png_text(const std::string& bytes, const std::string& name);

}  // namespace janus::vision
