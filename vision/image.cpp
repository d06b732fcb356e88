// decode_image / load_image dispatch, EXIF orientation and PIL-style RGB conversion.
#include "vision/image.h"

#include <cstring>
#include <fstream>

#include "kernels/tensor.h"
#include "vision/image_codecs.h"

namespace janus::vision {

using kernels::Error;

Image Image::make(int width, int height, int channels) {
  if (width < 0 || height < 0 || channels < 1 || channels > 4) {
    throw Error("Image::make: bad size " + std::to_string(width) + "x" + std::to_string(height) + "x" +
                std::to_string(channels));
  }
  Image img;
  img.width = width;
  img.height = height;
  img.channels = channels;
  img.data.assign(size_t(width) * size_t(height) * size_t(channels), 0);
  return img;
}

Image decode_image(const void* data, size_t size, const std::string& name, const DecodeOptions& opt) {
  const auto* p = static_cast<const uint8_t*>(data);
  if (size == 0) throw Error(name + ": empty file (0 bytes)");
  ImageFormat f = sniff_image_format(p, size);
  if (f == ImageFormat::Unknown) throw Error(name + ": not a supported image (PNG, JPEG, BMP, GIF, WebP)");

  detail::DeclaredSize d = detail::read_declared_size(f, p, size, name);
  if (d.width == 0 || d.height == 0) {
    throw Error(name + ": zero-size " + image_format_name(f) + " image (declared " + std::to_string(d.width) + "x" +
                std::to_string(d.height) + ")");
  }
  // Both factors are < 2^32, so the product cannot overflow 64 bits.
  const uint64_t pixels = d.width * d.height;
  if (pixels > opt.max_pixels) {
    throw Error(name + ": decompression bomb: declared size " + std::to_string(d.width) + "x" +
                std::to_string(d.height) + " (" + std::to_string(pixels) + " pixels) exceeds the limit of " +
                std::to_string(opt.max_pixels) + " pixels");
  }

  detail::check_container(f, p, size, name);
  Image img;
  switch (f) {
    case ImageFormat::Jpeg: img = detail::decode_jpeg(p, size, name); break;
    case ImageFormat::Gif: img = detail::decode_gif_first_frame(p, size, name); break;
    default: img = detail::decode_with_opencv(p, size, f, name); break;
  }
  if (uint64_t(img.width) != d.width || uint64_t(img.height) != d.height) {
    throw Error(name + ": decoded size " + std::to_string(img.width) + "x" + std::to_string(img.height) +
                " differs from the declared " + std::to_string(d.width) + "x" + std::to_string(d.height));
  }
  if (opt.apply_exif_orientation) {
    int o = detail::read_exif_orientation(f, p, size);
    if (o >= 2 && o <= 8) img = apply_exif_orientation(img, o);
  }
  return img;
}

Image decode_image(const std::string& bytes, const std::string& name, const DecodeOptions& opt) {
  return decode_image(bytes.data(), bytes.size(), name, opt);
}

Image load_image(const std::string& path, const DecodeOptions& opt) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open (" + std::strerror(errno) + ")");
  std::string bytes;
  try {  // istreambuf_iterator lets the filebuf's read error escape (e.g. EISDIR for a folder)
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } catch (const std::exception& e) {
    throw Error(path + ": read error (" + e.what() + ")");
  }
  if (in.bad()) throw Error(path + ": read error");
  return decode_image(bytes, path, opt);
}

Image apply_exif_orientation(const Image& img, int orientation) {
  if (orientation < 2 || orientation > 8) return img;
  const int w = img.width, h = img.height;
  const bool swap = orientation >= 5;  // 5..8 transpose the axes
  Image out = img;
  out.width = swap ? h : w;
  out.height = swap ? w : h;
  const size_t px = size_t(img.channels) * img.bytes_per_sample();
  for (int oy = 0; oy < out.height; ++oy) {
    for (int ox = 0; ox < out.width; ++ox) {
      int sx = 0, sy = 0;  // source pixel of output (ox, oy), as PIL's transpose methods define it
      switch (orientation) {
        case 2: sx = w - 1 - ox, sy = oy; break;          // FLIP_LEFT_RIGHT
        case 3: sx = w - 1 - ox, sy = h - 1 - oy; break;  // ROTATE_180
        case 4: sx = ox, sy = h - 1 - oy; break;          // FLIP_TOP_BOTTOM
        case 5: sx = oy, sy = ox; break;                  // TRANSPOSE
        case 6: sx = oy, sy = h - 1 - ox; break;          // ROTATE_270 (90 degrees clockwise)
        case 7: sx = w - 1 - oy, sy = h - 1 - ox; break;  // TRANSVERSE
        case 8: sx = w - 1 - oy, sy = ox; break;          // ROTATE_90 (90 degrees counter-clockwise)
      }
      std::memcpy(out.data.data() + (size_t(oy) * out.width + ox) * px, img.data.data() + (size_t(sy) * w + sx) * px,
                  px);
    }
  }
  return out;
}

Image to_rgb8(const Image& img) {
  if (img.channels < 1 || img.channels > 4 || (img.bit_depth != 8 && img.bit_depth != 16) ||
      img.data.size() != img.row_bytes() * size_t(img.height)) {
    throw Error("to_rgb8: malformed image (" + std::to_string(img.width) + "x" + std::to_string(img.height) + "x" +
                std::to_string(img.channels) + ", " + std::to_string(img.bit_depth) + "-bit, " +
                std::to_string(img.data.size()) + " bytes)");
  }
  Image out = Image::make(img.width, img.height, 3);
  const size_t n = size_t(img.width) * size_t(img.height);
  const int c = img.channels;
  const bool color = c >= 3;
  if (img.bit_depth == 8) {
    const uint8_t* s = img.data.data();
    for (size_t i = 0; i < n; ++i, s += c) {
      uint8_t* d = out.data.data() + 3 * i;
      d[0] = s[0];
      d[1] = color ? s[1] : s[0];
      d[2] = color ? s[2] : s[0];
    }
    return out;
  }
  std::vector<uint16_t> v(n * c);
  std::memcpy(v.data(), img.data.data(), v.size() * 2);
  for (size_t i = 0; i < n; ++i) {
    const uint16_t* s = v.data() + i * c;
    uint8_t* d = out.data.data() + 3 * i;
    if (c == 1) {  // PIL "I;16" -> RGB clamps
      d[0] = d[1] = d[2] = uint8_t(s[0] > 255 ? 255 : s[0]);
    } else {  // PIL reads these 16-bit PNGs keeping the high byte
      d[0] = uint8_t(s[0] >> 8);
      d[1] = uint8_t((color ? s[1] : s[0]) >> 8);
      d[2] = uint8_t((color ? s[2] : s[0]) >> 8);
    }
  }
  return out;
}

}  // namespace janus::vision
