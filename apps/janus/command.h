// Subcommand registry for the janus CLI. Each cmd_*.cpp defines one subcommand and registers it
// with a static Registrar; main.cpp builds the CLI11 app from the registry.
//
// Errors: a subcommand throws (any std::exception) for bad input; main prints one line
// "janus <cmd>: error: <message>" to stderr and exits with code 2. Success exits 0.
#pragma once
#include <CLI/CLI.hpp>
#include <cmath>
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

// Option checks with plain messages ("must be >= 0, got -1"; CLI11's own NonNegativeNumber prints
// the whole range up to DBL_MAX). Non-numbers, NaN and infinities are refused too.
inline CLI::Validator number_at_least(double lo, bool inclusive) {
  const std::string bound = std::string(inclusive ? ">= " : "> ") + (lo == 0 ? "0" : std::to_string(lo));
  return CLI::Validator(
      [lo, inclusive, bound](std::string& s) -> std::string {
        double v = 0;
        size_t used = 0;
        try {
          v = std::stod(s, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used == 0 || used != s.size() || !std::isfinite(v)) return "expected a finite number, got " + s;
        return (inclusive ? v >= lo : v > lo) ? std::string() : "must be " + bound + ", got " + s;
      },
      "NUMBER " + bound);
}
inline const CLI::Validator kNonNegative = number_at_least(0, true);
inline const CLI::Validator kPositive = number_at_least(0, false);

struct Registrar {
  Registrar(std::string name, std::string help, std::function<std::function<int()>(CLI::App&)> setup) {
    registry().push_back({std::move(name), std::move(help), std::move(setup)});
  }
};

}  // namespace janus::app
