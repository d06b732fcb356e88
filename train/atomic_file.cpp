#include "train/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace janus::train {

namespace fs = std::filesystem;

static std::runtime_error sys_error(const std::string& path, const std::string& what) {
  return std::runtime_error(path + ": " + what + ": " + std::strerror(errno));
}

void fsync_dir(const std::string& dir) {
  const std::string d = dir.empty() ? "." : dir;
  int fd = ::open(d.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) throw sys_error(d, "cannot open folder to fsync");
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw sys_error(d, "fsync of folder failed");
}

static void fsync_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw sys_error(path, "cannot open to fsync");
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw sys_error(path, "fsync failed");
}

void commit_file_atomic(const std::string& tmp, const std::string& path) {
  try {
    fsync_file(tmp);
    if (::rename(tmp.c_str(), path.c_str()) != 0) throw sys_error(path, "rename from " + tmp + " failed");
    fsync_dir(fs::path(path).parent_path().string());
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
}

void write_file_atomic(const std::string& path, const std::string& contents) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw sys_error(tmp, "cannot create");
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      auto err = sys_error(tmp, "write failed");
      ::close(fd);
      ::unlink(tmp.c_str());
      throw err;
    }
    done += size_t(n);
  }
  if (::close(fd) != 0) {
    auto err = sys_error(tmp, "close failed");
    ::unlink(tmp.c_str());
    throw err;
  }
  commit_file_atomic(tmp, path);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw sys_error(path, "cannot open");
  // istream::read turns a read error (EISDIR for a folder, EIO) into badbit; `ss << in.rdbuf()`
  // would swallow it and return "".
  std::string out;
  char buf[1 << 16];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) out.append(buf, size_t(in.gcount()));
  if (in.bad()) throw sys_error(path, "read failed");
  return out;
}

}  // namespace janus::train
