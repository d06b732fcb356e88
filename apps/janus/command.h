// Subcommand registry for the janus CLI. Each cmd_*.cpp defines one subcommand and registers it
// with a static Registrar; main.cpp builds the CLI11 app from the registry.
//
// Errors: a subcommand throws (any std::exception) for bad input; main prints one line
// "janus <cmd>: error: <message>" to stderr and exits with code 2. Success exits 0.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace janus::app {

struct Command {
  std::string name, help;
  // Adds options to `sub` and returns the function to run once the command line is parsed.
  std::function<std::function<int()>(CLI::App& sub)> setup;
};

std::vector<Command>& registry();

struct Registrar {
  Registrar(std::string name, std::string help, std::function<std::function<int()>(CLI::App&)> setup) {
    registry().push_back({std::move(name), std::move(help), std::move(setup)});
  }
};

}  // namespace janus::app
