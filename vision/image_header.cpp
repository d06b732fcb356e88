// Format sniffing, declared sizes and EXIF orientation, read straight from the encoded bytes.
#include <cstring>

#include "kernels/tensor.h"
#include "vision/image_codecs.h"

namespace janus::vision {

using kernels::Error;

const char* image_format_name(ImageFormat f) {
  switch (f) {
    case ImageFormat::Png: return "PNG";
    case ImageFormat::Jpeg: return "JPEG";
    case ImageFormat::Bmp: return "BMP";
    case ImageFormat::Gif: return "GIF";
    case ImageFormat::Webp: return "WebP";
    default: return "unknown";
  }
}

ImageFormat sniff_image_format(const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  if (n >= 8 && std::memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0) return ImageFormat::Png;
  if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) return ImageFormat::Jpeg;
  if (n >= 6 && (std::memcmp(p, "GIF87a", 6) == 0 || std::memcmp(p, "GIF89a", 6) == 0)) return ImageFormat::Gif;
  if (n >= 12 && std::memcmp(p, "RIFF", 4) == 0 && std::memcmp(p + 8, "WEBP", 4) == 0) return ImageFormat::Webp;
  if (n >= 2 && p[0] == 'B' && p[1] == 'M') return ImageFormat::Bmp;
  return ImageFormat::Unknown;
}

namespace detail {
namespace {

[[noreturn]] void bad_header(const std::string& name, ImageFormat f, const std::string& what) {
  throw Error(name + ": truncated or corrupt " + image_format_name(f) + " header (" + what + ")");
}

// Calls fn(marker, segment, segment_size) for each JPEG marker segment before the first SOS;
// stops early when fn returns false. Returns false if the header is cut short.
template <typename Fn>
bool walk_jpeg_segments(const uint8_t* p, size_t n, Fn fn) {
  size_t i = 2;
  while (true) {
    while (i < n && p[i] != 0xFF) ++i;  // tolerate garbage between segments, as libjpeg does
    while (i < n && p[i] == 0xFF) ++i;  // fill bytes
    if (i >= n) return false;
    uint8_t m = p[i++];
    if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) continue;  // no length field
    if (m == 0xD9) return false;                                       // EOI before any frame
    if (i + 2 > n) return false;
    size_t len = rd_u16be(p + i);
    if (len < 2 || i + len > n) return false;
    if (!fn(m, p + i + 2, len - 2)) return true;
    if (m == 0xDA) return true;
    i += len;
  }
}

// Calls fn(type, data, size) for each PNG chunk; false if a chunk runs past the end.
template <typename Fn>
bool walk_png_chunks(const uint8_t* p, size_t n, Fn fn) {
  size_t i = 8;
  while (i + 12 <= n) {
    uint64_t len = rd_u32be(p + i);
    if (len > n - i - 12) return false;
    if (!fn(p + i + 4, p + i + 8, size_t(len))) return true;
    i += 12 + size_t(len);
  }
  return i == n;
}

// Calls fn(fourcc, data, size) for each chunk of a RIFF WEBP file.
template <typename Fn>
bool walk_webp_chunks(const uint8_t* p, size_t n, Fn fn) {
  size_t i = 12;
  while (i + 8 <= n) {
    uint64_t len = rd_u32le(p + i + 4);
    if (len > n - i - 8) return false;
    if (!fn(p + i, p + i + 8, size_t(len))) return true;
    i += 8 + size_t(len) + (len & 1);
  }
  return true;
}

}  // namespace

DeclaredSize read_declared_size(ImageFormat f, const uint8_t* p, size_t n, const std::string& name) {
  DeclaredSize d;
  switch (f) {
    case ImageFormat::Png:
      if (n < 24 || std::memcmp(p + 12, "IHDR", 4) != 0) bad_header(name, f, "no IHDR chunk");
      d.width = rd_u32be(p + 16);
      d.height = rd_u32be(p + 20);
      break;
    case ImageFormat::Jpeg: {
      bool found = false;
      bool complete = walk_jpeg_segments(p, n, [&](uint8_t m, const uint8_t* s, size_t len) {
        bool sof = m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC;
        if (m == 0xDA) return false;
        if (sof && len >= 5) {
          d.height = rd_u16be(s + 1);
          d.width = rd_u16be(s + 3);
          found = true;
          return false;
        }
        return true;
      });
      if (!complete || !found) bad_header(name, f, "no frame header (SOF) before the image data");
      break;
    }
    case ImageFormat::Bmp: {
      if (n < 26) bad_header(name, f, "file shorter than its headers");
      uint32_t dib = rd_u32le(p + 14);
      if (dib == 12) {
        d.width = rd_u16le(p + 18);
        d.height = rd_u16le(p + 20);
      } else {
        int32_t w = int32_t(rd_u32le(p + 18)), h = int32_t(rd_u32le(p + 22));
        if (w < 0) bad_header(name, f, "negative width");
        d.width = uint64_t(w);
        d.height = h < 0 ? uint64_t(-int64_t(h)) : uint64_t(h);  // negative height = top-down rows
      }
      break;
    }
    case ImageFormat::Gif:
      if (n < 10) bad_header(name, f, "no logical screen descriptor");
      d.width = rd_u16le(p + 6);
      d.height = rd_u16le(p + 8);
      break;
    case ImageFormat::Webp: {
      if (n < 30) bad_header(name, f, "no VP8/VP8L/VP8X chunk");
      const uint8_t* c = p + 20;
      if (std::memcmp(p + 12, "VP8 ", 4) == 0) {
        if (c[3] != 0x9D || c[4] != 0x01 || c[5] != 0x2A) bad_header(name, f, "bad VP8 start code");
        d.width = rd_u16le(c + 6) & 0x3FFF;
        d.height = rd_u16le(c + 8) & 0x3FFF;
      } else if (std::memcmp(p + 12, "VP8L", 4) == 0) {
        if (c[0] != 0x2F) bad_header(name, f, "bad VP8L signature");
        uint32_t bits = rd_u32le(c + 1);
        d.width = (bits & 0x3FFF) + 1;
        d.height = ((bits >> 14) & 0x3FFF) + 1;
      } else if (std::memcmp(p + 12, "VP8X", 4) == 0) {
        // 24-bit fields at c + 4 and c + 7 (the last one ends at byte 29 < n): read 3 bytes each.
        d.width = (rd_u16le(c + 4) | uint32_t(c[6]) << 16) + 1;
        d.height = (rd_u16le(c + 7) | uint32_t(c[9]) << 16) + 1;
      } else {
        bad_header(name, f, "first chunk is not VP8, VP8L or VP8X");
      }
      break;
    }
    default: throw Error(name + ": not a supported image (PNG, JPEG, BMP, GIF, WebP)");
  }
  return d;
}

void check_container(ImageFormat f, const uint8_t* p, size_t n, const std::string& name) {
  auto cut = [&](const std::string& what) {
    throw Error(name + ": truncated or corrupt " + image_format_name(f) + " data (" + what + ")");
  };
  if (f == ImageFormat::Png) {
    bool idat = false, end = false;
    bool whole = walk_png_chunks(p, n, [&](const uint8_t* type, const uint8_t*, size_t) {
      idat = idat || std::memcmp(type, "IDAT", 4) == 0;
      end = std::memcmp(type, "IEND", 4) == 0;
      return !end;
    });
    if (!whole) cut("a chunk runs past the end of the file");
    if (!idat) cut("no IDAT chunk");
  } else if (f == ImageFormat::Bmp) {
    if (n < 30) cut("file shorter than its headers");
    const uint32_t dib = rd_u32le(p + 14);
    const uint64_t offset = rd_u32le(p + 10);
    const uint32_t bpp = dib == 12 ? rd_u16le(p + 24) : rd_u16le(p + 28);
    const uint32_t compression = dib == 12 || n < 34 ? 0 : rd_u32le(p + 30);
    if (compression == 0 || compression == 3) {  // BI_RGB / BI_BITFIELDS: rows are stored as is
      DeclaredSize d = read_declared_size(f, p, n, name);
      const uint64_t stride = (d.width * bpp + 31) / 32 * 4;
      if (d.height > 0 && offset + stride * (d.height - 1) + (d.width * bpp + 7) / 8 > n) {
        cut("pixel rows run past the end of the file");
      }
    }
  } else if (f == ImageFormat::Webp) {
    if (n < 32) cut("file shorter than a WebP header");
    if (uint64_t(rd_u32le(p + 4)) + 8 > n) cut("RIFF size runs past the end of the file");
  }
}

int exif_orientation_from_tiff(const uint8_t* p, size_t n) {
  if (n < 8) return 0;
  bool le;
  if (std::memcmp(p, "II*\0", 4) == 0) {
    le = true;
  } else if (std::memcmp(p, "MM\0*", 4) == 0) {
    le = false;
  } else {
    return 0;
  }
  auto u16 = [&](size_t o) { return le ? rd_u16le(p + o) : rd_u16be(p + o); };
  auto u32 = [&](size_t o) { return le ? rd_u32le(p + o) : rd_u32be(p + o); };
  uint64_t ifd = u32(4);
  if (ifd + 2 > n) return 0;
  uint32_t count = u16(size_t(ifd));
  for (uint32_t k = 0; k < count; ++k) {
    uint64_t e = ifd + 2 + 12ull * k;
    if (e + 12 > n) return 0;
    if (u16(size_t(e)) != 0x0112) continue;
    uint32_t type = u16(size_t(e + 2));
    if (type == 3) return int(u16(size_t(e + 8)));  // SHORT (the standard type)
    if (type == 4) return int(u32(size_t(e + 8)));  // LONG (seen in the wild)
    if (type == 1) return int(p[size_t(e + 8)]);    // BYTE
    return 0;
  }
  return 0;
}

int read_exif_orientation(ImageFormat f, const uint8_t* p, size_t n) {
  int orientation = 0;
  auto from_block = [&](const uint8_t* s, size_t len) {
    if (len >= 6 && std::memcmp(s, "Exif\0\0", 6) == 0) {
      s += 6;
      len -= 6;
    }
    orientation = exif_orientation_from_tiff(s, len);
  };
  if (f == ImageFormat::Jpeg) {
    walk_jpeg_segments(p, n, [&](uint8_t m, const uint8_t* s, size_t len) {
      if (m == 0xE1 && len >= 6 && std::memcmp(s, "Exif\0\0", 6) == 0) {
        from_block(s, len);
        return false;  // PIL keeps the first Exif segment
      }
      return m != 0xDA;
    });
  } else if (f == ImageFormat::Png) {
    walk_png_chunks(p, n, [&](const uint8_t* type, const uint8_t* s, size_t len) {
      if (std::memcmp(type, "eXIf", 4) == 0) {
        from_block(s, len);
        return false;
      }
      return std::memcmp(type, "IEND", 4) != 0;
    });
  } else if (f == ImageFormat::Webp) {
    walk_webp_chunks(p, n, [&](const uint8_t* type, const uint8_t* s, size_t len) {
      if (std::memcmp(type, "EXIF", 4) == 0) {
        from_block(s, len);
        return false;
      }
      return true;
    });
  }
  return orientation;
}

}  // namespace detail
}  // namespace janus::vision
