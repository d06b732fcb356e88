// Small helpers shared by subcommands (argument parsing, model defaults, progress output).
#pragma once
#include <string>
#include <vector>

namespace janus::app {

// The folder `--model` defaults to: the embedded model shipped with the repository.
std::string default_model_dir();
// Resolves `--model` (empty -> default) and checks it is a folder with a config.json.
std::string resolve_model_dir(const std::string& given);
// "1,2,3" -> {1,2,3}; throws on anything else.
std::vector<int64_t> parse_token_list(const std::string& s);

}  // namespace janus::app
