// --where expressions: a small language over the fields of a record.
//
//   expr    := and ('||' and)*
//   and     := unary ('&&' unary)*
//   unary   := '!' unary | compare
//   compare := operand [op operand]      op: == != < <= > >= contains
//                                           startswith endswith =~
//   operand := field | "string" | 'string' | number | true | false | null
//            | '(' expr ')'
//
// A field is a dotted path (user.id) of letters, digits, '_', '-' and '.',
// or any name in backquotes (`odd name`). '!' binds looser than a
// comparison: `!a == 1` is `!(a == 1)`. Comparisons are numeric when both
// sides are numbers (a numeric string counts as a number against a number
// literal), else they compare text. A comparison with a missing field is
// false; `f == null` holds when f is null or missing. A lone operand is true
// when it is present and not false, null, 0 or "". `=~` takes a POSIX
// extended regular expression and finds it anywhere in the text.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "window/input.h"

namespace kstream::window {

class Expr {
 public:
  virtual ~Expr() = default;
  virtual bool Eval(const std::vector<FieldValue>& values) const = 0;
};

// Parses text; the fields it names are added to `fields`. Errors name the
// position: "--where: expected ')' at column 12".
Result<std::unique_ptr<Expr>> ParseWhere(std::string_view text, FieldSet& fields);

}  // namespace kstream::window
