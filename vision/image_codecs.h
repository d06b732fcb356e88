// Internal to vision/: header parsing and the per-format decoders behind decode_image (image.h).
// Every function takes the encoded bytes and the name used in error messages, and throws
// kernels::Error "<name>: <problem>" on bad input.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "vision/image.h"

namespace janus::vision::detail {

struct DeclaredSize {
  uint64_t width = 0, height = 0;
};

// Width and height as declared by the header of an image of format `f` (no pixel is decoded).
// Throws if the header is cut short or malformed.
DeclaredSize read_declared_size(ImageFormat f, const uint8_t* p, size_t n, const std::string& name);

// Structural checks run before a decoder sees the bytes, so that cut files get our one-line error
// (and OpenCV/libpng print nothing): PNG chunks must lie inside the file, a BMP must hold its
// declared uncompressed pixel rows, a WebP its declared RIFF size. Throws on failure.
void check_container(ImageFormat f, const uint8_t* p, size_t n, const std::string& name);

// EXIF orientation (tag 0x0112 of IFD0) stored in a JPEG APP1 "Exif" segment, a PNG eXIf chunk or a
// WebP EXIF chunk; 0 when there is none (malformed EXIF counts as none, as PIL ignores it).
int read_exif_orientation(ImageFormat f, const uint8_t* p, size_t n);
// The orientation in a TIFF-structured EXIF block (starting at "II*\0" / "MM\0*"); 0 if absent.
int exif_orientation_from_tiff(const uint8_t* p, size_t n);

// Per-format decoders (the size check has already been done by the caller).
Image decode_with_opencv(const uint8_t* p, size_t n, ImageFormat f, const std::string& name);
Image decode_jpeg(const uint8_t* p, size_t n, const std::string& name);
Image decode_gif_first_frame(const uint8_t* p, size_t n, const std::string& name);

// Little/big-endian readers (the caller checks bounds).
inline uint32_t rd_u16le(const uint8_t* p) { return uint32_t(p[0]) | uint32_t(p[1]) << 8; }
inline uint32_t rd_u16be(const uint8_t* p) { return uint32_t(p[0]) << 8 | uint32_t(p[1]); }
inline uint32_t rd_u32le(const uint8_t* p) { return rd_u16le(p) | rd_u16le(p + 2) << 16; }
inline uint32_t rd_u32be(const uint8_t* p) { return rd_u16be(p) << 16 | rd_u16be(p + 2); }

}  // namespace janus::vision::detail
