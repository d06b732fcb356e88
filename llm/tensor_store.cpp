#include "llm/tensor_store.h"

#include "llm/torch_bin.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

namespace janus::llm {

using kernels::Error;
using kernels::Tensor;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {
constexpr const char* kIndexName = "model.safetensors.index.json";
constexpr const char* kSingleName = "model.safetensors";
constexpr const char* kBinIndexName = "pytorch_model.bin.index.json";
constexpr const char* kBinSingleName = "pytorch_model.bin";

// One-line messages: control characters in names become '?'.
[[noreturn]] void fail(std::string msg) {
  for (char& c : msg)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  throw Error(msg);
}

std::string join(const std::string& dir, const std::string& file) { return (fs::path(dir) / file).string(); }

bool is_regular_file(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

// pytorch_model.bin alone, else every pytorch_model*.bin in sorted order.
std::vector<std::string> pytorch_bins(const std::string& dir) {
  if (is_regular_file(join(dir, kBinSingleName))) return {join(dir, kBinSingleName)};
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string n = e.path().filename().string();
    if (n.rfind("pytorch_model", 0) == 0 && n.size() >= 4 && n.compare(n.size() - 4, 4, ".bin") == 0 &&
        is_regular_file(e.path().string()))
      out.push_back(e.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}
}  // namespace

struct TensorStore::Impl {
  struct Entry {  // exactly one of file / bin is set
    explicit Entry(const SafetensorsFile* f) : file(f) {}
    explicit Entry(const TorchBinFile* b) : bin(b) {}
    const SafetensorsFile* file = nullptr;
    const TorchBinFile* bin = nullptr;
    mutable std::atomic<bool> used{false};
    const std::string& path() const { return file ? file->path() : bin->path(); }
    const SafetensorsTensorInfo& info(const std::string& n) const { return file ? file->info(n) : bin->info(n); }
    Tensor get(const std::string& n) const { return file ? file->get(n) : bin->get(n); }
  };
  std::string dir;
  std::vector<std::shared_ptr<SafetensorsFile>> files;
  std::vector<std::shared_ptr<TorchBinFile>> bin_files;
  std::map<std::string, Entry> entries;

  const Entry* find(const std::string& name) const {
    auto it = entries.find(name);
    return it == entries.end() ? nullptr : &it->second;
  }
  const Entry& at(const std::string& name) const {
    const Entry* e = find(name);
    if (!e) fail(dir + ": missing tensor '" + name + "'");
    return *e;
  }
  void add_file(std::shared_ptr<SafetensorsFile> f) { files.push_back(std::move(f)); }
  void add_file(std::shared_ptr<TorchBinFile> f) { bin_files.push_back(std::move(f)); }
  template <typename File>
  void read_index(const std::string& index_path);
};

// Reads a `*.index.json` ("weight_map": {tensor: shard}) and opens each shard once with File::open.
template <typename File>
void TensorStore::Impl::read_index(const std::string& index_path) {
  json index;
  {
    std::ifstream in(index_path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) fail(index_path + ": cannot read");
    try {
      index = json::parse(text.str());
    } catch (const json::exception& e) {
      std::string what = e.what();
      if (!what.empty() && what[0] == '[') what = what.substr(std::min(what.size(), what.find(']') + 2));
      if (what.size() > 200) what = what.substr(0, 197) + "...";
      fail(index_path + ": not valid JSON (" + what + ")");
    }
  }
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
    fail(index_path + ": no \"weight_map\" object");
  std::map<std::string, std::shared_ptr<File>> shards;
  for (const auto& [name, shard_json] : index["weight_map"].items()) {
    if (!shard_json.is_string())
      fail(index_path + ": tensor '" + name + "' maps to a " + shard_json.type_name() + ", expected a shard file name");
    const std::string shard = shard_json.template get<std::string>();
    auto it = shards.find(shard);
    if (it == shards.end()) {
      fs::path sp(shard);
      bool outside = shard.empty() || sp.is_absolute();
      for (const auto& part : sp) outside = outside || part == "..";
      if (outside)
        fail(index_path + ": shard '" + shard + "' (for tensor '" + name + "') is not a file in the model folder");
      const std::string shard_path = join(dir, shard);
      if (!is_regular_file(shard_path))
        fail(index_path + ": shard '" + shard + "' (for tensor '" + name + "') does not exist");
      it = shards.emplace(shard, File::open(shard_path)).first;
      add_file(it->second);
    }
    if (!it->second->has(name))
      fail(index_path + ": tensor '" + name + "' is mapped to shard '" + shard + "', which does not contain it");
    entries.emplace(std::piecewise_construct, std::forward_as_tuple(name), std::forward_as_tuple(it->second.get()));
  }
}

TensorStore TensorStore::open_dir(const std::string& dir) {
  auto impl = std::make_shared<Impl>();
  impl->dir = dir;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) fail(dir + ": not a directory");

  if (is_regular_file(join(dir, kIndexName))) {
    impl->read_index<SafetensorsFile>(join(dir, kIndexName));
    return TensorStore(impl);
  }
  std::vector<std::string> paths;
  if (is_regular_file(join(dir, kSingleName))) {
    paths.push_back(join(dir, kSingleName));
  } else {
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      const fs::path& p = e.path();
      if (p.extension() == ".safetensors" && is_regular_file(p.string())) paths.push_back(p.string());
    }
    std::sort(paths.begin(), paths.end());
  }
  if (paths.empty()) {
    if (is_regular_file(join(dir, kBinIndexName))) {
      impl->read_index<TorchBinFile>(join(dir, kBinIndexName));
      return TensorStore(impl);
    }
    std::vector<std::string> bins = pytorch_bins(dir);
    if (bins.empty())
      fail("no weights in " + dir + " (expected " + kSingleName + ", " + kIndexName + ", " + kBinSingleName + " or " +
           kBinIndexName + ")");
    for (const std::string& path : bins) {
      auto f = TorchBinFile::open(path);
      for (const std::string& name : f->names()) {
        if (const Impl::Entry* prev = impl->find(name))
          fail(dir + ": tensor '" + name + "' is in both " + prev->path() + " and " + path);
        impl->entries.emplace(std::piecewise_construct, std::forward_as_tuple(name), std::forward_as_tuple(f.get()));
      }
      impl->add_file(std::move(f));
    }
    return TensorStore(impl);
  }
  for (const std::string& path : paths) {
    auto f = SafetensorsFile::open(path);
    for (const std::string& name : f->names()) {
      if (const Impl::Entry* prev = impl->find(name))
        fail(dir + ": tensor '" + name + "' is in both " + prev->path() + " and " + path);
      impl->entries.emplace(std::piecewise_construct, std::forward_as_tuple(name), std::forward_as_tuple(f.get()));
    }
    impl->add_file(std::move(f));
  }
  return TensorStore(impl);
}

bool TensorStore::has(const std::string& name) const { return impl_->find(name) != nullptr; }

Tensor TensorStore::get(const std::string& name) const {
  const Impl::Entry& e = impl_->at(name);
  Tensor t = e.get(name);
  e.used.store(true, std::memory_order_relaxed);
  return t;
}

Tensor TensorStore::get(const std::string& name, const kernels::Shape& expected) const {
  const Impl::Entry& e = impl_->at(name);
  const kernels::Shape& actual = e.info(name).shape;
  if (actual != expected)
    fail(e.path() + ": tensor '" + name + "' has shape " + kernels::shape_str(actual) + ", expected " +
         kernels::shape_str(expected));
  return get(name);
}

Tensor TensorStore::get_opt(const std::string& name) const { return has(name) ? get(name) : Tensor(); }

const SafetensorsTensorInfo& TensorStore::info(const std::string& name) const { return impl_->at(name).info(name); }

const SafetensorsFile& TensorStore::file_of(const std::string& name) const {
  const Impl::Entry& e = impl_->at(name);
  if (!e.file) fail(e.path() + ": tensor '" + name + "' is in a PyTorch checkpoint, not a safetensors file");
  return *e.file;
}

void TensorStore::mark_used(const std::string& name) const {
  if (const Impl::Entry* e = impl_->find(name)) e->used.store(true, std::memory_order_relaxed);
}

std::vector<std::string> TensorStore::unused_names() const {
  std::vector<std::string> out;
  for (const auto& [name, e] : impl_->entries)
    if (!e.used.load(std::memory_order_relaxed)) out.push_back(name);
  return out;
}

std::vector<std::string> TensorStore::names() const {
  std::vector<std::string> out;
  out.reserve(impl_->entries.size());
  for (const auto& kv : impl_->entries) out.push_back(kv.first);
  return out;
}

size_t TensorStore::size() const { return impl_->entries.size(); }

uint64_t TensorStore::file_bytes() const {
  uint64_t n = 0;
  for (const auto& f : impl_->files) n += f->file_size();
  for (const auto& f : impl_->bin_files) n += f->file_size();
  return n;
}

const std::string& TensorStore::dir() const { return impl_->dir; }

std::vector<std::string> TensorStore::files() const {
  std::vector<std::string> out;
  for (const auto& f : impl_->files) out.push_back(f->path());
  for (const auto& f : impl_->bin_files) out.push_back(f->path());
  return out;
}

}  // namespace janus::llm
