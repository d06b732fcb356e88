#include "llm/torch_bin.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <unordered_map>

namespace janus::llm {

using kernels::Error;
using kernels::Shape;
using kernels::Tensor;

namespace {

std::string one_line(std::string s) {
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return s;
}

uint64_t rd(const uint8_t* p, size_t n) {
  uint64_t v = 0;
  for (size_t k = 0; k < n; ++k) v |= uint64_t(p[k]) << (8 * k);
  return v;
}

struct ZipEntry {
  uint64_t offset = 0, size = 0;  // of the stored data, in the file
};

// Reads the central directory of a stored-only zip (with Zip64 extensions) into name -> data range.
class ZipReader {
 public:
  ZipReader(const uint8_t* base, uint64_t size, const std::string& path) : b_(base), n_(size), path_(path) {}

  std::unordered_map<std::string, ZipEntry> read() {
    if (n_ < 22) fail("too small to be a zip archive (" + std::to_string(n_) + " bytes)");
    // End of central directory: the last "PK\5\6" whose comment reaches exactly the end of the file.
    uint64_t eocd = UINT64_MAX;
    const uint64_t lowest = n_ > 22 + 65535 ? n_ - 22 - 65535 : 0;
    for (uint64_t p = n_ - 22 + 1; p-- > lowest;) {
      if (rd(b_ + p, 4) == 0x06054b50 && p + 22 + rd(b_ + p + 20, 2) == n_) {
        eocd = p;
        break;
      }
    }
    if (eocd == UINT64_MAX) fail("no zip end-of-central-directory record");
    uint64_t count = rd(b_ + eocd + 10, 2), cd_size = rd(b_ + eocd + 12, 4), cd_off = rd(b_ + eocd + 16, 4);
    if (count == 0xffff || cd_size == 0xffffffff || cd_off == 0xffffffff) {
      if (eocd < 20 || rd(b_ + eocd - 20, 4) != 0x07064b50) fail("Zip64 locator missing");
      const uint64_t z = rd(b_ + eocd - 20 + 8, 8);
      if (z > eocd - 20 || eocd - 20 - z < 56 || rd(b_ + z, 4) != 0x06064b50) fail("bad Zip64 end record");
      count = rd(b_ + z + 32, 8);
      cd_size = rd(b_ + z + 40, 8);
      cd_off = rd(b_ + z + 48, 8);
    }
    if (cd_off > n_ || cd_size > n_ - cd_off) fail("central directory out of range");
    if (count > cd_size / 46) fail("central directory too small for " + std::to_string(count) + " entries");
    std::unordered_map<std::string, ZipEntry> out;
    uint64_t p = cd_off;
    const uint64_t cd_end = cd_off + cd_size;
    for (uint64_t k = 0; k < count; ++k) {
      if (cd_end - p < 46 || rd(b_ + p, 4) != 0x02014b50) fail("bad central directory entry " + std::to_string(k));
      const uint64_t flags = rd(b_ + p + 8, 2), method = rd(b_ + p + 10, 2);
      uint64_t csize = rd(b_ + p + 20, 4), usize = rd(b_ + p + 24, 4), local = rd(b_ + p + 42, 4);
      const uint64_t nlen = rd(b_ + p + 28, 2), xlen = rd(b_ + p + 30, 2), clen = rd(b_ + p + 32, 2);
      if (cd_end - p - 46 < nlen + xlen + clen) fail("central directory entry " + std::to_string(k) + " truncated");
      const std::string name(reinterpret_cast<const char*>(b_ + p + 46), nlen);
      // Zip64 extra field (id 1): the 64-bit values of the fields that hold 0xffffffff, in order.
      const uint8_t* x = b_ + p + 46 + nlen;
      for (uint64_t q = 0; q + 4 <= xlen;) {
        const uint64_t id = rd(x + q, 2), len = rd(x + q + 2, 2);
        if (q + 4 + len > xlen) fail("zip entry '" + name + "': bad extra field");
        if (id == 1) {
          uint64_t at = q + 4;
          for (uint64_t* f : {&usize, &csize, &local}) {
            if (*f != 0xffffffff) continue;
            if (at + 8 > q + 4 + len) fail("zip entry '" + name + "': short Zip64 field");
            *f = rd(x + at, 8);
            at += 8;
          }
        }
        q += 4 + len;
      }
      p += 46 + nlen + xlen + clen;
      if (flags & 1) fail("zip entry '" + name + "' is encrypted");
      if (method != 0)
        fail("zip entry '" + name + "' is compressed (method " + std::to_string(method) +
             "); torch writes stored entries");
      if (csize != usize) fail("zip entry '" + name + "': stored sizes differ");
      if (local > n_ || n_ - local < 30 || rd(b_ + local, 4) != 0x04034b50)
        fail("zip entry '" + name + "': bad local header offset");
      const uint64_t data = local + 30 + rd(b_ + local + 26, 2) + rd(b_ + local + 28, 2);
      if (data > n_ || usize > n_ - data) fail("zip entry '" + name + "': data out of range");
      out[name] = ZipEntry{data, usize};
    }
    return out;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw Error(one_line(path_ + ": " + what)); }
  const uint8_t* b_;
  uint64_t n_;
  const std::string& path_;
};

// Copies a strided view element by element into a contiguous tensor.
void gather_strided(uint8_t* dst, const uint8_t* src, const Shape& shape, const Shape& strides, size_t es) {
  const int nd = int(shape.size());
  int64_t total = 1;
  for (int64_t s : shape) total *= s;
  if (total == 0) return;
  std::vector<int64_t> idx(size_t(nd), 0);
  int64_t src_off = 0;
  for (int64_t e = 0; e < total; ++e) {
    std::memcpy(dst + size_t(e) * es, src + size_t(src_off) * es, es);
    for (int d = nd - 1; d >= 0; --d) {
      if (++idx[size_t(d)] < shape[size_t(d)]) {
        src_off += strides[size_t(d)];
        break;
      }
      src_off -= strides[size_t(d)] * (shape[size_t(d)] - 1);
      idx[size_t(d)] = 0;
    }
  }
}

}  // namespace

void TorchBinFile::fail(const std::string& problem) const { throw Error(one_line(path_ + ": " + problem)); }

std::shared_ptr<TorchBinFile> TorchBinFile::open(const std::string& path) {
  std::shared_ptr<TorchBinFile> f(new TorchBinFile());
  f->path_ = path;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) f->fail(std::string("cannot open (") + std::strerror(errno) + ")");
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    f->fail("not a regular file");
  }
  f->size_ = uint64_t(st.st_size);
  if (f->size_ > 0) {
    void* p = mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      std::string err = std::strerror(errno);
      ::close(fd);
      f->fail("cannot map " + std::to_string(f->size_) + " bytes (" + err + ")");
    }
    size_t len = f->size_;
    f->keep_alive_ = std::shared_ptr<void>(p, [len](void* q) { munmap(q, len); });
    f->base_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
  f->parse();
  return f;
}

std::shared_ptr<TorchBinFile> TorchBinFile::open_from_memory(const void* data, size_t size, const std::string& name,
                                                             std::shared_ptr<void> keep_alive) {
  std::shared_ptr<TorchBinFile> f(new TorchBinFile());
  f->path_ = name;
  f->base_ = static_cast<const uint8_t*>(data);
  f->size_ = size;
  f->keep_alive_ = std::move(keep_alive);
  f->parse();
  return f;
}

void TorchBinFile::parse() {
  if (size_ >= 2 && base_[0] == 0x80 && base_[1] <= 5)
    fail(
        "legacy (pre-1.6) torch.save format is not supported; re-save it with a recent torch "
        "(torch.save(torch.load(f), f)) or convert it to safetensors");
  if (size_ < 4 || rd(base_, 4) != 0x04034b50) fail("not a PyTorch zip checkpoint (no zip signature)");
  auto zip = ZipReader(base_, size_, path_).read();
  std::string prefix;
  const ZipEntry* pkl = nullptr;
  for (const auto& [n, e] : zip) {
    const size_t slash = n.find('/');
    if (slash != std::string::npos && n.compare(slash, std::string::npos, "/data.pkl") == 0) {
      if (pkl) fail("two data.pkl entries in the archive");
      pkl = &e;
      prefix = n.substr(0, slash);
    }
  }
  if (!pkl) fail("no '<archive>/data.pkl' entry: not a torch.save checkpoint");
  auto bo = zip.find(prefix + "/byteorder");
  if (bo != zip.end()) {
    std::string order(reinterpret_cast<const char*>(base_ + bo->second.offset), size_t(bo->second.size));
    if (order != "little") fail("byteorder '" + order + "' is not supported (only little-endian)");
  }
  std::vector<TorchTensorRecord> recs = unpickle_state_dict(base_ + pkl->offset, size_t(pkl->size), path_);
  for (TorchTensorRecord& r : recs) {
    const std::string where = "tensor '" + r.name + "': ";
    auto it = zip.find(prefix + "/data/" + r.storage_key);
    if (it == zip.end()) fail(where + "storage '" + r.storage_key + "' is not in the archive");
    const ZipEntry& z = it->second;
    const uint64_t es = r.dtype.element_size;
    if (uint64_t(r.storage_numel) > z.size / es)
      fail(where + "storage '" + r.storage_key + "' declares " + std::to_string(r.storage_numel) + " " + r.dtype.name +
           " elements but its entry has " + std::to_string(z.size) + " bytes");
    Entry e;
    e.storage_file_offset = z.offset;
    // Extent of the view: offset + sum((size - 1) * stride) must lie inside the storage.
    if (r.offset < 0) fail(where + "negative storage offset");
    int64_t numel = 1, last = r.offset;
    bool empty = false;
    const int64_t kLimit = int64_t(1) << 62;
    for (size_t d = 0; d < r.shape.size(); ++d) {
      const int64_t s = r.shape[d], st = r.strides[d];
      if (s < 0 || st < 0) fail(where + "negative size or stride");
      if (s == 0) empty = true;
      if (s > 0 && numel > kLimit / s) fail(where + "element count overflows");
      numel *= s;
      if (s > 1 && st > (kLimit - last) / (s - 1)) fail(where + "view extent overflows");
      if (s > 1) last += (s - 1) * st;
    }
    if (empty) numel = 0;
    if (numel > 0 && last >= r.storage_numel)
      fail(where + "view " + kernels::shape_str(r.shape) + " at offset " + std::to_string(r.offset) + " needs " +
           std::to_string(last + 1) + " elements, storage '" + r.storage_key + "' has " +
           std::to_string(r.storage_numel));
    e.contiguous = r.strides == kernels::contiguous_strides(r.shape) || numel <= 1;
    SafetensorsTensorInfo& in = e.info;
    in.dtype_name = r.dtype.name;
    in.dtype = r.dtype.dtype;
    in.element_size = es;
    in.shape = r.shape;
    in.numel = numel;
    in.data_begin = numel > 0 ? uint64_t(r.offset) * es : 0;
    in.data_end = in.data_begin + uint64_t(numel) * es;
    in.file_offset = z.offset + in.data_begin;
    e.rec = std::move(r);
    const std::string name = e.rec.name;
    tensors_[name] = std::move(e);
  }
  for (const auto& kv : tensors_) names_.push_back(kv.first);
}

const SafetensorsTensorInfo& TorchBinFile::info(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) fail("tensor '" + name + "': not in this file");
  return it->second.info;
}

const TorchTensorRecord& TorchBinFile::record(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) fail("tensor '" + name + "': not in this file");
  return it->second.rec;
}

Tensor TorchBinFile::get(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) fail("tensor '" + name + "': not in this file");
  const Entry& e = it->second;
  const SafetensorsTensorInfo& in = e.info;
  if (!in.dtype)
    fail("tensor '" + name + "': dtype " + in.dtype_name +
         " is not supported by Janus (supported: float32, bfloat16, float16, float8_e4m3fn, float64, int64, int32, "
         "uint8)");
  const uint8_t* p = base_ + in.file_offset;
  if (e.contiguous && reinterpret_cast<uintptr_t>(p) % in.element_size == 0)
    return Tensor::borrow(const_cast<uint8_t*>(p), in.shape, *in.dtype, keep_alive_);
  Tensor t = Tensor::empty(in.shape, *in.dtype);
  if (e.contiguous)
    std::memcpy(t.raw(), p, in.nbytes());
  else
    gather_strided(static_cast<uint8_t*>(t.raw()), p, e.rec.shape, e.rec.strides, in.element_size);
  return t;
}

}  // namespace janus::llm
