// R1 think mode: splits a streamed completion into reasoning (between <think> and </think>)
// and answer text. Tags split across pieces are held back until they are complete; text that
// only looks like the start of a tag is released as soon as it cannot be one.
// R1's chat template opens the generation with "<think>\n", so such completions start inside
// the reasoning: construct with starts_in_think = true.
#pragma once
#include <string>

namespace janus::llm {

class ThinkSplitter {
 public:
  explicit ThinkSplitter(bool starts_in_think = false) : in_think_(starts_in_think) {}
  struct Piece {
    std::string reasoning, answer;
  };
  Piece feed(const std::string& text);
  Piece finish();  // flushes anything held back
  bool in_think() const { return in_think_; }

 private:
  bool in_think_;
  std::string pending_;
};

}  // namespace janus::llm
