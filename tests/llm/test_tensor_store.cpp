// TensorStore: the weights of a model folder (llm/tensor_store.h).
#include "safetensors_test_util.h"

namespace {

using namespace janus::st_test;  // NOLINT(build/namespaces): test helpers

using TensorStoreDir = Tmp;

TEST_F(TensorStoreDir, OpensModelSafetensors) {
  write_safetensors(path("model.safetensors"),
                    {{"a", Tensor::from_f32({2}, {1, 2})}, {"b", Tensor::from_f32({1}, {3})}});
  write_safetensors(path("other.safetensors"), {{"ignored", Tensor::from_f32({1}, {0})}});
  TensorStore s = TensorStore::open_dir(dir);
  EXPECT_EQ(s.names(), (std::vector<std::string>{"a", "b"}));  // model.safetensors wins over other files
  EXPECT_TRUE(s.has("a"));
  EXPECT_FALSE(s.has("ignored"));
  EXPECT_EQ(s.get("a").to_f32_vector(), (std::vector<float>{1, 2}));
  EXPECT_EQ(s.file_bytes(), fs::file_size(path("model.safetensors")));
  EXPECT_EQ(s.files(), std::vector<std::string>{path("model.safetensors")});
}

TEST_F(TensorStoreDir, OpensShardedIndexWithTwoShards) {
  write_safetensors(path("model-00001-of-00002.safetensors"),
                    {{"embed", Tensor::from_f32({2, 2}, {1, 2, 3, 4})}, {"layer.0", Tensor::from_f32({1}, {5})}});
  write_safetensors(path("model-00002-of-00002.safetensors"), {{"layer.1", Tensor::from_f32({1}, {6})},
                                                               {"head", Tensor::from_f32({2}, {7, 8})},
                                                               {"unmapped", Tensor::from_f32({1}, {9})}});
  write_bytes(path("model.safetensors.index.json"), R"({"metadata": {"total_size": 36}, "weight_map": {
      "embed": "model-00001-of-00002.safetensors", "layer.0": "model-00001-of-00002.safetensors",
      "layer.1": "model-00002-of-00002.safetensors", "head": "model-00002-of-00002.safetensors"}})");
  TensorStore s = TensorStore::open_dir(dir);
  EXPECT_EQ(s.names(), (std::vector<std::string>{"embed", "head", "layer.0", "layer.1"}));
  EXPECT_EQ(s.get("embed", {2, 2}).to_f32_vector(), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(s.get("head").to_f32_vector(), (std::vector<float>{7, 8}));
  EXPECT_EQ(s.get("layer.1").to_f32_vector(), (std::vector<float>{6}));
  EXPECT_FALSE(s.has("unmapped"));  // only the weight_map is served, as transformers does
  EXPECT_EQ(s.file_of("head").path(), path("model-00002-of-00002.safetensors"));
  EXPECT_EQ(s.files().size(), 2u);
  EXPECT_EQ(s.file_bytes(), fs::file_size(path("model-00001-of-00002.safetensors")) +
                                fs::file_size(path("model-00002-of-00002.safetensors")));
}

TEST_F(TensorStoreDir, IndexPointingAtMissingShardNamesIndexAndShard) {
  write_safetensors(path("s1.safetensors"), {{"a", Tensor::from_f32({1}, {1})}});
  write_bytes(path("model.safetensors.index.json"),
              R"({"weight_map": {"a": "s1.safetensors", "b": "s2.safetensors"}})");
  expect_error([&] { TensorStore::open_dir(dir); },
               {path("model.safetensors.index.json"), "shard 's2.safetensors'", "tensor 'b'", "does not exist"});
}

TEST_F(TensorStoreDir, IndexNamingATensorAbsentFromItsShard) {
  write_safetensors(path("s1.safetensors"), {{"a", Tensor::from_f32({1}, {1})}});
  write_bytes(path("model.safetensors.index.json"),
              R"({"weight_map": {"a": "s1.safetensors", "z": "s1.safetensors"}})");
  expect_error(
      [&] { TensorStore::open_dir(dir); },
      {"model.safetensors.index.json", "tensor 'z' is mapped to shard 's1.safetensors', which does not contain it"});
}

TEST_F(TensorStoreDir, MalformedIndexIsAnErrorNamingTheIndex) {
  for (const auto& [text, problem] :
       Cases{{"{not json", "not valid JSON"},
             {R"({"metadata": {}})", "no \"weight_map\" object"},
             {R"({"weight_map": {"a": 3}})", "tensor 'a' maps to a number"},
             {R"({"weight_map": {"a": "../escape.safetensors"}})", "not a file in the model folder"},
             {R"({"weight_map": {"a": "/etc/passwd"}})", "not a file in the model folder"}}) {
    write_bytes(path("model.safetensors.index.json"), text);
    expect_error([&] { TensorStore::open_dir(dir); }, {"model.safetensors.index.json", problem});
  }
}

TEST_F(TensorStoreDir, CorruptShardErrorNamesTheShard) {
  write_bytes(path("s1.safetensors"), "xx");
  write_bytes(path("model.safetensors.index.json"), R"({"weight_map": {"a": "s1.safetensors"}})");
  expect_error([&] { TensorStore::open_dir(dir); }, {path("s1.safetensors") + ": truncated file"});
}

TEST_F(TensorStoreDir, FallsBackToEverySafetensorsFileInSortedOrder) {
  write_safetensors(path("b.safetensors"), {{"y", Tensor::from_f32({1}, {2})}});
  write_safetensors(path("a.safetensors"), {{"x", Tensor::from_f32({1}, {1})}});
  TensorStore s = TensorStore::open_dir(dir);
  EXPECT_EQ(s.files(), (std::vector<std::string>{path("a.safetensors"), path("b.safetensors")}));
  EXPECT_EQ(s.names(), (std::vector<std::string>{"x", "y"}));
}

TEST_F(TensorStoreDir, RejectsATensorInTwoFilesNamingBoth) {
  write_safetensors(path("a.safetensors"), {{"w", Tensor::from_f32({1}, {1})}});
  write_safetensors(path("b.safetensors"), {{"w", Tensor::from_f32({1}, {2})}});
  expect_error([&] { TensorStore::open_dir(dir); }, {"tensor 'w'", "a.safetensors", "b.safetensors"});
}

TEST_F(TensorStoreDir, EmptyFolderSaysWhatWasExpected) {
  EXPECT_EQ(expect_error([&] { TensorStore::open_dir(dir); }, {}),
            "no weights in " + dir +
                " (expected model.safetensors, model.safetensors.index.json, pytorch_model.bin or "
                "pytorch_model.bin.index.json)");
}

TEST_F(TensorStoreDir, BrokenPytorchBinIsReportedByName) {
  write_bytes(path("pytorch_model.bin"), "PK");
  expect_error([&] { TensorStore::open_dir(dir); }, {path("pytorch_model.bin"), "not a PyTorch zip checkpoint"});
}

TEST_F(TensorStoreDir, NotADirectory) {
  expect_error([&] { TensorStore::open_dir(path("missing")); }, {path("missing"), "not a directory"});
}

TEST_F(TensorStoreDir, MissingTensorErrorNamesFolderAndTensor) {
  write_safetensors(path("model.safetensors"), {{"a", Tensor::from_f32({1}, {1})}});
  TensorStore s = TensorStore::open_dir(dir);
  EXPECT_EQ(expect_error([&] { s.get("model.norm.weight"); }, {}), dir + ": missing tensor 'model.norm.weight'");
  expect_error([&] { s.get("model.norm.weight", {4}); }, {dir + ": missing tensor 'model.norm.weight'"});
}

TEST_F(TensorStoreDir, WrongShapeErrorNamesFileTensorAndBothShapes) {
  write_safetensors(path("model.safetensors"), {{"lm_head.weight", Tensor::zeros({10, 4}, DType::BF16)}});
  TensorStore s = TensorStore::open_dir(dir);
  EXPECT_EQ(expect_error(
                [&] {
                  s.get("lm_head.weight", {12, 4});
                },
                {}),
            path("model.safetensors") + ": tensor 'lm_head.weight' has shape [10, 4], expected [12, 4]");
  EXPECT_EQ(s.get("lm_head.weight", {10, 4}).shape(), (Shape{10, 4}));
}

TEST_F(TensorStoreDir, GetOptReturnsUndefinedForAbsentTensors) {
  write_safetensors(path("model.safetensors"), {{"a", Tensor::from_f32({1}, {1})}});
  TensorStore s = TensorStore::open_dir(dir);
  EXPECT_FALSE(s.get_opt("bias").defined());
  EXPECT_TRUE(s.get_opt("a").defined());
}

TEST_F(TensorStoreDir, UnusedNamesListsTensorsNeverFetched) {
  NamedTensors t;
  for (const char* n : {"a", "b", "c", "d", "e"}) t.emplace_back(n, Tensor::from_f32({1}, {1}));
  write_safetensors(path("model.safetensors"), t);
  TensorStore s = TensorStore::open_dir(dir);
  EXPECT_EQ(s.unused_names().size(), 5u);
  s.get("a");
  s.get_opt("c");
  s.has("d");            // looking is not using
  TensorStore copy = s;  // copies share the marks
  copy.mark_used("e");
  copy.mark_used("not-there");
  EXPECT_EQ(s.unused_names(), (std::vector<std::string>{"b", "d"}));
}

TEST_F(TensorStoreDir, TensorsOutliveTheStore) {
  write_safetensors(path("model.safetensors"), {{"a", Tensor::from_f32({3}, {1, 2, 3})}});
  Tensor t = TensorStore::open_dir(dir).get("a");
  EXPECT_EQ(t.to_f32_vector(), (std::vector<float>{1, 2, 3}));
}

}  // namespace
