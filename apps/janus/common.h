// Small helpers shared by subcommands (argument parsing, model defaults, progress output).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace janus::llm {
struct JanusConfig;
}
namespace janus::tokenizers {
class Tokenizer;
}

namespace janus::app {

// The folder `--model` defaults to: the embedded model shipped with the repository.
std::string default_model_dir();
// Resolves `--model` (empty -> default) and checks it is a folder with a config.json.
std::string resolve_model_dir(const std::string& given);
// The BOS id a Janus prompt starts with: the tokenizer's BOS, else "<｜begin▁of▁sentence｜>", else
// the language config's bos_token_id (the release's config often omits it: LlamaConfig's default 1
// would be wrong there). -1 when none.
int64_t janus_bos_id(const tokenizers::Tokenizer& tok, const llm::JanusConfig& cfg);
// "1,2,3" -> {1,2,3}; throws on anything else.
std::vector<int64_t> parse_token_list(const std::string& s);

}  // namespace janus::app
