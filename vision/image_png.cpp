// PNG writing with tEXt chunks (OpenCV encodes the pixels; the chunks are spliced in after IHDR
// with their CRC-32 from zlib), atomic save, and a tEXt reader.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "kernels/tensor.h"
#include "vision/image.h"
#include "vision/image_codecs.h"

namespace janus::vision {

using kernels::Error;

namespace {

constexpr char kPngSignature[] = "\x89PNG\r\n\x1a\n";

void put_u32be(std::string* s, uint32_t v) {
  char b[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  s->append(b, 4);
}

std::string make_chunk(const char* type, const std::string& payload) {
  std::string c;
  put_u32be(&c, uint32_t(payload.size()));
  c.append(type, 4);
  c += payload;
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, reinterpret_cast<const Bytef*>(c.data() + 4), uInt(c.size() - 4));
  put_u32be(&c, uint32_t(crc));
  return c;
}

void check_text(const std::string& key, const std::string& text) {
  bool ok = !key.empty() && key.size() <= 79 && key.front() != ' ' && key.back() != ' ';
  for (unsigned char ch : key) ok = ok && ((ch >= 32 && ch <= 126) || ch >= 161);
  if (!ok) throw Error("encode_png: invalid tEXt keyword '" + key + "' (1-79 printable Latin-1 characters)");
  if (text.find('\0') != std::string::npos) throw Error("encode_png: tEXt '" + key + "' contains a NUL byte");
}

}  // namespace

std::string encode_png(const Image& rgb8, const PngText& text) {
  if (rgb8.channels != 3 || rgb8.bit_depth != 8 || rgb8.empty() ||
      rgb8.data.size() != size_t(rgb8.width) * size_t(rgb8.height) * 3) {
    throw Error("encode_png: expected a non-empty 8-bit RGB image, got " + std::to_string(rgb8.width) + "x" +
                std::to_string(rgb8.height) + "x" + std::to_string(rgb8.channels) + " " +
                std::to_string(rgb8.bit_depth) + "-bit");
  }
  for (const auto& [k, v] : text) check_text(k, v);
  cv::Mat bgr(rgb8.height, rgb8.width, CV_8UC3);
  for (int y = 0; y < rgb8.height; ++y) {
    const uint8_t* s = rgb8.data.data() + size_t(y) * rgb8.width * 3;
    uint8_t* d = bgr.ptr<uint8_t>(y);
    for (int x = 0; x < rgb8.width; ++x) d[3 * x] = s[3 * x + 2], d[3 * x + 1] = s[3 * x + 1], d[3 * x + 2] = s[3 * x];
  }
  std::vector<uchar> buf;
  if (!cv::imencode(".png", bgr, buf, {cv::IMWRITE_PNG_COMPRESSION, 6})) throw Error("encode_png: OpenCV failed");
  const size_t ihdr_end = 8 + 12 + 13;  // signature + IHDR chunk (13-byte payload)
  if (buf.size() < ihdr_end || std::memcmp(buf.data() + 12, "IHDR", 4) != 0) {
    throw Error("encode_png: unexpected encoder output");
  }
  std::string out(reinterpret_cast<const char*>(buf.data()), ihdr_end);
  for (const auto& [k, v] : text) out += make_chunk("tEXt", k + std::string(1, '\0') + v);
  out.append(reinterpret_cast<const char*>(buf.data()) + ihdr_end, buf.size() - ihdr_end);
  return out;
}

void save_png(const std::string& path, const Image& rgb8, const PngText& text) {
  const std::string bytes = encode_png(rgb8, text);
  std::string tmpl = path + ".tmp.XXXXXX";
  std::vector<char> name(tmpl.begin(), tmpl.end());
  name.push_back('\0');
  int fd = mkstemp(name.data());
  if (fd < 0) throw Error(path + ": cannot create a temporary file (" + std::strerror(errno) + ")");
  auto fail = [&](const char* what) {
    int e = errno;
    close(fd);
    unlink(name.data());
    throw Error(path + ": " + what + " (" + std::strerror(e) + ")");
  };
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t w = write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) fail("write failed");
    done += size_t(w);
  }
  if (fchmod(fd, 0644) != 0) fail("chmod failed");
  if (fsync(fd) != 0) fail("fsync failed");
  if (close(fd) != 0) {
    int e = errno;
    unlink(name.data());
    throw Error(path + ": close failed (" + std::strerror(e) + ")");
  }
  if (rename(name.data(), path.c_str()) != 0) {
    int e = errno;
    unlink(name.data());
    throw Error(path + ": rename failed (" + std::strerror(e) + ")");
  }
}

PngText read_png_text(const std::string& bytes, const std::string& name) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  const size_t n = bytes.size();
  if (n < 8 || std::memcmp(p, kPngSignature, 8) != 0) throw Error(name + ": not a PNG file");
  PngText out;
  size_t i = 8;
  while (i < n) {
    if (n - i < 12) throw Error(name + ": truncated PNG chunk at byte " + std::to_string(i));
    const uint64_t len = detail::rd_u32be(p + i);
    if (len > n - i - 12) throw Error(name + ": PNG chunk at byte " + std::to_string(i) + " runs past the end");
    const uint8_t* type = p + i + 4;
    const char* data = bytes.data() + i + 8;
    uLong crc = crc32(crc32(0L, Z_NULL, 0), type, uInt(len + 4));
    if (uint32_t(crc) != detail::rd_u32be(p + i + 8 + len)) {
      throw Error(name + ": bad CRC in PNG chunk '" + std::string(reinterpret_cast<const char*>(type), 4) + "'");
    }
    if (std::memcmp(type, "tEXt", 4) == 0) {
      const void* z = std::memchr(data, '\0', size_t(len));
      if (!z) throw Error(name + ": tEXt chunk without a keyword separator");
      size_t k = size_t(static_cast<const char*>(z) - data);
      out.emplace_back(std::string(data, k), std::string(data + k + 1, size_t(len) - k - 1));
    }
    if (std::memcmp(type, "IEND", 4) == 0) break;
    i += 12 + size_t(len);
  }
  return out;
}

}  // namespace janus::vision
