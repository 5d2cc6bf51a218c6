// Tumbling and sliding (hopping) windows: a record at t belongs to every
// window [s, s + size) with s a multiple of the slide and s <= t < s + size.
#include <algorithm>
#include <map>

#include "core/text.h"
#include "window/engine.h"

namespace kstream::window {

void WindowEngine::AppendPrefix(std::string& out, int64_t start, int64_t end) {
  out += "{\"window_start\":\"";
  out += FormatTimestamp(start);
  out += "\",\"window_end\":\"";
  out += FormatTimestamp(end);
  out += '"';
}

namespace {

class FixedWindows final : public WindowEngine {
 public:
  FixedWindows(const EngineOptions& o, const Aggregates& aggs, const GroupFields& fields)
      : size_(o.spec.size_ms),
        slide_(o.spec.kind == WindowSpec::Kind::kSliding ? o.spec.slide_ms : o.spec.size_ms),
        lateness_(o.allowed_lateness_ms),
        emit_empty_(o.emit_empty),
        external_(o.external_watermark),
        aggs_(aggs),
        fields_(fields),
        empty_rows_(aggs) {}

  bool Add(int64_t t, std::string_view key, uint64_t hash, const AggInput& in) override {
    const int64_t last = FloorDiv(t, slide_) * slide_;
    bool added = false;
    for (int64_t s = last; s + size_ > t; s -= slide_) {
      if (s + size_ <= watermark_ && !external_) break;  // closed, and every earlier one too
      GroupTable& table = TableFor(s);
      table.rows().Update(table.FindOrAdd(key, hash), in);
      added = true;
    }
    if (!added) return false;
    StartAt(t);
    if (!external_) AdvanceWatermark(t - lateness_);
    return true;
  }

  int64_t LateBefore(int64_t w) const override {
    if (w < INT64_MIN / 2) return INT64_MIN;  // no watermark yet
    return FloorDiv(w - size_, slide_) * slide_ + slide_;
  }
  int64_t min_open_start() const override {
    return open_.empty() ? INT64_MAX : open_.begin()->first;
  }
  int64_t Bucket(int64_t t) const override { return FloorDiv(t, slide_) * slide_; }

  void StartAt(int64_t t) override {
    if (!emit_empty_ || has_next_empty_) return;
    has_next_empty_ = true;
    next_empty_ = FloorDiv(t - size_, slide_) * slide_ + slide_;  // first window holding t
  }

  void AdvanceWatermark(int64_t w) override {
    watermark_ = std::max(watermark_, w);
    // Also when w did not move: a reopened window (external_) may be due.
    if (watermark_ < next_close()) return;
    while (!open_.empty() && open_.begin()->first + size_ <= watermark_) {
      auto it = open_.begin();
      EmitEmptyBefore(it->first, true);
      Emit(it->first, it->second.get());
      Erase(it);
    }
    EmitEmptyBefore(open_.empty() ? INT64_MAX : open_.begin()->first, true);
  }

  void Finish() override {
    while (!open_.empty()) {
      auto it = open_.begin();
      EmitEmptyBefore(it->first, false);
      Emit(it->first, it->second.get());
      Erase(it);
    }
  }

  int64_t next_close() const override {
    int64_t next = open_.empty() ? INT64_MAX : open_.begin()->first + size_;
    if (emit_empty_ && has_next_empty_) next = std::min(next, next_empty_ + size_);
    return next;
  }

 private:
  GroupTable& TableFor(int64_t start) {
    if (cached_ && cached_start_ == start) return *cached_;
    auto& slot = open_[start];
    if (!slot) slot = std::make_unique<GroupTable>(aggs_, fields_);
    cached_start_ = start;
    cached_ = slot.get();
    return *slot;
  }

  void Erase(std::map<int64_t, std::unique_ptr<GroupTable>>::iterator it) {
    if (cached_ == it->second.get()) cached_ = nullptr;
    if (emit_empty_) next_empty_ = std::max(next_empty_, it->first + slide_);
    open_.erase(it);
  }

  // --emit-empty: the windows without records that start before `limit`
  // (and, when bounded, have closed).
  void EmitEmptyBefore(int64_t limit, bool bounded) {
    if (!emit_empty_ || !has_next_empty_) return;
    while (next_empty_ < limit && (!bounded || next_empty_ + size_ <= watermark_)) {
      Emit(next_empty_, nullptr);
      next_empty_ += slide_;
    }
  }

  void Emit(int64_t start, GroupTable* table) {
    prefix_.clear();
    AppendPrefix(prefix_, start, start + size_);
    ++windows_emitted_;
    if (table) {
      table->AppendLines(out_, prefix_);
      lines_emitted_ += table->size();
      return;
    }
    out_ += prefix_;
    empty_rows_.AppendEmpty(out_);
    out_ += "}\n";
    ++lines_emitted_;
  }

  const int64_t size_, slide_, lateness_;
  const bool emit_empty_, external_;
  const Aggregates& aggs_;
  const GroupFields& fields_;
  RowStore empty_rows_;
  std::map<int64_t, std::unique_ptr<GroupTable>> open_;  // by start
  GroupTable* cached_ = nullptr;                         // the window of the previous record
  int64_t cached_start_ = 0;
  bool has_next_empty_ = false;
  int64_t next_empty_ = 0;  // --emit-empty: the next window start not yet emitted
  std::string prefix_;
};

}  // namespace

std::unique_ptr<WindowEngine> NewSessionEngine(const EngineOptions& options, const Aggregates& aggs,
                                               const GroupFields& fields);

std::unique_ptr<WindowEngine> NewWindowEngine(const EngineOptions& options, const Aggregates& aggs,
                                              const GroupFields& fields) {
  if (options.spec.kind == WindowSpec::Kind::kSession)
    return NewSessionEngine(options, aggs, fields);
  return std::make_unique<FixedWindows>(options, aggs, fields);
}

}  // namespace kstream::window
