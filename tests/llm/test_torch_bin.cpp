// PyTorch .bin reader (llm/torch_bin.h): fixtures from tools/make_torch_bin_fixtures.py (torch.save
// in torch 2.15). Every value must equal torch's, byte for byte (no tolerance: nothing is computed).
#include <gtest/gtest.h>

#include "llm/tensor_store.h"
#include "llm/torch_bin.h"
#include "safetensors_test_util.h"

namespace janus::st_test {
namespace {

using janus::llm::TorchBinFile;
using namespace std::string_literals;

std::string fx(const std::string& name) { return std::string(JANUS_FIXTURES) + "/torch_bin/" + name; }

std::shared_ptr<SafetensorsFile> expected_file() { return SafetensorsFile::open(fx("expected.safetensors")); }

// Every tensor of `file` whose expected copy is named prefix + name equals it exactly.
void expect_matches(const TorchBinFile& f, const std::string& prefix, size_t expected_count) {
  auto exp = expected_file();
  size_t n = 0;
  for (const std::string& name : f.names()) {
    if (!exp->has(prefix + name)) continue;
    Tensor t = f.get(name);
    ASSERT_TRUE(t.is_contiguous()) << name;
    EXPECT_TRUE(same_bytes(t, exp->get(prefix + name))) << name;
    EXPECT_EQ(t.numel(), f.info(name).numel) << name;
    ++n;
  }
  EXPECT_EQ(n, expected_count);
}

TEST(TorchBin, ReadsEveryDtypeTorchSaves) {
  auto f = TorchBinFile::open(fx("dtypes.bin"));
  EXPECT_EQ(f->names().size(), 11u);
  expect_matches(*f, "", 10);
  EXPECT_EQ(f->get("bf16").dtype(), DType::BF16);
  EXPECT_EQ(f->get("fp8").dtype(), DType::F8E4M3);  // _rebuild_tensor_v3 + UntypedStorage
  EXPECT_EQ(f->get("i64").to_i64_vector(), (std::vector<int64_t>{-3, -2, -1, 0, 1, 2}));
  EXPECT_EQ(f->get("scalar").shape(), Shape{});
  EXPECT_EQ(f->get("empty").shape(), (Shape{0, 3}));
  EXPECT_EQ(f->info("flag").dtype_name, "bool");
  expect_error([&] { f->get("flag"); }, {fx("dtypes.bin"), "tensor 'flag'", "bool", "not supported"});
}

TEST(TorchBin, ContiguousTensorsAreZeroCopyViewsOfTheFile) {
  auto f = TorchBinFile::open(fx("views.bin"));
  for (const char* name : {"slice", "slice2d", "full", "param"}) {
    Tensor a = f->get(name), b = f->get(name);
    EXPECT_EQ(a.raw(), b.raw()) << name;  // same mapping, no copy
    EXPECT_EQ(reinterpret_cast<uintptr_t>(a.raw()) % 4, 0u) << name;
  }
  // "slice" (offset 3) and "slice2d" (offset 8) view the same storage.
  EXPECT_EQ(static_cast<const float*>(f->get("slice2d").raw()) - static_cast<const float*>(f->get("slice").raw()), 5);
  EXPECT_EQ(f->record("slice").offset, 3);
}

TEST(TorchBin, StridedViewsAndParametersMatchTorch) {
  auto f = TorchBinFile::open(fx("views.bin"));
  EXPECT_EQ(f->record("transposed").strides, (Shape{1, 6}));
  EXPECT_EQ(f->record("column").strides, (Shape{6}));
  EXPECT_EQ(f->record("column").offset, 2);
  expect_matches(*f, "", 7);
}

TEST(TorchBin, ModuleStateDictWithMetadata) {
  auto f = TorchBinFile::open(fx("module.bin"));
  EXPECT_EQ(f->names(), (std::vector<std::string>{"0.bias", "0.weight", "1.bias", "1.weight"}));
  expect_matches(*f, "module.", 4);
}

TEST(TorchBin, Zip64CentralDirectory) {
  auto f = TorchBinFile::open(fx("zip64.bin"));
  expect_matches(*f, "", 7);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(f->get("full").raw()) % 64, 0u);
}

TEST(TorchBin, ShardedIndexThroughTensorStore) {
  TensorStore s = TensorStore::open_dir(fx("sharded"));
  EXPECT_EQ(s.names(), (std::vector<std::string>{"lm_head.weight", "model.a", "model.b"}));
  EXPECT_EQ(s.files().size(), 2u);
  auto exp = expected_file();
  for (const auto& n : s.names()) EXPECT_TRUE(same_bytes(s.get(n), exp->get("sharded." + n))) << n;
  EXPECT_EQ(s.info("model.b").dtype_name, "bfloat16");
  EXPECT_EQ(s.get("lm_head.weight", {4, 2}).dtype(), DType::F32);
  expect_error(
      [&] {
        s.get("lm_head.weight", {2, 4});
      },
      {"pytorch_model-00002-of-00002.bin", "lm_head.weight", "[4, 2]", "expected [2, 4]"});
  expect_error([&] { s.file_of("model.a"); }, {"PyTorch checkpoint"});
}

class TorchBinDir : public Tmp {};

TEST_F(TorchBinDir, SingleBinFolderLoads) {
  write_bytes(path("pytorch_model.bin"), read_bytes(fx("module.bin")));
  TensorStore s = TensorStore::open_dir(dir);
  EXPECT_EQ(s.size(), 4u);
  EXPECT_EQ(s.get("0.weight", {2, 3}).dtype(), DType::F32);
  EXPECT_EQ(s.file_bytes(), read_bytes(fx("module.bin")).size());
}

TEST(TorchBin, RefusesCodeExecution) {
  expect_error([] { TorchBinFile::open(fx("evil_os_system.bin")); },
               {fx("evil_os_system.bin"), "refusing to load", "os.system"});
  // torch.save pickles os.system under its real module name (posix on Linux).
  expect_error([] { TorchBinFile::open(fx("evil_reduce.bin")); }, {"refusing to load", "system"});
}

TEST(TorchBin, RefusesLegacyAndCompressedArchivesWithAHint) {
  expect_error([] { TorchBinFile::open(fx("legacy.bin")); }, {"legacy (pre-1.6)", "re-save"});
  expect_error([] { TorchBinFile::open(fx("deflated.bin")); }, {"is compressed (method 8)"});
}

// Truncations and single-byte corruptions of a real checkpoint fail cleanly or load consistent data.
TEST(TorchBin, CorruptedFilesNeverCrash) {
  const std::string good = read_bytes(fx("views.bin"));
  int refused = 0, loaded = 0;
  auto attempt = [&](const std::string& bytes) {
    try {
      auto f = TorchBinFile::open_from_memory(bytes.data(), bytes.size(), "mem.bin");
      for (const auto& n : f->names()) {
        const auto& in = f->info(n);
        ASSERT_LE(in.file_offset + in.nbytes(), bytes.size()) << n;
        f->get(n).to_f32_vector();
      }
      ++loaded;
    } catch (const Error&) {
      ++refused;
    }
  };
  for (size_t len = 0; len < good.size(); len += 7) attempt(good.substr(0, len));
  for (size_t i = 0; i < good.size(); i += 3) {
    std::string b = good;
    b[i] = char(b[i] ^ 0x5a);
    attempt(b);
  }
  EXPECT_GT(refused, 0);
  EXPECT_GT(loaded, 0);  // flips inside tensor data change values, not structure
}

TEST(TorchBin, HandWrittenPicklesAreChecked) {
  // A minimal torch-shaped archive around a given data.pkl, built with the stored zip layout.
  auto archive = [](const std::string& pkl) {
    std::string out, cd;
    auto le = [](uint64_t v, int n) {
      std::string s;
      for (int i = 0; i < n; ++i) s += char((v >> (8 * i)) & 0xff);
      return s;
    };
    const std::string name = "archive/data.pkl";
    cd += le(0x02014b50, 4) + le(20, 2) + le(20, 2) + le(0, 2) + le(0, 2) + le(0, 4) + le(0, 4) + le(pkl.size(), 4) +
          le(pkl.size(), 4) + le(name.size(), 2) + le(0, 2) + le(0, 2) + le(0, 2) + le(0, 2) + le(0, 4) + le(0, 4) +
          name;
    out += le(0x04034b50, 4) + le(20, 2) + le(0, 2) + le(0, 2) + le(0, 4) + le(0, 4) + le(pkl.size(), 4) +
           le(pkl.size(), 4) + le(name.size(), 2) + le(0, 2) + name + pkl;
    const size_t cd_off = out.size();
    out += cd + le(0x06054b50, 4) + le(0, 4) + le(1, 2) + le(1, 2) + le(cd.size(), 4) + le(cd_off, 4) + le(0, 2);
    return out;
  };
  auto open = [&](const std::string& pkl) {
    std::string a = archive(pkl);
    return TorchBinFile::open_from_memory(a.data(), a.size(), "hand.bin");
  };
  EXPECT_TRUE(open("\x80\x02}."s)->names().empty());  // an empty state dict
  expect_error(
      [&] {
        open(
            "\x80\x02]q\x00h\x00"
            "a."s);
      },
      {"hand.bin", "list", "expected a state dict"});
  expect_error(
      [&] {
        open(
            "\x80\x02"
            "cbuiltins\neval\n."s);
      },
      {"refusing to load", "builtins.eval"});
  expect_error([&] { open("\x80\x02\x81."s); }, {"refusing to load", "opcode 0x81"});
  expect_error(
      [&] {
        open(
            "\x80\x02}X\x01\x00\x00\x00"
            "aK\x01s."s);
      },
      {"entry 'a' is a int, expected a tensor"});
  expect_error([&] { open("\x80\x02h\x07."s); }, {"memo key 7 not defined"});
  expect_error([&] { open("\x80\x02"s); }, {"truncated"});
  // A tensor whose storage is not in the archive.
  const std::string pkl =
      "\x80\x02}X\x01\x00\x00\x00w"
      "ctorch._utils\n_rebuild_tensor_v2\n(("
      "X\x07\x00\x00\x00storage"
      "ctorch\nFloatStorage\n"
      "X\x01\x00\x00\x00"
      "0"
      "X\x03\x00\x00\x00"
      "cpuK\x04tQK\x00K\x04\x85K\x01\x85\x89}tRs."s;
  expect_error([&] { open(pkl); }, {"tensor 'w'", "storage '0' is not in the archive"});
}

}  // namespace
}  // namespace janus::st_test
