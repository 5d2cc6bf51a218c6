#include "window/expr.h"

#include <regex.h>

#include <cmath>
#include <string>

namespace kstream::window {
namespace {

enum class Tok {
  kField,
  kString,
  kNumber,
  kTrue,
  kFalse,
  kNull,
  kLParen,
  kRParen,
  kAnd,
  kOr,
  kNot,
  kOp,
  kEnd
};
enum class Op { kEq, kNe, kLt, kLe, kGt, kGe, kContains, kStartsWith, kEndsWith, kMatch };

struct Token {
  Tok tok = Tok::kEnd;
  Op op = Op::kEq;
  std::string text;  // field name, string contents, number text
  size_t column = 0;
};

bool IsFieldChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}

  Status Next(Token& t) {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n')) ++i_;
    t = Token{};
    t.column = i_ + 1;
    if (i_ >= s_.size()) return Status::Ok();
    const char c = s_[i_];
    const std::string_view two = s_.substr(i_, 2);
    static constexpr struct {
      std::string_view text;
      Tok tok;
      Op op;
    } kSymbols[] = {
        {"&&", Tok::kAnd, Op::kEq},   {"||", Tok::kOr, Op::kEq},    {"==", Tok::kOp, Op::kEq},
        {"!=", Tok::kOp, Op::kNe},    {"<=", Tok::kOp, Op::kLe},    {">=", Tok::kOp, Op::kGe},
        {"=~", Tok::kOp, Op::kMatch}, {"<", Tok::kOp, Op::kLt},     {">", Tok::kOp, Op::kGt},
        {"!", Tok::kNot, Op::kEq},    {"(", Tok::kLParen, Op::kEq}, {")", Tok::kRParen, Op::kEq}};
    for (const auto& sym : kSymbols) {
      if (two.substr(0, sym.text.size()) == sym.text) {
        t.tok = sym.tok;
        t.op = sym.op;
        i_ += sym.text.size();
        return Status::Ok();
      }
    }
    if (c == '"' || c == '\'' || c == '`') return Quoted(c, t);
    if ((c >= '0' && c <= '9') ||
        (c == '-' && i_ + 1 < s_.size() && s_[i_ + 1] >= '0' && s_[i_ + 1] <= '9'))
      return Number(t);
    if (IsFieldChar(c)) {
      const size_t start = i_;
      while (i_ < s_.size() && IsFieldChar(s_[i_])) ++i_;
      t.text = std::string(s_.substr(start, i_ - start));
      t.tok = Tok::kField;
      static constexpr struct {
        std::string_view word;
        Tok tok;
        Op op;
      } kWords[] = {
          {"contains", Tok::kOp, Op::kContains}, {"startswith", Tok::kOp, Op::kStartsWith},
          {"endswith", Tok::kOp, Op::kEndsWith}, {"true", Tok::kTrue, Op::kEq},
          {"false", Tok::kFalse, Op::kEq},       {"null", Tok::kNull, Op::kEq}};
      for (const auto& w : kWords)
        if (t.text == w.word) t.tok = w.tok, t.op = w.op;
      return Status::Ok();
    }
    return Error("unexpected character '" + std::string(1, c) + "'", t.column);
  }

  static Status Error(const std::string& what, size_t column) {
    return Status::InvalidArgument("--where: " + what + " at column " + std::to_string(column));
  }

 private:
  Status Quoted(char quote, Token& t) {
    const size_t start = i_++;
    for (; i_ < s_.size() && s_[i_] != quote; ++i_) {
      if (s_[i_] == '\\' && i_ + 1 < s_.size()) {
        const char e = s_[++i_];
        t.text += e == 'n' ? '\n' : e == 't' ? '\t' : e;
      } else {
        t.text += s_[i_];
      }
    }
    if (i_ >= s_.size()) return Error("unterminated string", start + 1);
    ++i_;
    t.tok = quote == '`' ? Tok::kField : Tok::kString;
    return Status::Ok();
  }

  Status Number(Token& t) {
    const size_t start = i_;
    if (s_[i_] == '-') ++i_;
    while (i_ < s_.size() &&
           ((s_[i_] >= '0' && s_[i_] <= '9') || s_[i_] == '.' || s_[i_] == 'e' || s_[i_] == 'E' ||
            ((s_[i_] == '+' || s_[i_] == '-') && (s_[i_ - 1] == 'e' || s_[i_ - 1] == 'E'))))
      ++i_;
    t.text = std::string(s_.substr(start, i_ - start));
    double d;
    if (!FieldValue::ParseNumber(t.text, d))
      return Error("invalid number '" + t.text + "'", start + 1);
    t.tok = Tok::kNumber;
    return Status::Ok();
  }

  std::string_view s_;
  size_t i_ = 0;
};

// A field (slot >= 0) or a literal (kept in `text`).
struct Operand {
  int slot = -1;
  FieldValue::Kind kind = FieldValue::Kind::kMissing;
  std::string text;
  const FieldValue& Resolve(const std::vector<FieldValue>& values, FieldValue& tmp) const {
    if (slot >= 0) return values[size_t(slot)];
    tmp = {kind, text};
    return tmp;
  }
};

bool Truthy(const FieldValue& v) {
  double d;
  switch (v.kind) {
    case FieldValue::Kind::kMissing:
    case FieldValue::Kind::kNull:
      return false;
    case FieldValue::Kind::kBool:
      return v.text == "true";
    case FieldValue::Kind::kNumber:
      return !(v.ToNumber(d) && d == 0);
    case FieldValue::Kind::kString:
      return !v.text.empty();
    case FieldValue::Kind::kRaw:
      return true;
  }
  return false;
}

class Binary final : public Expr {
 public:
  Binary(bool is_and, std::unique_ptr<Expr> a, std::unique_ptr<Expr> b)
      : and_(is_and), a_(std::move(a)), b_(std::move(b)) {}
  bool Eval(const std::vector<FieldValue>& v) const override {
    return and_ ? (a_->Eval(v) && b_->Eval(v)) : (a_->Eval(v) || b_->Eval(v));
  }

 private:
  bool and_;
  std::unique_ptr<Expr> a_, b_;
};

class Not final : public Expr {
 public:
  explicit Not(std::unique_ptr<Expr> a) : a_(std::move(a)) {}
  bool Eval(const std::vector<FieldValue>& v) const override { return !a_->Eval(v); }

 private:
  std::unique_ptr<Expr> a_;
};

class Truth final : public Expr {
 public:
  explicit Truth(Operand o) : o_(std::move(o)) {}
  bool Eval(const std::vector<FieldValue>& v) const override {
    FieldValue tmp;
    return Truthy(o_.Resolve(v, tmp));
  }

 private:
  Operand o_;
};

class Compare final : public Expr {
 public:
  Compare(Op op, Operand a, Operand b) : op_(op), a_(std::move(a)), b_(std::move(b)) {}
  ~Compare() override {
    if (has_regex_) regfree(&regex_);
  }
  Status CompileRegex(size_t column) {
    if (b_.slot >= 0 || b_.kind != FieldValue::Kind::kString)
      return Lexer::Error("=~ needs a string literal on its right", column);
    if (int rc = regcomp(&regex_, b_.text.c_str(), REG_EXTENDED | REG_NOSUB); rc != 0) {
      char buf[256];
      regerror(rc, &regex_, buf, sizeof buf);
      return Lexer::Error(std::string("invalid regular expression: ") + buf, column);
    }
    has_regex_ = true;
    return Status::Ok();
  }

  bool Eval(const std::vector<FieldValue>& values) const override {
    FieldValue ta, tb;
    const FieldValue& a = a_.Resolve(values, ta);
    const FieldValue& b = b_.Resolve(values, tb);
    using K = FieldValue::Kind;
    const bool a_null = a.kind == K::kMissing || a.kind == K::kNull;
    const bool b_null = b.kind == K::kMissing || b.kind == K::kNull;
    if (a_null || b_null) {
      if (op_ == Op::kEq) return a_null && b_null && (a.kind == K::kNull || b.kind == K::kNull);
      if (op_ == Op::kNe) return a_null != b_null && (a.kind == K::kNull || b.kind == K::kNull);
      return false;
    }
    switch (op_) {
      case Op::kContains:
        return a.text.find(b.text) != std::string_view::npos;
      case Op::kStartsWith:
        return a.text.substr(0, b.text.size()) == b.text;
      case Op::kEndsWith:
        return a.text.size() >= b.text.size() &&
               a.text.substr(a.text.size() - b.text.size()) == b.text;
      case Op::kMatch:
        scratch_.assign(a.text);
        return regexec(&regex_, scratch_.c_str(), 0, nullptr, 0) == 0;
      default:
        break;
    }
    int cmp;
    double x, y;
    if ((a.kind == K::kNumber || b.kind == K::kNumber) && a.ToNumber(x) && b.ToNumber(y)) {
      cmp = x < y ? -1 : x > y ? 1 : 0;
    } else {
      cmp = a.text.compare(b.text);
    }
    switch (op_) {
      case Op::kEq:
        return cmp == 0;
      case Op::kNe:
        return cmp != 0;
      case Op::kLt:
        return cmp < 0;
      case Op::kLe:
        return cmp <= 0;
      case Op::kGt:
        return cmp > 0;
      case Op::kGe:
        return cmp >= 0;
      default:
        return false;
    }
  }

 private:
  Op op_;
  Operand a_, b_;
  regex_t regex_{};
  bool has_regex_ = false;
  mutable std::string scratch_;
};

class Parser {
 public:
  Parser(std::string_view text, FieldSet& fields) : lex_(text), fields_(fields) {}

  Result<std::unique_ptr<Expr>> Parse() {
    KS_RETURN_IF_ERROR(Advance());
    if (cur_.tok == Tok::kEnd) return Lexer::Error("empty expression", cur_.column);
    KS_ASSIGN_OR_RETURN(auto e, Or());
    if (cur_.tok != Tok::kEnd) return Lexer::Error("unexpected '" + Describe() + "'", cur_.column);
    return e;
  }

 private:
  Status Advance() { return lex_.Next(cur_); }
  std::string Describe() const { return cur_.text.empty() ? "token" : cur_.text; }

  Result<std::unique_ptr<Expr>> Or() {
    KS_ASSIGN_OR_RETURN(auto left, And());
    while (cur_.tok == Tok::kOr) {
      KS_RETURN_IF_ERROR(Advance());
      KS_ASSIGN_OR_RETURN(auto right, And());
      left = std::make_unique<Binary>(false, std::move(left), std::move(right));
    }
    return left;
  }

  Result<std::unique_ptr<Expr>> And() {
    KS_ASSIGN_OR_RETURN(auto left, Unary());
    while (cur_.tok == Tok::kAnd) {
      KS_RETURN_IF_ERROR(Advance());
      KS_ASSIGN_OR_RETURN(auto right, Unary());
      left = std::make_unique<Binary>(true, std::move(left), std::move(right));
    }
    return left;
  }

  Result<std::unique_ptr<Expr>> Unary() {
    if (cur_.tok == Tok::kNot) {
      KS_RETURN_IF_ERROR(Advance());
      KS_ASSIGN_OR_RETURN(auto inner, Unary());
      return std::unique_ptr<Expr>(std::make_unique<Not>(std::move(inner)));
    }
    if (cur_.tok == Tok::kLParen) {
      const size_t column = cur_.column;
      KS_RETURN_IF_ERROR(Advance());
      KS_ASSIGN_OR_RETURN(auto inner, Or());
      if (cur_.tok != Tok::kRParen)
        return Lexer::Error("expected ')' for '(' at column " + std::to_string(column),
                            cur_.column);
      KS_RETURN_IF_ERROR(Advance());
      return inner;
    }
    return Comparison();
  }

  Result<std::unique_ptr<Expr>> Comparison() {
    KS_ASSIGN_OR_RETURN(Operand a, Value());
    if (cur_.tok != Tok::kOp) return std::unique_ptr<Expr>(std::make_unique<Truth>(std::move(a)));
    const Op op = cur_.op;
    const size_t column = cur_.column;
    KS_RETURN_IF_ERROR(Advance());
    KS_ASSIGN_OR_RETURN(Operand b, Value());
    auto c = std::make_unique<Compare>(op, std::move(a), std::move(b));
    if (op == Op::kMatch) KS_RETURN_IF_ERROR(c->CompileRegex(column));
    return std::unique_ptr<Expr>(std::move(c));
  }

  Result<Operand> Value() {
    Operand o;
    switch (cur_.tok) {
      case Tok::kField: {
        KS_ASSIGN_OR_RETURN(FieldPath path, FieldPath::Parse(cur_.text));
        o.slot = fields_.Add(path);
        break;
      }
      case Tok::kString:
        o.kind = FieldValue::Kind::kString, o.text = cur_.text;
        break;
      case Tok::kNumber:
        o.kind = FieldValue::Kind::kNumber, o.text = cur_.text;
        break;
      case Tok::kTrue:
        o.kind = FieldValue::Kind::kBool, o.text = "true";
        break;
      case Tok::kFalse:
        o.kind = FieldValue::Kind::kBool, o.text = "false";
        break;
      case Tok::kNull:
        o.kind = FieldValue::Kind::kNull, o.text = "null";
        break;
      case Tok::kEnd:
        return Lexer::Error("unexpected end, expected a field or a value", cur_.column);
      default:
        return Lexer::Error("expected a field or a value", cur_.column);
    }
    KS_RETURN_IF_ERROR(Advance());
    return o;
  }

  Lexer lex_;
  FieldSet& fields_;
  Token cur_;
};

}  // namespace

Result<std::unique_ptr<Expr>> ParseWhere(std::string_view text, FieldSet& fields) {
  return Parser(text, fields).Parse();
}

}  // namespace kstream::window
