// The per-format decoders behind decode_image: OpenCV (PNG, BMP, WebP), libjpeg (JPEG), stb_image
// (GIF, first frame).
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>

#include <jerror.h>
#include <jpeglib.h>
#include <stb/stb_image.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "kernels/tensor.h"
#include "vision/image_codecs.h"

namespace janus::vision::detail {

using kernels::Error;

// ---------------------------------------------------------------------------------------------
// OpenCV: PNG, BMP, WebP. IMREAD_UNCHANGED keeps 16 bits, alpha and gray; channels come back in
// BGR(A) order and are swapped to RGB(A) here.
Image decode_with_opencv(const uint8_t* p, size_t n, ImageFormat f, const std::string& name) {
  if (n > size_t(INT32_MAX)) throw Error(name + ": file too large to decode (" + std::to_string(n) + " bytes)");
  cv::Mat m;
  try {
    cv::Mat buf(1, int(n), CV_8U, const_cast<uint8_t*>(p));
    m = cv::imdecode(buf, cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {
    throw Error(name + ": truncated or corrupt " + image_format_name(f) + " data (" + e.err + ")");
  }
  if (m.empty()) throw Error(name + ": truncated or corrupt " + image_format_name(f) + " data");
  int depth = m.depth(), ch = m.channels();
  if ((depth != CV_8U && depth != CV_16U) || ch < 1 || ch > 4 || m.dims != 2) {
    throw Error(name + ": unsupported pixel layout from the " + std::string(image_format_name(f)) + " decoder");
  }
  Image img;
  img.width = m.cols;
  img.height = m.rows;
  img.channels = ch;
  img.bit_depth = depth == CV_8U ? 8 : 16;
  img.data.resize(img.row_bytes() * size_t(img.height));
  const size_t bps = img.bytes_per_sample();
  for (int y = 0; y < img.height; ++y) {
    const uint8_t* src = m.ptr<uint8_t>(y);
    uint8_t* dst = img.data.data() + img.row_bytes() * size_t(y);
    if (ch < 3) {
      std::memcpy(dst, src, img.row_bytes());
      continue;
    }
    for (int x = 0; x < img.width; ++x) {
      const uint8_t* s = src + size_t(x) * ch * bps;
      uint8_t* d = dst + size_t(x) * ch * bps;
      std::memcpy(d, s + 2 * bps, bps);  // R <- B position
      std::memcpy(d + bps, s + bps, bps);
      std::memcpy(d + 2 * bps, s, bps);
      if (ch == 4) std::memcpy(d + 3 * bps, s + 3 * bps, bps);
    }
  }
  return img;
}

// ---------------------------------------------------------------------------------------------
// JPEG through libjpeg with PIL's decoder settings. Errors longjmp back to decode_jpeg_raw; the
// premature-EOF warning (libjpeg pads a cut stream with an EOI and carries on) is an error here, as
// PIL raises "image file is truncated" for it. Other warnings (corrupt entropy data) are ignored,
// as in PIL.
namespace {

struct JpegErrorMgr {
  jpeg_error_mgr pub;
  jmp_buf jump;
  bool truncated = false;
  char message[JMSG_LENGTH_MAX] = {};
};

void jpeg_error_exit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegErrorMgr*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  longjmp(err->jump, 1);
}

void jpeg_emit_message(j_common_ptr cinfo, int level) {
  auto* err = reinterpret_cast<JpegErrorMgr*>(cinfo->err);
  if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) err->truncated = true;
  if (level < 0) cinfo->err->num_warnings++;
}

void jpeg_output_message(j_common_ptr) {}

// Adobe CMYK (PIL assumes inverted samples, "CMYK;I") to RGB as PIL's convert does:
// R = (255 - C) * (255 - K) / 255 with rounding, where C = 255 - stored.
inline uint8_t muldiv255(int a, int b) {
  int t = a * b + 128;
  return uint8_t(((t >> 8) + t) >> 8);
}

// Decodes into `out` (already sized by the caller through `on_header`). Only POD state crosses the
// setjmp boundary. Returns an empty string on success, else the error message.
std::string decode_jpeg_raw(const uint8_t* p, size_t n, std::vector<uint8_t>* out, int* w, int* h, int* comps,
                            bool* truncated) {
  jpeg_decompress_struct cinfo;
  JpegErrorMgr err;
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = jpeg_error_exit;
  err.pub.emit_message = jpeg_emit_message;
  err.pub.output_message = jpeg_output_message;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return err.message;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, p, static_cast<unsigned long>(n));
  jpeg_read_header(&cinfo, TRUE);
  switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE: cinfo.out_color_space = JCS_GRAYSCALE; break;
    case JCS_CMYK:
    case JCS_YCCK: cinfo.out_color_space = JCS_CMYK; break;
    default: cinfo.out_color_space = JCS_RGB; break;
  }
  cinfo.dct_method = JDCT_ISLOW;
  cinfo.do_fancy_upsampling = TRUE;
  jpeg_start_decompress(&cinfo);
  *w = int(cinfo.output_width);
  *h = int(cinfo.output_height);
  *comps = cinfo.output_components;
  const size_t row = size_t(*w) * size_t(*comps);
  out->resize(row * size_t(*h));
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW rowp = out->data() + row * cinfo.output_scanline;
    jpeg_read_scanlines(&cinfo, &rowp, 1);
  }
  jpeg_finish_decompress(&cinfo);
  *truncated = err.truncated;
  jpeg_destroy_decompress(&cinfo);
  return {};
}

}  // namespace

Image decode_jpeg(const uint8_t* p, size_t n, const std::string& name) {
  std::vector<uint8_t> raw;
  int w = 0, h = 0, comps = 0;
  bool truncated = false;
  std::string msg = decode_jpeg_raw(p, n, &raw, &w, &h, &comps, &truncated);
  if (!msg.empty()) throw Error(name + ": truncated or corrupt JPEG data (" + msg + ")");
  if (truncated) throw Error(name + ": truncated JPEG data (Premature end of JPEG file)");
  if (comps != 1 && comps != 3 && comps != 4) throw Error(name + ": unsupported JPEG component count");
  Image img;
  img.width = w;
  img.height = h;
  if (comps != 4) {
    img.channels = comps;
    img.data = std::move(raw);
    return img;
  }
  img.channels = 3;
  img.data.resize(size_t(w) * size_t(h) * 3);
  for (size_t i = 0, np = size_t(w) * size_t(h); i < np; ++i) {
    const uint8_t* s = raw.data() + 4 * i;
    int nk = s[3];  // = 255 - K
    for (int c = 0; c < 3; ++c) img.data[3 * i + c] = uint8_t(nk - muldiv255(255 - s[c], nk));
  }
  return img;
}

// ---------------------------------------------------------------------------------------------
// GIF: stb_image renders the first frame as RGBA. Its transparent pixels come back as (0,0,0,0);
// PIL opens the frame in "P" mode, whose RGB conversion shows the palette colour of the transparent
// index, so that colour is restored here. The block structure is walked first to find that index
// and palette, and to refuse a file cut inside the first frame (stb would render it partially).
namespace {

struct GifFrameInfo {
  const uint8_t* palette = nullptr;  // RGB triples of the palette the first frame uses
  int palette_size = 0;
  int transparent = -1;
  int left = 0, top = 0, width = 0, height = 0;
};

GifFrameInfo walk_gif(const uint8_t* p, size_t n, const std::string& name) {
  auto cut = [&](const char* what) -> Error { return Error(name + ": truncated or corrupt GIF data (" + what + ")"); };
  GifFrameInfo info;
  if (n < 13) throw cut("no logical screen descriptor");
  size_t i = 13;
  if (p[10] & 0x80) {
    info.palette_size = 2 << (p[10] & 7);
    info.palette = p + i;
    i += 3 * size_t(info.palette_size);
  }
  auto skip_sub_blocks = [&]() {
    while (true) {
      if (i >= n) throw cut("data ends inside a block");
      size_t len = p[i++];
      if (len == 0) return;
      i += len;
    }
  };
  while (true) {
    if (i >= n) throw cut("no image in the file");
    uint8_t b = p[i++];
    if (b == 0x21) {  // extension
      if (i >= n) throw cut("data ends inside an extension");
      uint8_t label = p[i++];
      if (label == 0xF9 && i + 5 <= n && p[i] >= 4) {
        bool has_transparency = p[i + 1] & 1;
        info.transparent = has_transparency ? p[i + 4] : -1;
      }
      skip_sub_blocks();
    } else if (b == 0x2C) {  // image descriptor
      if (i + 9 > n) throw cut("data ends inside the image descriptor");
      info.left = int(rd_u16le(p + i));
      info.top = int(rd_u16le(p + i + 2));
      info.width = int(rd_u16le(p + i + 4));
      info.height = int(rd_u16le(p + i + 6));
      uint8_t flags = p[i + 8];
      i += 9;
      if (flags & 0x80) {
        info.palette_size = 2 << (flags & 7);
        info.palette = p + i;
        i += 3 * size_t(info.palette_size);
      }
      if (i > n) throw cut("data ends inside the colour table");
      ++i;  // LZW minimum code size
      skip_sub_blocks();
      if (info.palette && info.palette + 3 * size_t(info.palette_size) > p + n) throw cut("colour table cut");
      return info;
    } else {
      throw cut(b == 0x3B ? "no image before the trailer" : "unknown block");
    }
  }
}

}  // namespace

Image decode_gif_first_frame(const uint8_t* p, size_t n, const std::string& name) {
  GifFrameInfo info = walk_gif(p, n, name);
  if (n > size_t(INT32_MAX)) throw Error(name + ": file too large to decode (" + std::to_string(n) + " bytes)");
  int w = 0, h = 0, comp = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> px(stbi_load_from_memory(p, int(n), &w, &h, &comp, 4), stbi_image_free);
  if (!px) {
    const char* why = stbi_failure_reason();
    throw Error(name + ": truncated or corrupt GIF data (" + std::string(why ? why : "stb_image failed") + ")");
  }
  Image img;
  img.width = w;
  img.height = h;
  img.channels = 4;
  img.data.assign(px.get(), px.get() + size_t(w) * size_t(h) * 4);
  if (info.transparent >= 0 && info.transparent < info.palette_size && info.palette) {
    const uint8_t* c = info.palette + 3 * info.transparent;
    int x1 = std::min(w, info.left + info.width), y1 = std::min(h, info.top + info.height);
    for (int y = info.top; y < y1; ++y) {
      for (int x = info.left; x < x1; ++x) {
        uint8_t* q = img.at(x, y);
        if (q[3] == 0) q[0] = c[0], q[1] = c[1], q[2] = c[2];
      }
    }
  }
  return img;
}

}  // namespace janus::vision::detail
