#include "train/freeze.h"

#include <cstdio>

namespace janus::train {

bool glob_match(const std::string& pattern, const std::string& name) {
  // Iterative wildcard matching with single backtrack point (linear in practice).
  size_t p = 0, n = 0, star = std::string::npos, mark = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p, ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = n;
    } else if (star != std::string::npos) {
      p = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool glob_match_any(const std::vector<std::string>& patterns, const std::string& name) {
  for (const auto& p : patterns)
    if (glob_match(p, name)) return true;
  return false;
}

static std::string human(int64_t n) {
  char buf[32];
  if (n >= 1000000000)
    std::snprintf(buf, sizeof buf, "%.2fB", n / 1e9);
  else if (n >= 1000000)
    std::snprintf(buf, sizeof buf, "%.2fM", n / 1e6);
  else if (n >= 1000)
    std::snprintf(buf, sizeof buf, "%.1fK", n / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%lld", (long long)n);
  return buf;
}

std::string FreezeReport::summary() const {
  return "trainable " + std::to_string(trainable_tensors) + " tensors (" + human(trainable_elements) +
         " elements), frozen " + std::to_string(frozen_tensors) + " tensors (" + human(frozen_elements) + " elements)";
}

static void count(const ag::ParamList& params, FreezeReport* r) {
  for (const auto& p : params) {
    const int64_t n = p.var.defined() ? p.var.numel() : 0;
    if (p.trainable) {
      ++r->trainable_tensors;
      r->trainable_elements += n;
    } else {
      ++r->frozen_tensors;
      r->frozen_elements += n;
    }
  }
}

static FreezeReport set_trainable(ag::ParamList& params, const std::vector<std::string>& patterns, bool trainable) {
  FreezeReport r;
  std::vector<bool> used(patterns.size(), false);
  for (auto& p : params) {
    bool hit = false;
    for (size_t i = 0; i < patterns.size(); ++i)
      if (glob_match(patterns[i], p.name)) hit = used[i] = true;
    if (!hit) continue;
    ++r.tensors_matched;
    if (p.trainable != trainable) ++r.tensors_changed;
    p.trainable = trainable;
    if (p.var.defined()) p.var.node()->requires_grad = trainable;
  }
  for (size_t i = 0; i < patterns.size(); ++i)
    if (!used[i]) r.unmatched_patterns.push_back(patterns[i]);
  count(params, &r);
  return r;
}

FreezeReport freeze(ag::ParamList& params, const std::vector<std::string>& patterns) {
  return set_trainable(params, patterns, false);
}
FreezeReport unfreeze(ag::ParamList& params, const std::vector<std::string>& patterns) {
  return set_trainable(params, patterns, true);
}
FreezeReport count_trainable(const ag::ParamList& params) {
  FreezeReport r;
  count(params, &r);
  return r;
}

}  // namespace janus::train
