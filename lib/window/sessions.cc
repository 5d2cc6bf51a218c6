// Session windows per group: [first record, last record + gap). A record
// joins (and may bridge) the open sessions of its group it overlaps with.
// Closing is driven by a min-heap of session ends with lazy deletion: each
// open session has exactly one live heap entry; entries of sessions that
// were extended are pushed again with the new end when they come up.
#include <algorithm>
#include <queue>
#include <set>
#include <unordered_map>
#include <vector>

#include "window/engine.h"
#include "window/hash.h"

namespace kstream::window {
namespace {

struct KeyHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return HashBytes(s); }
};

class SessionWindows final : public WindowEngine {
 public:
  SessionWindows(const EngineOptions& o, const Aggregates& aggs, const GroupFields& fields)
      : gap_(o.spec.gap_ms),
        lateness_(o.allowed_lateness_ms),
        external_(o.external_watermark),
        fields_(fields),
        rows_(aggs) {}

  bool Add(int64_t t, std::string_view key, uint64_t, const AggInput& in) override {
    auto it = keys_.find(key);
    if (it == keys_.end()) {
      it = keys_.emplace(std::string(key), KeyState{}).first;
      fields_.AppendFields(it->second.fields, key);
    }
    KeyState& ks = it->second;
    CloseEnded(ks);
    // Sessions overlapping [t, t + gap) are merged into the first of them.
    Session* into = nullptr;
    int64_t into_start = 0;  // before this record
    for (size_t i = 0; i < ks.sessions.size();) {
      Session& s = ks.sessions[i];
      if (!(s.start < t + gap_ && t < s.last + gap_)) {
        ++i;
        continue;
      }
      if (!into) {
        into = &s;
        into_start = s.start;
        ++i;
        continue;
      }
      Untrack(s.start);
      into->start = std::min(into->start, s.start);
      into->last = std::max(into->last, s.last);
      rows_.Merge(into->row, rows_, s.row);
      rows_.Free(s.row);
      ks.sessions.erase(ks.sessions.begin() + long(i));  // its heap entry goes stale
    }
    if (!into) {
      if (t + gap_ <= watermark_ && !external_) {
        MaybeErase(it);
        return false;
      }
      ks.sessions.push_back({t, t, rows_.Alloc(), next_id_++});
      into = &ks.sessions.back();
      into_start = t;
      if (external_) starts_.insert(t);
      Push(into->last + gap_, into->id, &ks, &it->first);
    }
    into->start = std::min(into->start, t);
    into->last = std::max(into->last, t);
    if (into->start != into_start) {
      Untrack(into_start);
      if (external_) starts_.insert(into->start);
    }
    rows_.Update(into->row, in);
    if (!external_) AdvanceWatermark(t - lateness_);
    return true;
  }

  int64_t LateBefore(int64_t w) const override {
    return w < INT64_MIN / 2 ? INT64_MIN : w - gap_ + 1;
  }
  // Kept only with an external watermark (a consumer group's checkpoints).
  int64_t min_open_start() const override { return starts_.empty() ? INT64_MAX : *starts_.begin(); }
  // Rounded up (safe: Bucket(t) < min_open_start() implies t < it), so a
  // consumer group keeps about 16 runs per gap, not one per millisecond.
  int64_t Bucket(int64_t t) const override {
    const int64_t step = std::max<int64_t>(1, gap_ / 16);
    const int64_t down = FloorDiv(t, step) * step;
    return down == t || down > INT64_MAX - step ? down : down + step;
  }

  void AdvanceWatermark(int64_t w) override {
    // Also when w did not move: a session opened below it (external_) is due.
    watermark_ = std::max(watermark_, w);
    while (!heap_.empty() && heap_.top().end <= watermark_) {
      const Entry e = heap_.top();
      heap_.pop();
      KeyState& ks = *e.state;
      --ks.heap_refs;
      auto s = std::find_if(ks.sessions.begin(), ks.sessions.end(),
                            [&](const Session& x) { return x.id == e.id; });
      if (s != ks.sessions.end()) {
        if (s->last + gap_ > watermark_) {
          Push(s->last + gap_, s->id, &ks, e.key);  // extended since it was pushed
        } else {
          Emit(ks, *s);
          ks.sessions.erase(s);
        }
      }
      if (ks.sessions.empty() && ks.heap_refs == 0) keys_.erase(std::string(*e.key));
    }
  }

  void Finish() override {
    struct Open {
      int64_t end, start;
      KeyState* ks;
      size_t index;
    };
    std::vector<Open> all;
    for (auto& [key, ks] : keys_)
      for (size_t i = 0; i < ks.sessions.size(); ++i)
        all.push_back({ks.sessions[i].last + gap_, ks.sessions[i].start, &ks, i});
    std::sort(all.begin(), all.end(), [](const Open& a, const Open& b) {
      return a.end != b.end ? a.end < b.end : a.start < b.start;
    });
    for (const Open& o : all) Emit(*o.ks, o.ks->sessions[o.index]);
    keys_.clear();
    heap_ = {};
    starts_.clear();
  }

  int64_t next_close() const override { return heap_.empty() ? INT64_MAX : heap_.top().end; }

 private:
  struct Session {
    int64_t start, last;
    uint32_t row;
    uint64_t id;
  };
  struct KeyState {
    std::vector<Session> sessions;  // open sessions, usually one
    uint32_t heap_refs = 0;         // heap entries naming this key
    std::string fields;             // ,"name":value of the group
  };
  struct Entry {
    int64_t end;
    uint64_t id;
    KeyState* state;         // map nodes do not move
    const std::string* key;  // the node's key
    bool operator>(const Entry& o) const { return end > o.end; }
  };
  using Map = std::unordered_map<std::string, KeyState, KeyHash, std::equal_to<>>;

  void Push(int64_t end, uint64_t id, KeyState* ks, const std::string* key) {
    heap_.push({end, id, ks, key});
    ++ks->heap_refs;
  }

  // Emits the key's sessions that closed before this record: a record never
  // joins a session the watermark has passed, whenever the heap gets to it.
  void CloseEnded(KeyState& ks) {
    for (size_t i = 0; i < ks.sessions.size();) {
      if (ks.sessions[i].last + gap_ <= watermark_) {
        Emit(ks, ks.sessions[i]);
        ks.sessions.erase(ks.sessions.begin() + long(i));
      } else {
        ++i;
      }
    }
  }

  void Untrack(int64_t start) {
    if (!external_) return;
    auto it = starts_.find(start);
    if (it != starts_.end()) starts_.erase(it);
  }

  void MaybeErase(Map::iterator it) {
    if (it->second.sessions.empty() && it->second.heap_refs == 0) keys_.erase(it);
  }

  void Emit(const KeyState& ks, const Session& s) {
    AppendPrefix(out_, s.start, s.last + gap_);
    out_ += ks.fields;
    rows_.Append(out_, s.row);
    out_ += "}\n";
    rows_.Free(s.row);
    Untrack(s.start);
    ++windows_emitted_;
    ++lines_emitted_;
  }

  const int64_t gap_, lateness_;
  const bool external_;
  const GroupFields& fields_;
  RowStore rows_;
  Map keys_;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap_;
  uint64_t next_id_ = 0;
  std::multiset<int64_t> starts_;  // of the open sessions, when external_
};

}  // namespace

std::unique_ptr<WindowEngine> NewSessionEngine(const EngineOptions& options, const Aggregates& aggs,
                                               const GroupFields& fields) {
  return std::make_unique<SessionWindows>(options, aggs, fields);
}

}  // namespace kstream::window
