// The aggregates of a run (--count, --sum, --avg, --min, --max, --distinct,
// --top, --percentile) and the state they keep per row (a group of a window,
// or a session). Output names: count, sum_F, avg_F, min_F, max_F,
// distinct_F, top_F, pP_F.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "window/hll.h"
#include "window/quantile.h"
#include "window/topk.h"
#include "window/value.h"

namespace kstream::window {

enum class AggKind { kCount, kSum, kAvg, kMin, kMax, kDistinct, kTop, kPercentile };

struct AggSpec {
  AggKind kind = AggKind::kCount;
  std::string field;                // dotted path; empty for count
  int slot = -1;                    // the field's slot in the run's FieldSet
  size_t top_k = 0;                 // kTop
  std::vector<double> percentiles;  // kPercentile, each in [0, 100]
};

// "K:F" (K most frequent values of F) and "F:P[,P...]".
Result<AggSpec> ParseTopSpec(std::string_view text);
Result<AggSpec> ParsePercentileSpec(std::string_view text);

// What one record brings to the aggregates, gathered once per record.
struct AggInput {
  std::vector<double> numbers;     // per numeric spec
  std::vector<uint64_t> hashes;    // per distinct spec
  std::vector<std::string> texts;  // per top spec: the value's JSON text
};

class Aggregates {
 public:
  explicit Aggregates(std::vector<AggSpec> specs);
  const std::vector<AggSpec>& specs() const { return specs_; }

  // Reads the record's values for every aggregate. Fails (InvalidArgument)
  // on a missing field or a non-numeric value for a numeric aggregate.
  Status Prepare(const std::vector<FieldValue>& values, AggInput& in) const;

 private:
  friend class RowStore;
  std::vector<AggSpec> specs_;
  std::vector<std::string> names_;  // JSON-quoted output names, with a leading comma
  std::vector<size_t> index_;       // spec -> index into its kind's state array
  size_t numbers_ = 0, doubles_ = 0, hlls_ = 0, tops_ = 0, quantiles_ = 0;
};

// Aggregate state of rows. Rows are allocated and freed (sessions); a row's
// sketches are created on first use. Not thread-safe.
class RowStore {
 public:
  explicit RowStore(const Aggregates& aggs) : aggs_(&aggs) {}
  uint32_t Alloc();
  void Free(uint32_t row);
  void Update(uint32_t row, const AggInput& in);
  // Adds the state of other's row `from` into `row` (session merges).
  void Merge(uint32_t row, RowStore& other, uint32_t from);
  // Appends ,"name":value for every aggregate of the row.
  void Append(std::string& out, uint32_t row);
  // The same for a window without records (--emit-empty).
  void AppendEmpty(std::string& out) const;
  uint64_t count(uint32_t row) const { return counts_[row]; }

 private:
  const Aggregates* aggs_;
  std::vector<uint64_t> counts_;
  std::vector<double> doubles_;  // sums, minimums, maximums
  std::vector<HyperLogLog> hlls_;
  std::vector<TopK> tops_;
  std::vector<QuantileSketch> quantiles_;
  std::vector<uint32_t> free_;
  uint32_t rows_ = 0;
};

// Appends a JSON number (shortest round trip), or null when not finite.
void AppendNumber(std::string& out, double v);

}  // namespace kstream::window
