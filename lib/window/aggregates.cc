#include "window/aggregates.h"

#include <charconv>
#include <cmath>
#include <limits>

#include "core/text.h"
#include "window/hash.h"

namespace kstream::window {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

std::string Label(double p) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof(buf), p);
  return std::string(buf, r.ptr);
}

std::string QuotedName(std::string_view name) {
  std::string out = ",";
  AppendJsonString(out, name);
  out += ':';
  return out;
}

bool ParseCount(std::string_view s, size_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

void AppendNumber(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  if (v == 0) v = 0;  // no "-0"
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, r.ptr);
}

Result<AggSpec> ParseTopSpec(std::string_view text) {
  AggSpec s;
  s.kind = AggKind::kTop;
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos || !ParseCount(text.substr(0, colon), s.top_k) ||
      s.top_k == 0 || s.top_k > 10000 || colon + 1 == text.size())
    return Status::InvalidArgument("invalid --top '" + std::string(text) +
                                   "' (use K:FIELD with K from 1 to 10000, like 10:player)");
  s.field = std::string(text.substr(colon + 1));
  return s;
}

Result<AggSpec> ParsePercentileSpec(std::string_view text) {
  AggSpec s;
  s.kind = AggKind::kPercentile;
  const size_t colon = text.rfind(':');
  const auto bad = [&] {
    return Status::InvalidArgument(
        "invalid --percentile '" + std::string(text) +
        "' (use FIELD:P[,P...] with P from 0 to 100, like latency:50,99)");
  };
  if (colon == std::string_view::npos || colon == 0) return bad();
  s.field = std::string(text.substr(0, colon));
  std::string_view list = text.substr(colon + 1);
  while (true) {
    const size_t comma = list.find(',');
    const std::string_view item = list.substr(0, comma);
    double p;
    if (!FieldValue::ParseNumber(item, p) || p < 0 || p > 100) return bad();
    s.percentiles.push_back(p);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return s;
}

Aggregates::Aggregates(std::vector<AggSpec> specs) : specs_(std::move(specs)) {
  for (const AggSpec& s : specs_) {
    switch (s.kind) {
      case AggKind::kCount:
        index_.push_back(0);
        names_.push_back(QuotedName("count"));
        break;
      case AggKind::kSum:
      case AggKind::kAvg:
      case AggKind::kMin:
      case AggKind::kMax: {
        static constexpr const char* kPrefix[] = {"", "sum_", "avg_", "min_", "max_"};
        index_.push_back(doubles_++);
        ++numbers_;
        names_.push_back(QuotedName(kPrefix[int(s.kind)] + s.field));
        break;
      }
      case AggKind::kDistinct:
        index_.push_back(hlls_++);
        names_.push_back(QuotedName("distinct_" + s.field));
        break;
      case AggKind::kTop:
        index_.push_back(tops_++);
        names_.push_back(QuotedName("top_" + s.field));
        break;
      case AggKind::kPercentile:
        index_.push_back(quantiles_++);
        ++numbers_;
        for (double p : s.percentiles) names_.push_back(QuotedName("p" + Label(p) + "_" + s.field));
        break;
    }
  }
}

Status Aggregates::Prepare(const std::vector<FieldValue>& values, AggInput& in) const {
  in.numbers.resize(numbers_);
  in.hashes.resize(hlls_);
  in.texts.resize(tops_);
  size_t number = 0;
  for (size_t i = 0; i < specs_.size(); ++i) {
    const AggSpec& s = specs_[i];
    if (s.kind == AggKind::kCount) continue;
    const FieldValue& v = values[size_t(s.slot)];
    if (!v.present()) return Status::InvalidArgument("field '" + s.field + "' is missing");
    switch (s.kind) {
      case AggKind::kDistinct:
        in.hashes[index_[i]] = HashBytes(v.text, uint64_t(v.kind == FieldValue::Kind::kString));
        break;
      case AggKind::kTop: {
        std::string& t = in.texts[index_[i]];
        t.clear();
        if (v.kind == FieldValue::Kind::kString)
          AppendJsonString(t, v.text);
        else
          t.assign(v.text);
        break;
      }
      default: {
        double d;
        if (!v.ToNumber(d) || !std::isfinite(d))
          return Status::InvalidArgument("field '" + s.field + "' is not a number");
        in.numbers[number++] = d;
      }
    }
  }
  return Status::Ok();
}

uint32_t RowStore::Alloc() {
  if (!free_.empty()) {
    const uint32_t row = free_.back();
    free_.pop_back();
    return row;
  }
  const Aggregates& a = *aggs_;
  const uint32_t row = rows_++;
  counts_.push_back(0);
  for (size_t i = 0; i < a.specs_.size(); ++i) {
    const AggKind k = a.specs_[i].kind;
    if (k == AggKind::kMin)
      doubles_.push_back(kInf);
    else if (k == AggKind::kMax)
      doubles_.push_back(-kInf);
    else if (k == AggKind::kSum || k == AggKind::kAvg)
      doubles_.push_back(0);
  }
  hlls_.resize(hlls_.size() + a.hlls_);
  for (size_t i = 0; i < a.specs_.size(); ++i)
    if (a.specs_[i].kind == AggKind::kTop)
      tops_.emplace_back(std::max<size_t>(1024, 32 * a.specs_[i].top_k));
  quantiles_.resize(quantiles_.size() + a.quantiles_);
  return row;
}

void RowStore::Free(uint32_t row) {
  const Aggregates& a = *aggs_;
  counts_[row] = 0;
  for (size_t i = 0; i < a.specs_.size(); ++i) {
    const size_t k = a.index_[i];
    switch (a.specs_[i].kind) {
      case AggKind::kSum:
      case AggKind::kAvg:
        doubles_[row * a.doubles_ + k] = 0;
        break;
      case AggKind::kMin:
        doubles_[row * a.doubles_ + k] = kInf;
        break;
      case AggKind::kMax:
        doubles_[row * a.doubles_ + k] = -kInf;
        break;
      case AggKind::kDistinct:
        hlls_[row * a.hlls_ + k] = HyperLogLog();
        break;
      case AggKind::kTop:
        tops_[row * a.tops_ + k] = TopK(std::max<size_t>(1024, 32 * a.specs_[i].top_k));
        break;
      case AggKind::kPercentile:
        quantiles_[row * a.quantiles_ + k] = QuantileSketch();
        break;
      case AggKind::kCount:
        break;
    }
  }
  free_.push_back(row);
}

void RowStore::Update(uint32_t row, const AggInput& in) {
  const Aggregates& a = *aggs_;
  ++counts_[row];
  size_t number = 0;
  for (size_t i = 0; i < a.specs_.size(); ++i) {
    const size_t k = a.index_[i];
    switch (a.specs_[i].kind) {
      case AggKind::kCount:
        break;
      case AggKind::kSum:
      case AggKind::kAvg:
        doubles_[row * a.doubles_ + k] += in.numbers[number++];
        break;
      case AggKind::kMin: {
        double& d = doubles_[row * a.doubles_ + k];
        d = std::min(d, in.numbers[number++]);
        break;
      }
      case AggKind::kMax: {
        double& d = doubles_[row * a.doubles_ + k];
        d = std::max(d, in.numbers[number++]);
        break;
      }
      case AggKind::kDistinct:
        hlls_[row * a.hlls_ + k].Add(in.hashes[k]);
        break;
      case AggKind::kTop:
        tops_[row * a.tops_ + k].Add(in.texts[k]);
        break;
      case AggKind::kPercentile:
        quantiles_[row * a.quantiles_ + k].Add(in.numbers[number++]);
        break;
    }
  }
}

void RowStore::Merge(uint32_t row, RowStore& other, uint32_t from) {
  const Aggregates& a = *aggs_;
  counts_[row] += other.counts_[from];
  for (size_t i = 0; i < a.specs_.size(); ++i) {
    const size_t k = a.index_[i];
    const size_t mine = row * a.doubles_ + k, theirs = from * a.doubles_ + k;
    switch (a.specs_[i].kind) {
      case AggKind::kCount:
        break;
      case AggKind::kSum:
      case AggKind::kAvg:
        doubles_[mine] += other.doubles_[theirs];
        break;
      case AggKind::kMin:
        doubles_[mine] = std::min(doubles_[mine], other.doubles_[theirs]);
        break;
      case AggKind::kMax:
        doubles_[mine] = std::max(doubles_[mine], other.doubles_[theirs]);
        break;
      case AggKind::kDistinct:
        hlls_[row * a.hlls_ + k].Merge(other.hlls_[from * a.hlls_ + k]);
        break;
      case AggKind::kTop:
        tops_[row * a.tops_ + k].Merge(other.tops_[from * a.tops_ + k]);
        break;
      case AggKind::kPercentile:
        quantiles_[row * a.quantiles_ + k].Merge(other.quantiles_[from * a.quantiles_ + k]);
        break;
    }
  }
}

void RowStore::Append(std::string& out, uint32_t row) {
  const Aggregates& a = *aggs_;
  const uint64_t n = counts_[row];
  size_t name = 0;
  for (size_t i = 0; i < a.specs_.size(); ++i) {
    const AggSpec& s = a.specs_[i];
    const size_t k = a.index_[i];
    if (s.kind != AggKind::kPercentile) out += a.names_[name++];
    switch (s.kind) {
      case AggKind::kCount:
        AppendNumber(out, double(n));
        break;
      case AggKind::kSum:
        AppendNumber(out, doubles_[row * a.doubles_ + k]);
        break;
      case AggKind::kAvg:
        AppendNumber(out, doubles_[row * a.doubles_ + k] / double(n));
        break;
      case AggKind::kMin:
      case AggKind::kMax:
        AppendNumber(out, doubles_[row * a.doubles_ + k]);
        break;
      case AggKind::kDistinct:
        AppendNumber(out, std::round(hlls_[row * a.hlls_ + k].Estimate()));
        break;
      case AggKind::kTop: {
        out += '[';
        bool first = true;
        for (const TopK::Entry* e : tops_[row * a.tops_ + k].Top(s.top_k)) {
          out += first ? "{\"value\":" : ",{\"value\":";
          first = false;
          out += e->value;
          out += ",\"count\":";
          AppendNumber(out, double(e->count));
          out += '}';
        }
        out += ']';
        break;
      }
      case AggKind::kPercentile: {
        QuantileSketch& q = quantiles_[row * a.quantiles_ + k];
        for (double p : s.percentiles) {
          out += a.names_[name++];
          AppendNumber(out, q.count() ? q.Quantile(p / 100) : NAN);
        }
        break;
      }
    }
  }
}

void RowStore::AppendEmpty(std::string& out) const {
  const Aggregates& a = *aggs_;
  size_t name = 0;
  for (const AggSpec& s : a.specs_) {
    if (s.kind == AggKind::kPercentile) {
      for (size_t p = 0; p < s.percentiles.size(); ++p) out += a.names_[name++] + "null";
      continue;
    }
    out += a.names_[name++];
    switch (s.kind) {
      case AggKind::kCount:
      case AggKind::kSum:
      case AggKind::kDistinct:
        out += '0';
        break;
      case AggKind::kTop:
        out += "[]";
        break;
      default:
        out += "null";
    }
  }
}

}  // namespace kstream::window
