// Safetensors reading and writing (llm/safetensors.h).
#include <sys/stat.h>

#include "safetensors_test_util.h"

namespace {

using namespace janus::st_test;  // NOLINT(build/namespaces): test helpers

// ------------------------------------------------------------------------------------------------
// Round trips

using SafetensorsRoundTrip = Tmp;

TEST_F(SafetensorsRoundTrip, EveryDtypeKeepsItsBytesShapeAndDtype) {
  const DType all[] = {DType::F32, DType::BF16, DType::F16, DType::F8E4M3, DType::I32, DType::I64, DType::U8};
  NamedTensors tensors;
  uint32_t seed = 1;
  for (DType d : all) {
    std::string n = janus::kernels::dtype_name(d);
    tensors.emplace_back(n + ".matrix", random_tensor({3, 5}, d, seed++));
    tensors.emplace_back(n + ".cube", random_tensor({2, 3, 4}, d, seed++));
    tensors.emplace_back(n + ".scalar", random_tensor({}, d, seed++));
    tensors.emplace_back(n + ".empty", Tensor::empty({0, 7}, d));
  }
  write_safetensors(path("all.safetensors"), tensors);
  auto f = SafetensorsFile::open(path("all.safetensors"));
  ASSERT_EQ(f->names().size(), tensors.size());
  for (const auto& [name, t] : tensors) {
    SCOPED_TRACE(name);
    Tensor got = f->get(name);
    EXPECT_TRUE(same_bytes(got, t));
    EXPECT_EQ(f->info(name).dtype_name, janus::kernels::dtype_safetensors_name(t.dtype()));
  }
}

TEST_F(SafetensorsRoundTrip, DecodedValuesMatchForFloatAndIntegerTypes) {
  std::vector<float> v = {0.f, -1.5f, 2.f, 0.25f, -448.f, 3.f};
  NamedTensors tensors;
  for (DType d : {DType::F32, DType::BF16, DType::F16, DType::F8E4M3})
    tensors.emplace_back(janus::kernels::dtype_name(d), Tensor::from_f32({2, 3}, v).to(d));
  tensors.emplace_back("ids", Tensor::from_i64({4}, {-5, 0, 7, int64_t(1) << 40}));
  tensors.emplace_back("ids32", Tensor::from_i64({2}, {-3, 100000}).to(DType::I32));
  tensors.emplace_back("bytes", Tensor::from_f32({3}, {0, 7, 255}).to(DType::U8));
  write_safetensors(path("v.safetensors"), tensors);
  auto f = SafetensorsFile::open(path("v.safetensors"));
  // All test values are exactly representable in every float type: exact equality.
  for (const char* n : {"f32", "bf16", "f16", "f8e4m3"}) EXPECT_EQ(f->get(n).to_f32_vector(), v) << n;
  EXPECT_EQ(f->get("ids").to_i64_vector(), (std::vector<int64_t>{-5, 0, 7, int64_t(1) << 40}));
  EXPECT_EQ(f->get("ids32").to_i64_vector(), (std::vector<int64_t>{-3, 100000}));
  EXPECT_EQ(f->get("bytes").to_i64_vector(), (std::vector<int64_t>{0, 7, 255}));
}

TEST_F(SafetensorsRoundTrip, KeepsMetadataAndListsNamesSorted) {
  NamedTensors tensors = {
      {"zeta", Tensor::from_f32({1}, {1})}, {"alpha", Tensor::from_f32({1}, {2})}, {"mid", Tensor::from_f32({1}, {3})}};
  write_safetensors(path("m.safetensors"), tensors, {{"format", "pt"}, {"note", "hello"}});
  auto f = SafetensorsFile::open(path("m.safetensors"));
  EXPECT_EQ(f->names(), (std::vector<std::string>{"alpha", "mid", "zeta"}));
  EXPECT_EQ(f->metadata().at("format"), "pt");
  EXPECT_EQ(f->metadata().at("note"), "hello");
  EXPECT_FALSE(f->has("__metadata__"));
  EXPECT_EQ(f->path(), path("m.safetensors"));
}

TEST_F(SafetensorsRoundTrip, WritesNonContiguousTensorsAsContiguous) {
  Tensor t = Tensor::from_f32({2, 3}, {1, 2, 3, 4, 5, 6}).transpose(0, 1);  // [3, 2] strided view
  write_safetensors(path("t.safetensors"), {{"t", t}});
  Tensor got = SafetensorsFile::open(path("t.safetensors"))->get("t");
  EXPECT_EQ(got.shape(), (Shape{3, 2}));
  EXPECT_EQ(got.to_f32_vector(), (std::vector<float>{1, 4, 2, 5, 3, 6}));
}

TEST_F(SafetensorsRoundTrip, WrittenFileAlignsEveryTensorToItsElementSize) {
  NamedTensors tensors = {{"a", random_tensor({3}, DType::U8, 1)},
                          {"b", random_tensor({5}, DType::I64, 2)},
                          {"c", random_tensor({7}, DType::BF16, 3)},
                          {"d", random_tensor({1}, DType::F32, 4)}};
  write_safetensors(path("a.safetensors"), tensors);
  auto f = SafetensorsFile::open(path("a.safetensors"));
  for (const auto& n : f->names()) EXPECT_EQ(f->info(n).file_offset % f->info(n).element_size, 0u) << n;
  uint64_t header_len = 0;
  std::memcpy(&header_len, f->bytes(), 8);
  EXPECT_EQ((8 + header_len) % 8, 0u);
}

TEST_F(SafetensorsRoundTrip, EncodeProducesTheSameBytesAsWrite) {
  NamedTensors tensors = {{"x", random_tensor({4, 4}, DType::BF16, 9)}, {"y", random_tensor({2}, DType::I64, 8)}};
  write_safetensors(path("w.safetensors"), tensors, {{"k", "v"}});
  EXPECT_EQ(read_bytes(path("w.safetensors")), encode_safetensors(tensors, {{"k", "v"}}));
}

// ------------------------------------------------------------------------------------------------
// Zero copy and lifetime

using SafetensorsMapping = Tmp;

TEST_F(SafetensorsMapping, GetViewsTheMappingWithoutCopying) {
  write_safetensors(path("z.safetensors"), {{"w", random_tensor({64, 64}, DType::BF16, 5)}});
  auto f = SafetensorsFile::open(path("z.safetensors"));
  Tensor t = f->get("w");
  auto* p = static_cast<const uint8_t*>(t.raw());
  EXPECT_GE(p, f->bytes());
  EXPECT_LE(p + t.nbytes(), f->bytes() + f->file_size());
  EXPECT_EQ(p, f->bytes() + f->info("w").file_offset);
  EXPECT_EQ(f->get("w").raw(), t.raw());  // the same bytes every time
}

TEST_F(SafetensorsMapping, TensorOutlivesTheFileObject) {
  Tensor orig = random_tensor({100}, DType::F32, 6);
  write_safetensors(path("l.safetensors"), {{"w", orig}});
  Tensor t = SafetensorsFile::open(path("l.safetensors"))->get("w");  // file object dropped here
  EXPECT_TRUE(same_bytes(t, orig));
}

TEST_F(SafetensorsMapping, MisalignedDataIsCopiedIntoAnAlignedTensor) {
  // Header padded to an odd length: the data section (and an F32 at offset 0) starts at an odd address.
  std::string header = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  if ((8 + header.size()) % 2 == 0) header += ' ';
  float vals[2] = {1.5f, -2.f};
  std::string data(reinterpret_cast<const char*>(vals), 8);
  write_bytes(path("odd.safetensors"), raw_file(header, data));
  auto f = SafetensorsFile::open(path("odd.safetensors"));
  Tensor t = f->get("w");
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw()) % 4, 0u);
  auto* p = static_cast<const uint8_t*>(t.raw());
  EXPECT_TRUE(p < f->bytes() || p >= f->bytes() + f->file_size()) << "expected a copy";
  EXPECT_EQ(t.to_f32_vector(), (std::vector<float>{1.5f, -2.f}));
}

TEST_F(SafetensorsMapping, OpenFromMemoryBorrowsTheBuffer) {
  auto bytes = std::make_shared<std::string>(encode_safetensors({{"w", Tensor::from_f32({2}, {3, 4})}}));
  auto f = SafetensorsFile::open_from_memory(bytes->data(), bytes->size(), "mem.safetensors", bytes);
  Tensor t = f->get("w");
  EXPECT_EQ(t.to_f32_vector(), (std::vector<float>{3, 4}));
  EXPECT_GE(static_cast<const char*>(t.raw()), bytes->data());
  EXPECT_LT(static_cast<const char*>(t.raw()), bytes->data() + bytes->size());
  expect_error([&] { SafetensorsFile::open_from_memory(bytes->data(), 3, "mem.safetensors"); },
               {"mem.safetensors: truncated file (3 bytes, need at least 8)"});
}

// ------------------------------------------------------------------------------------------------
// Writing is atomic

using SafetensorsWrite = Tmp;

TEST_F(SafetensorsWrite, LeavesNoTemporaryFile) {
  write_safetensors(path("out.safetensors"), {{"w", Tensor::from_f32({1}, {1})}});
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path().filename().string());
  EXPECT_EQ(files, std::vector<std::string>{"out.safetensors"});
}

TEST_F(SafetensorsWrite, ReplacesAnExistingFileWhileOldMappingsKeepTheOldBytes) {
  write_safetensors(path("out.safetensors"), {{"w", Tensor::from_f32({2}, {1, 2})}});
  auto old = SafetensorsFile::open(path("out.safetensors"));
  write_safetensors(path("out.safetensors"), {{"w", Tensor::from_f32({3}, {7, 8, 9})}});
  EXPECT_EQ(SafetensorsFile::open(path("out.safetensors"))->get("w").to_f32_vector(), (std::vector<float>{7, 8, 9}));
  EXPECT_EQ(old->get("w").to_f32_vector(), (std::vector<float>{1, 2}));  // rename, not overwrite
}

TEST_F(SafetensorsWrite, FailedWriteLeavesTheExistingFileUntouched) {
  write_safetensors(path("out.safetensors"), {{"w", Tensor::from_f32({2}, {1, 2})}});
  const std::string before = read_bytes(path("out.safetensors"));
  expect_error(
      [&] {
        write_safetensors(path("out.safetensors"), {{"w", Tensor::from_f32({1}, {5})}, {"u", Tensor()}});
      },
      {path("out.safetensors"), "tensor 'u' is undefined"});
  EXPECT_EQ(read_bytes(path("out.safetensors")), before);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
}

TEST_F(SafetensorsWrite, RejectsDuplicateAndReservedNames) {
  Tensor t = Tensor::from_f32({1}, {1});
  expect_error(
      [&] {
        write_safetensors(path("d.safetensors"), {{"w", t}, {"w", t}});
      },
      {"d.safetensors", "'w' given twice"});
  expect_error([&] { write_safetensors(path("d.safetensors"), {{"__metadata__", t}}); }, {"d.safetensors", "reserved"});
  EXPECT_FALSE(fs::exists(path("d.safetensors")));
}

TEST_F(SafetensorsWrite, MissingFolderIsAnErrorNamingThePath) {
  expect_error(
      [&] {
        write_safetensors(path("no/such/dir/x.safetensors"), {{"w", Tensor::from_f32({1}, {1})}});
      },
      {"no/such/dir/x.safetensors", "cannot create"});
}

// ------------------------------------------------------------------------------------------------
// Dtypes Janus does not compute with

using SafetensorsDtypes = Tmp;

TEST_F(SafetensorsDtypes, KnownButUnsupportedDtypesOpenButRefuseGet) {
  // U64 [2] (16 bytes), I8 [4], I16 [2], BOOL [3], then a usable F32.
  std::string header = R"({"d":{"dtype":"U64","shape":[2],"data_offsets":[0,16]},)"
                       R"("i8":{"dtype":"I8","shape":[4],"data_offsets":[16,20]},)"
                       R"("i16":{"dtype":"I16","shape":[2],"data_offsets":[20,24]},)"
                       R"("b":{"dtype":"BOOL","shape":[3],"data_offsets":[24,27]},)"
                       R"("ok":{"dtype":"F32","shape":[1],"data_offsets":[28,32]}})";
  std::string data(32, '\0');
  float one = 1.f;
  std::memcpy(&data[28], &one, 4);
  write_bytes(path("u.safetensors"), raw_file(header, data));
  auto f = SafetensorsFile::open(path("u.safetensors"));
  EXPECT_EQ(f->get("ok").to_f32_vector(), std::vector<float>{1.f});
  for (const auto& [name, dt] : Cases{{"d", "U64"}, {"i8", "I8"}, {"i16", "I16"}, {"b", "BOOL"}}) {
    EXPECT_EQ(f->info(name).dtype_name, dt);
    EXPECT_FALSE(f->info(name).dtype.has_value());
    const std::string n = name;  // (structured bindings cannot be captured in C++17)
    expect_error([&] { f->get(n); }, {"u.safetensors: tensor '" + n + "'", "dtype " + dt, "not supported"});
  }
}

// ------------------------------------------------------------------------------------------------
// Malformed files: each gets a one-line error naming the file (and tensor), never a crash

using SafetensorsMalformed = Tmp;

TEST_F(SafetensorsMalformed, RejectsTruncatedFile) {
  write_bytes(path("x.safetensors"), "abc");
  EXPECT_EQ(expect_error([&] { SafetensorsFile::open(path("x.safetensors")); }, {}),
            path("x.safetensors") + ": truncated file (3 bytes, need at least 8)");
  write_bytes(path("e.safetensors"), "");
  expect_error([&] { SafetensorsFile::open(path("e.safetensors")); }, {"e.safetensors", "truncated file (0 bytes"});
}

TEST_F(SafetensorsMalformed, RejectsHeaderLengthLargerThanTheFile) {
  write_bytes(path("x.safetensors"), le64(~uint64_t(0)) + std::string(112, ' '));
  EXPECT_EQ(expect_error([&] { SafetensorsFile::open(path("x.safetensors")); }, {}),
            path("x.safetensors") + ": header length 18446744073709551615 exceeds file size 120");
  write_bytes(path("y.safetensors"), le64(13) + "{}   ");
  expect_error([&] { SafetensorsFile::open(path("y.safetensors")); },
               {"y.safetensors", "header length 13 exceeds file size 13"});
}

TEST_F(SafetensorsMalformed, RejectsHeaderOverTheHundredMegabyteLimit) {
  const uint64_t n = janus::llm::kSafetensorsMaxHeaderBytes + 1;
  write_bytes(path("big.safetensors"), le64(n));
  ASSERT_EQ(::truncate(path("big.safetensors").c_str(), off_t(8 + n)), 0);  // sparse: costs no disk
  expect_error([&] { SafetensorsFile::open(path("big.safetensors")); },
               {"big.safetensors", "header length 100000001 exceeds the 100 MB limit"});
}

TEST_F(SafetensorsMalformed, RejectsHeaderThatIsNotJson) {
  write_bytes(path("x.safetensors"), raw_file("{\"a\": nope"));
  expect_error([&] { SafetensorsFile::open(path("x.safetensors")); }, {"x.safetensors", "header is not valid JSON"});
  write_bytes(path("u.safetensors"), raw_file("{\"\xff\xfe\": 1}"));  // invalid UTF-8
  expect_error([&] { SafetensorsFile::open(path("u.safetensors")); }, {"u.safetensors", "header is not valid JSON"});
}

TEST_F(SafetensorsMalformed, RejectsHeaderJsonThatIsNotAnObject) {
  write_bytes(path("x.safetensors"), raw_file("[1, 2]"));
  expect_error([&] { SafetensorsFile::open(path("x.safetensors")); },
               {"x.safetensors", "header is a JSON array, expected an object"});
}

TEST_F(SafetensorsMalformed, RejectsEntryThatIsNotAnObject) {
  write_bytes(path("x.safetensors"), raw_file(R"({"w": [1, 2]})"));
  expect_error([&] { SafetensorsFile::open(path("x.safetensors")); },
               {"x.safetensors", "tensor 'w'", "expected an object"});
}

TEST_F(SafetensorsMalformed, RejectsMissingFieldsNamingTheField) {
  for (const auto& [header, field] :
       Cases{{R"({"w":{"shape":[1],"data_offsets":[0,4]}})", "no dtype"},
             {R"({"w":{"dtype":"F32","data_offsets":[0,4]}})", "no shape"},
             {R"({"w":{"dtype":"F32","shape":[1]}})", "no data_offsets"},
             {R"({"w":{"dtype":7,"shape":[1],"data_offsets":[0,4]}})", "dtype 7 is not a string"}}) {
    write_bytes(path("x.safetensors"), raw_file(header, "1234"));
    expect_error([&] { SafetensorsFile::open(path("x.safetensors")); }, {"x.safetensors", "tensor 'w'", field});
  }
}

TEST_F(SafetensorsMalformed, RejectsUnknownDtypeString) {
  write_bytes(path("x.safetensors"), raw_file(R"({"layer.w":{"dtype":"Q7","shape":[1],"data_offsets":[0,1]}})", "a"));
  expect_error([&] { SafetensorsFile::open(path("x.safetensors")); },
               {"x.safetensors", "tensor 'layer.w'", "unknown dtype 'Q7'"});
}

TEST_F(SafetensorsMalformed, RejectsNegativeDimension) {
  write_bytes(path("x.safetensors"), raw_file(R"({"w":{"dtype":"F32","shape":[-1,2],"data_offsets":[0,0]}})"));
  expect_error([&] { SafetensorsFile::open(path("x.safetensors")); },
               {"x.safetensors", "tensor 'w'", "negative dimension -1"});
}

TEST_F(SafetensorsMalformed, RejectsNonIntegerDimensionsAndNonListShape) {
  for (const auto& [shape, problem] : Cases{{"[2.5]", "non-integer dimension 2.5"},
                                            {"[\"3\"]", "non-integer dimension \"3\""},
                                            {"[[1]]", "non-integer dimension [1]"},
                                            {"4", "shape 4 is not a list"}}) {
    write_bytes(path("x.safetensors"),
                raw_file(std::string(R"({"w":{"dtype":"U8","shape":)") + shape + R"(,"data_offsets":[0,4]}})", "1234"));
    expect_error([&] { SafetensorsFile::open(path("x.safetensors")); }, {"x.safetensors", "tensor 'w'", problem});
  }
}

TEST_F(SafetensorsMalformed, RejectsShapeWhoseElementCountOverflows) {
  // The last has no elements, but strides that do not fit in int64.
  for (const char* shape : {"[4294967296,4294967296,4]", "[18446744073709551615]", "[4611686018427387904]",
                            "[0,1099511627776,1099511627776]"}) {
    write_bytes(
        path("x.safetensors"),
        raw_file(std::string(R"({"w":{"dtype":"F32","shape":)") + shape + R"(,"data_offsets":[0,4]}})", "1234"));
    expect_error([&] { SafetensorsFile::open(path("x.safetensors")); },
                 {"x.safetensors", "tensor 'w'", "too many elements"});
  }
}

TEST_F(SafetensorsMalformed, RejectsOffsetsOutOfRange) {
  write_bytes(path("model.safetensors"),
              raw_file(R"({"model.norm.weight":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}})", "12345678"));
  EXPECT_EQ(expect_error([&] { SafetensorsFile::open(path("model.safetensors")); }, {}),
            path("model.safetensors") +
                ": tensor 'model.norm.weight': data_offsets [0, 12] out of range (data section is 8 bytes)");
}

TEST_F(SafetensorsMalformed, RejectsOffsetsInconsistentWithShapeAndDtype) {
  write_bytes(path("x.safetensors"),
              raw_file(R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}})", std::string(16, '\0')));
  expect_error([&] { SafetensorsFile::open(path("x.safetensors")); },
               {"x.safetensors: tensor 'w': data_offsets [0, 12] hold 12 bytes, but shape [2, 2] of F32 needs 16"});
}

TEST_F(SafetensorsMalformed, RejectsOffsetsBeginAfterEndOrNotAPair) {
  write_bytes(path("x.safetensors"), raw_file(R"({"w":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}})", "1234"));
  expect_error([&] { SafetensorsFile::open(path("x.safetensors")); }, {"tensor 'w'", "[4, 0] begin after end"});
  for (const char* off : {"[0]", "[0,4,8]", "[-1,3]", "[0,\"4\"]", "{}"}) {
    write_bytes(path("x.safetensors"),
                raw_file(std::string(R"({"w":{"dtype":"U8","shape":[4],"data_offsets":)") + off + "}}", "1234"));
    expect_error([&] { SafetensorsFile::open(path("x.safetensors")); },
                 {"x.safetensors", "tensor 'w'", "is not a pair of non-negative integers"});
  }
}

TEST_F(SafetensorsMalformed, RejectsOverlappingTensorsNamingBoth) {
  write_bytes(path("x.safetensors"), raw_file(R"({"first":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                                              R"("second":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
                                              std::string(24, '\0')));
  expect_error([&] { SafetensorsFile::open(path("x.safetensors")); },
               {"x.safetensors", "'first' (data_offsets [0, 16])", "'second' (data_offsets [8, 24])", "overlap"});
  // A tensor nested inside a larger one overlaps it too.
  write_bytes(path("y.safetensors"), raw_file(R"({"big":{"dtype":"U8","shape":[30],"data_offsets":[0,30]},)"
                                              R"("small":{"dtype":"U8","shape":[2],"data_offsets":[20,22]}})",
                                              std::string(30, '\0')));
  expect_error([&] { SafetensorsFile::open(path("y.safetensors")); }, {"y.safetensors", "'big'", "'small'", "overlap"});
}

TEST_F(SafetensorsMalformed, AcceptsGapsAndEmptyTensorsAnywhere) {
  // Gap between a and b; the empty tensor's offsets lie inside a — it owns no bytes, so no overlap.
  write_bytes(path("x.safetensors"), raw_file(R"({"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]},)"
                                              R"("b":{"dtype":"U8","shape":[4],"data_offsets":[12,16]},)"
                                              R"("e":{"dtype":"F32","shape":[0,3],"data_offsets":[4,4]}})",
                                              std::string(16, 'z')));
  auto f = SafetensorsFile::open(path("x.safetensors"));
  EXPECT_EQ(f->get("e").numel(), 0);
  EXPECT_EQ(f->get("b").to_i64_vector(), (std::vector<int64_t>(4, 'z')));
}

TEST_F(SafetensorsMalformed, RejectsDuplicateTensorNames) {
  write_bytes(path("x.safetensors"), raw_file(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                                              R"("w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
                                              "ab"));
  expect_error([&] { SafetensorsFile::open(path("x.safetensors")); }, {"x.safetensors", "'w' appears twice"});
}

TEST_F(SafetensorsMalformed, RejectsMetadataThatIsNotAStringMap) {
  write_bytes(path("x.safetensors"), raw_file(R"({"__metadata__":{"format":"pt","n":3}})"));
  expect_error([&] { SafetensorsFile::open(path("x.safetensors")); },
               {"x.safetensors", "__metadata__ key 'n'", "expected a string"});
  write_bytes(path("y.safetensors"), raw_file(R"({"__metadata__":"pt"})"));
  expect_error([&] { SafetensorsFile::open(path("y.safetensors")); },
               {"y.safetensors", "__metadata__ is a JSON string"});
}

TEST_F(SafetensorsMalformed, ControlCharactersInNamesKeepTheMessageOnOneLine) {
  write_bytes(path("x.safetensors"), raw_file(R"({"bad\nname":{"dtype":"Q","shape":[],"data_offsets":[0,0]}})"));
  expect_error([&] { SafetensorsFile::open(path("x.safetensors")); }, {"x.safetensors", "tensor 'bad?name'"});
}

TEST_F(SafetensorsMalformed, MissingFileDirectoryAndAbsentTensorAreErrors) {
  expect_error([&] { SafetensorsFile::open(path("nope.safetensors")); }, {"nope.safetensors", "cannot open"});
  expect_error([&] { SafetensorsFile::open(dir); }, {dir, "not a regular file"});
  write_safetensors(path("ok.safetensors"), {{"w", Tensor::from_f32({1}, {1})}});
  auto f = SafetensorsFile::open(path("ok.safetensors"));
  expect_error([&] { f->get("v"); }, {"ok.safetensors: tensor 'v'", "not in this file"});
  expect_error([&] { f->info("v"); }, {"ok.safetensors: tensor 'v'"});
}

}  // namespace
