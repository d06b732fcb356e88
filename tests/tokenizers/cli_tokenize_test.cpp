// CLI contract (DESIGN §4): `janus tokenize --tokenizer DIR [--decode]` reads JSON lines on
// stdin and writes one {"ids"} / {"text"} line per input line; bad input -> one-line error on
// stderr naming the line, exit code 2, no output. Also `janus tokenizer-train` end to end.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/tokenizers/fixtures.h"
#include "tokenizers/tokenizer.h"

namespace janus::tokenizers {
namespace {
using testing::fixture;
using testing::read_jsonl;
using testing::shared_tokenizer;
namespace fs = std::filesystem;

struct CliRun {
  int code;
  std::string out, err;
};

std::string janus_bin() { return std::string(JANUS_BINARY_DIR) + "/apps/janus"; }

CliRun run(const std::string& args, const std::string& stdin_text) {
  fs::path dir = fs::temp_directory_path() / ("janus_cli_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "in", std::ios::binary) << stdin_text;
  std::string cmd = janus_bin() + " " + args + " < " + (dir / "in").string() + " > " + (dir / "out").string() + " 2> " +
                    (dir / "err").string();
  int st = std::system(cmd.c_str());
  CliRun r{WIFEXITED(st) ? WEXITSTATUS(st) : -1, read_file((dir / "out").string()), read_file((dir / "err").string())};
  fs::remove_all(dir);
  return r;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> v;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) v.push_back(l);
  return v;
}

TEST(JanusTokenizeCli, EncodesEveryCorpusLineToTheHfIds) {
  CliRun r = run("tokenize --tokenizer " + shared_tokenizer("llama3_1"), read_file(fixture("corpus.jsonl")));
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<std::string> got = lines_of(r.out);
  std::vector<nlohmann::json> want = read_jsonl(fixture("expected_llama3_1.jsonl"));
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_EQ(nlohmann::json::parse(got[i]), (nlohmann::json{{"ids", want[i].at("ids")}})) << "line " << i;
}

TEST(JanusTokenizeCli, DecodesIdsToTheHfText) {
  std::vector<nlohmann::json> want = read_jsonl(fixture("expected_qwen3.jsonl"));
  std::string in;
  for (const auto& w : want) in += nlohmann::json{{"ids", w.at("ids")}}.dump() + "\n";
  CliRun r = run("tokenize --decode --tokenizer " + shared_tokenizer("qwen3"), in);
  ASSERT_EQ(r.code, 0) << r.err;
  std::vector<std::string> got = lines_of(r.out);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_EQ(nlohmann::json::parse(got[i]).at("text"), want[i].at("decoded")) << "line " << i;
}

TEST(JanusTokenizeCli, BadLineGivesOneLineErrorExitCode2AndNoOutput) {
  CliRun r = run("tokenize --tokenizer " + shared_tokenizer("qwen3"), "{\"text\": \"ok\"}\n{\"txt\": 1}\n");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(lines_of(r.err).size(), 1u);
  EXPECT_NE(r.err.find("stdin line 2"), std::string::npos) << r.err;

  r = run("tokenize --tokenizer " + shared_tokenizer("qwen3"), "{\"text\": \"a\xff\"}\n");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("stdin line 1: invalid UTF-8 at byte"), std::string::npos) << r.err;

  r = run("tokenize --tokenizer /no/such/dir", "");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("/no/such/dir"), std::string::npos) << r.err;
}

TEST(JanusTokenizerTrainCli, WritesTheCommittedTokenizerFromTheCommittedCorpus) {
  fs::path out = fs::temp_directory_path() / ("janus_train_test_" + std::to_string(::getpid()));
  CliRun r =
      run("tokenizer-train --corpus " + fixture("train_corpus.txt") + " --vocab-size 1200 --out " + out.string(), "");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(read_file((out / "tokenizer.json").string()), read_file(fixture("trained/tokenizer.json")));
  EXPECT_EQ(read_file((out / "tokenizer_config.json").string()), read_file(fixture("trained/tokenizer_config.json")));
  fs::remove_all(out);
  r = run("tokenizer-train --corpus /no/such/file --vocab-size 1200 --out " + out.string(), "");
  EXPECT_EQ(r.code, 2);
  EXPECT_FALSE(fs::exists(out / "tokenizer.json"));
}

}  // namespace
}  // namespace janus::tokenizers
