// Shared helpers for the unit tests: a temporary directory, an Env with a
// controllable clock, and small conveniences for reading and writing streams.
// Header-only; everything lives in namespace kstest.
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/env.h"
#include "core/hash_key.h"
#include "store/backend.h"
#include "store/local_store.h"
#include "store/stream_meta.h"

// Lets CHECK(a == b) print 128-bit hash keys and sequence numbers.
namespace doctest {
template <>
struct StringMaker<unsigned __int128> {
  static String convert(unsigned __int128 v) { return kstream::ToDecimal(v).c_str(); }
};
}  // namespace doctest

namespace kstest {

using kstream::uint128;

// Bytes from hex digits ("0a ff" without the space): test vectors.
inline std::string FromHex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out += char(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  return out;
}

// A fresh directory under /tmp, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/kstream-test-XXXXXX";
    const char* p = ::mkdtemp(tmpl);
    REQUIRE(p != nullptr);
    path_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The POSIX Env with a clock that only moves when the test moves it.
class FakeClockEnv final : public kstream::EnvWrapper {
 public:
  explicit FakeClockEnv(int64_t start_ms = 1'700'000'000'000)
      : EnvWrapper(kstream::Env::Default()), now_(start_ms) {}

  void Set(int64_t ms) { now_ = ms; }
  void Advance(int64_t ms) { now_ += ms; }

  int64_t NowMillis() override { return now_; }

 private:
  std::atomic<int64_t> now_;
};

// The value of a Result that must be ok; fails the test with its message otherwise.
template <typename T>
T Value(kstream::Result<T> r) {
  REQUIRE_MESSAGE(r.ok(), r.status().message());
  return std::move(r).value();
}

// A LocalStore in a fresh temporary directory, on a fake clock.
struct TestStore {
  TempDir dir;
  FakeClockEnv env;
  kstream::LocalStore store{&env, dir.path()};
};

// The open shard whose range holds hash, by the given metadata.
inline uint64_t OpenShardFor(const kstream::StreamMeta& meta, uint128 hash) {
  for (const kstream::ShardMeta* s : meta.OpenShards())
    if (s->start_hash <= hash && hash <= s->end_hash) return s->index;
  FAIL("no open shard holds the hash");
  return 0;
}

// A record read back, owning its bytes.
struct Rec {
  uint128 sequence = 0;
  int64_t arrival_ms = 0;
  std::optional<uint128> explicit_hash_key;
  std::string key;
  std::string data;
};

// Reads until the cursor is caught up or at the shard end, in small batches so
// batch boundaries are exercised too. Stores the final state in *final_state.
inline std::vector<Rec> ReadAll(kstream::ShardCursor& cursor,
                                kstream::ShardCursor::State* final_state = nullptr,
                                size_t batch_records = 37) {
  std::vector<Rec> out;
  kstream::RecordBatch batch;
  for (;;) {
    batch.Clear();
    auto st = cursor.Read(batch, batch_records, 1 << 20);
    REQUIRE_MESSAGE(st.ok(), st.status().message());
    for (size_t i = 0; i < batch.size(); ++i) {
      auto r = batch[i];
      REQUIRE(r.sequence.fits_128());  // the local store's numbers
      out.push_back({r.sequence.low128(), r.arrival_ms, r.explicit_hash_key,
                     std::string(r.partition_key), std::string(r.data)});
    }
    if (*st != kstream::ShardCursor::State::kMore) {
      if (final_state) *final_state = *st;
      return out;
    }
  }
}

// Opens a cursor and reads everything it has now.
inline std::vector<Rec> ReadShard(kstream::Backend& store, const std::string& stream,
                                  uint64_t shard, const kstream::StartPosition& start = {},
                                  kstream::ShardCursor::State* final_state = nullptr) {
  auto cursor = store.OpenCursor(stream, shard, start);
  REQUIRE_MESSAGE(cursor.ok(), cursor.status().message());
  return ReadAll(**cursor, final_state);
}

// Puts one record and returns where it went.
inline kstream::PutResult PutOne(kstream::StreamWriter& writer, std::string_view key,
                                 std::string_view data,
                                 std::optional<uint128> explicit_hash_key = std::nullopt) {
  kstream::PutRecord rec{key, data, explicit_hash_key};
  std::vector<kstream::PutResult> results;
  kstream::Status s = writer.Put(std::span<const kstream::PutRecord>(&rec, 1), results);
  REQUIRE_MESSAGE(s.ok(), s.message());
  REQUIRE(results.size() == 1);
  return results[0];
}

inline std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void WriteFileBytes(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  REQUIRE(out.good());
  out.write(bytes.data(), std::streamsize(bytes.size()));
  REQUIRE(out.good());
}

}  // namespace kstest
