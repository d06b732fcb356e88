#include "llm/think.h"

namespace janus::llm {

namespace {
const std::string kOpen = "<think>", kClose = "</think>";
// Length of the longest suffix of s that is a proper prefix of tag.
size_t partial_tag_suffix(const std::string& s, const std::string& tag) {
  for (size_t n = std::min(s.size(), tag.size() - 1); n > 0; --n)
    if (s.compare(s.size() - n, n, tag, 0, n) == 0) return n;
  return 0;
}
}  // namespace

ThinkSplitter::Piece ThinkSplitter::feed(const std::string& text) {
  Piece out;
  pending_ += text;
  for (;;) {
    const std::string& tag = in_think_ ? kClose : kOpen;
    std::string& dst = in_think_ ? out.reasoning : out.answer;
    size_t at = pending_.find(tag);
    if (at != std::string::npos) {
      dst += pending_.substr(0, at);
      pending_.erase(0, at + tag.size());
      in_think_ = !in_think_;
      continue;
    }
    size_t hold = partial_tag_suffix(pending_, tag);
    dst += pending_.substr(0, pending_.size() - hold);
    pending_.erase(0, pending_.size() - hold);
    return out;
  }
}

ThinkSplitter::Piece ThinkSplitter::finish() {
  Piece out;
  (in_think_ ? out.reasoning : out.answer) = pending_;
  pending_.clear();
  return out;
}

}  // namespace janus::llm
