#include "agent/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace kstream::agent {

struct Regex::Code {
  pcre2_code* code = nullptr;
  ~Code() { pcre2_code_free(code); }
};
struct Regex::MatchData {
  pcre2_match_data* data = nullptr;
  ~MatchData() { pcre2_match_data_free(data); }
};

namespace {

Result<pcre2_code*> CompileOne(const std::string& pattern) {
  int err = 0;
  PCRE2_SIZE where = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_DOLLAR_ENDONLY, &err, &where, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(err, msg, sizeof(msg));
    return Status::InvalidArgument("invalid regular expression '" + pattern + "' at offset " +
                                   std::to_string(where) + ": " +
                                   reinterpret_cast<const char*>(msg));
  }
  (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter
  return code;
}

}  // namespace

Result<Regex> Regex::Compile(std::string_view pattern) {
  Regex r;
  r.pattern_ = std::string(pattern);
  KS_ASSIGN_OR_RETURN(pcre2_code * code, CompileOne(r.pattern_));
  r.code_ = std::make_shared<Code>();
  r.code_->code = code;
  // matches() needs the whole text: an explicit \z after the pattern, so the
  // JIT can be used (PCRE2_ENDANCHORED at match time disables it).
  KS_ASSIGN_OR_RETURN(pcre2_code * full, CompileOne("(?:" + r.pattern_ + ")\\z"));
  r.anchored_full_ = std::make_shared<Code>();
  r.anchored_full_->code = full;
  uint32_t count = 0;
  pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &count);
  r.captures_ = int(count);
  r.scratch_ = std::make_shared<MatchData>();
  r.scratch_->data = pcre2_match_data_create(count + 1, nullptr);
  return r;
}

int Regex::Match(std::string_view text, size_t from, unsigned options) const {
  pcre2_code* code = (options & PCRE2_ENDANCHORED) ? anchored_full_->code : code_->code;
  options &= ~unsigned(PCRE2_ENDANCHORED);
  return pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), from, options,
                     scratch_->data, nullptr);
}

bool Regex::LooksAt(std::string_view text) const {
  return Match(text, 0, PCRE2_ANCHORED) > 0;
}

bool Regex::FullMatch(std::string_view text,
                      std::vector<std::optional<std::string_view>>& groups) const {
  groups.clear();
  if (Match(text, 0, PCRE2_ANCHORED | PCRE2_ENDANCHORED) <= 0) return false;
  const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(scratch_->data);
  for (int i = 1; i <= captures_; ++i) {
    if (ov[2 * i] == PCRE2_UNSET)
      groups.emplace_back(std::nullopt);
    else
      groups.emplace_back(text.substr(ov[2 * i], ov[2 * i + 1] - ov[2 * i]));
  }
  return true;
}

bool Regex::Find(std::string_view text, size_t from, size_t& begin, size_t& end) const {
  if (Match(text, from, 0) <= 0) return false;
  const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(scratch_->data);
  begin = ov[0];
  end = ov[1];
  return true;
}

}  // namespace kstream::agent
