// Regex: a compiled PCRE2 pattern (JIT when available) for the agent's
// Java-style patterns: multiLineStartPattern, LOGTOJSON matchPattern, the
// built-in log formats and CSVTOJSON delimiters. PCRE2 syntax is close to
// java.util.regex for everything these patterns use. Matching works on bytes
// (no UTF mode), so any log line can be matched.
//
// A Regex owns per-object match scratch space: it is movable, not copyable,
// and not thread-safe.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace kstream::agent {

class Regex {
 public:
  // The error names the pattern and the offset of the problem.
  static Result<Regex> Compile(std::string_view pattern);

  // Java's Matcher.lookingAt(): the pattern matches a prefix of text.
  bool LooksAt(std::string_view text) const;
  // Java's Matcher.matches(): the pattern matches all of text. On success
  // groups[i] is capture group i+1 (nullopt when it did not take part).
  bool FullMatch(std::string_view text, std::vector<std::optional<std::string_view>>& groups) const;
  // The first match at or after `from`: its [begin, end) in text.
  bool Find(std::string_view text, size_t from, size_t& begin, size_t& end) const;

  int capture_count() const { return captures_; }
  const std::string& pattern() const { return pattern_; }

 private:
  struct Code;
  struct MatchData;
  Regex() = default;
  int Match(std::string_view text, size_t from, unsigned options) const;

  std::string pattern_;
  std::shared_ptr<Code> code_;          // shared by nothing: shared_ptr for its deleter
  std::shared_ptr<MatchData> scratch_;  // per object
  std::shared_ptr<Code> anchored_full_;
  int captures_ = 0;
};

}  // namespace kstream::agent
