// janus: the command-line front end. Holds no model math: subcommands call the library.
#include <algorithm>
#include <cstdio>
#include <exception>

#include "apps/janus/command.h"

namespace janus::app {
std::vector<Command>& registry() {
  static std::vector<Command> r;
  return r;
}
}  // namespace janus::app

int main(int argc, char** argv) {
  using namespace janus::app;
  CLI::App app{"janus — unified multimodal models (Janus-Pro, DeepSeek-V3/R1) on CPU and CUDA"};
  app.require_subcommand(1);
  auto& cmds = registry();
  std::sort(cmds.begin(), cmds.end(), [](const Command& a, const Command& b) { return a.name < b.name; });
  std::function<int()> to_run;
  std::string ran;
  for (auto& c : cmds) {
    CLI::App* sub = app.add_subcommand(c.name, c.help);
    auto fn = std::make_shared<std::function<int()>>(c.setup(*sub));
    std::string name = c.name;
    sub->callback([fn, name, &to_run, &ran] {
      to_run = *fn;
      ran = name;
    });
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  try {
    return to_run ? to_run() : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "janus %s: error: %s\n", ran.c_str(), e.what());
    return 2;
  }
}
