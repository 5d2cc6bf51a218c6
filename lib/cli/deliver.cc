#include "cli/deliver.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <mutex>

#include "cli/get.h"
#include "consume/group_worker.h"
#include "core/stop_flag.h"
#include "core/text.h"
#include "deliver/deliverer.h"

namespace kstream::cli {

void AddDeliverOptions(CLI::App& app, DeliverCommand& c) {
  app.add_option("stream", c.stream, "Stream to deliver")->required();
  app.add_option("--to", c.to, "Target directory (must exist)")->type_name("DIR")->required();
  app.add_option("--name", c.name, "Consumer group (default: derived from the target directory)")
      ->type_name("NAME");
  app.add_option("--buffer-size", c.buffer_size,
                 "Write a shard's file once this much is buffered (uncompressed)")
      ->type_name("SIZE")
      ->capture_default_str();
  app.add_option("--buffer-interval", c.buffer_interval,
                 "... or once its oldest buffered record waited this long")
      ->type_name("DUR")
      ->capture_default_str();
  app.add_option("-c,--compress", c.compress, "none, gzip, zstd or lz4")
      ->type_name("CODEC")
      ->capture_default_str();
  app.add_option("-l,--level", c.level,
                 "Compression level (gzip 1-9, default 6; zstd 1-22, default 3; lz4 1-12, "
                 "default 1)")
      ->type_name("N");
  app.add_option("-d,--delimiter", c.delimiter,
                 "Written after each record (escapes \\n \\t \\r \\0 \\\\)")
      ->type_name("STR")
      ->capture_default_str();
  app.add_flag("--no-delimiter", c.no_delimiter, "Concatenate records as they are, like Firehose");
  app.add_flag("--json", c.json, "Write each record as a Kinesis-style JSON envelope line");
  app.add_option("-p,--prefix", c.prefix,
                 "Path template under DIR: !{timestamp:yyyy/MM/dd/HH} and !{field:PATH} "
                 "(default: !{timestamp:yyyy/MM/dd/HH}/)")
      ->type_name("TEMPLATE");
  app.add_option("--max-partitions", c.max_partitions,
                 "Active prefixes at most; records for one more go under "
                 "errors/activePartitionExceeded/ (Firehose's limit)")
      ->type_name("N")
      ->capture_default_str();
  app.add_flag("--until-caught-up", c.until_caught_up,
               "Deliver what the stream holds now, write the files, and exit");
  app.add_flag("--stats", c.stats, "Print records, bytes in and out, ratio and files at exit");
  app.add_option("-i,--iterator", c.iterator,
                 "Where a new group starts: TRIM_HORIZON, LATEST or AT_TIMESTAMP")
      ->type_name("TYPE")
      ->capture_default_str();
  app.add_option("--timestamp", c.timestamp, "For AT_TIMESTAMP")->type_name("TIME");
  app.add_option("--worker", c.worker, "Worker id in the group (default: hostname:pid)")
      ->type_name("ID");
  app.add_option("--lease-timeout", c.lease_timeout,
                 "A lease not renewed for this long may be taken by another instance")
      ->type_name("DUR")
      ->capture_default_str();
}

Result<std::string> ParseDelimiter(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out += text[i];
      continue;
    }
    if (++i == text.size()) return Status::InvalidArgument("--delimiter ends with a lone '\\'");
    switch (text[i]) {
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case '0':
        out += '\0';
        break;
      case '\\':
        out += '\\';
        break;
      default:
        return Status::InvalidArgument(std::string("--delimiter: unknown escape '\\") + text[i] +
                                       "'");
    }
  }
  return out;
}

namespace {

struct Checked {
  DeliverOptions deliver;
  GroupOptions group;
};

Status Check(const CLI::App& app, const DeliverCommand& c, Checked& k) {
  KS_RETURN_IF_ERROR(ValidateStreamName(c.stream));
  DeliverOptions& d = k.deliver;
  d.stream = c.stream;
  d.dir = c.to;
  while (d.dir.size() > 1 && d.dir.back() == '/') d.dir.pop_back();
  d.group = c.name.empty() ? DefaultDeliverGroup(c.to) : c.name;
  KS_RETURN_IF_ERROR(ValidateGroupName(d.group).Prefixed("--name"));
  auto size = ParseSize(c.buffer_size);
  if (!size.ok()) return size.status().Prefixed("--buffer-size");
  if (*size == 0) return Status::InvalidArgument("--buffer-size must be at least 1 byte");
  d.buffer_bytes = *size;
  auto interval = ParseDuration(c.buffer_interval);
  if (!interval.ok()) return interval.status().Prefixed("--buffer-interval");
  if (*interval < 1) return Status::InvalidArgument("--buffer-interval must be at least 1ms");
  d.buffer_interval_ms = *interval;
  KS_ASSIGN_OR_RETURN(d.compression, ParseCompression(c.compress));
  const LevelRange levels = CompressionLevels(d.compression);
  d.level = c.level < 0 ? levels.fallback : c.level;
  if (c.level >= 0 && d.compression == Compression::kNone)
    return Status::InvalidArgument("--level needs --compress gzip, zstd or lz4");
  if (d.compression != Compression::kNone && (d.level < levels.min || d.level > levels.max))
    return Status::InvalidArgument("--level for " + std::string(CompressionName(d.compression)) +
                                   " must be " + std::to_string(levels.min) + " to " +
                                   std::to_string(levels.max));
  const bool delimiter_given = app.get_option("--delimiter")->count() > 0;
  if (c.json && (delimiter_given || c.no_delimiter))
    return Status::InvalidArgument("--json writes one envelope per line: no --delimiter");
  if (delimiter_given && c.no_delimiter)
    return Status::InvalidArgument("--delimiter and --no-delimiter exclude each other");
  d.format = c.json ? DeliverFormat::kJson : DeliverFormat::kDelimited;
  if (c.no_delimiter) {
    d.delimiter.clear();
  } else {
    KS_ASSIGN_OR_RETURN(d.delimiter, ParseDelimiter(c.delimiter));
  }
  KS_ASSIGN_OR_RETURN(d.prefix,
                      PrefixTemplate::Parse(c.prefix.empty() ? kDefaultPrefix : c.prefix));
  if (c.max_partitions < 1) return Status::InvalidArgument("--max-partitions must be at least 1");
  d.max_partitions = size_t(c.max_partitions);

  GroupOptions& g = k.group;
  g.group = d.group;
  g.worker = c.worker.empty() ? DefaultWorkerId() : c.worker;
  g.follow = !c.until_caught_up;
  KS_RETURN_IF_ERROR(ParseStart(c.iterator, "", c.timestamp, g.start));
  KS_RETURN_IF_ERROR(InitialCheckpoint(g.start).status().Prefixed("--iterator"));
  auto lease = ParseDuration(c.lease_timeout);
  if (!lease.ok()) return lease.status().Prefixed("--lease-timeout");
  if (*lease < 300) return Status::InvalidArgument("--lease-timeout must be at least 300ms");
  g.lease_timeout_ms = *lease;
  return Status::Ok();
}

std::string Megabytes(uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f MB", double(bytes) / 1e6);
  return buf;
}

std::string Ratio(const DeliverStats& s) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f",
                s.bytes_out ? double(s.bytes_in) / double(s.bytes_out) : 0.0);
  return buf;
}

// The live line on a terminal: records, bytes in/out, ratio and lag.
class DeliverProgress {
 public:
  DeliverProgress(std::string tool, bool quiet)
      : tool_(std::move(tool)), enabled_(!quiet && isatty(STDERR_FILENO)) {}
  ~DeliverProgress() { Finish(); }
  void Update(const DeliverStats& s, int64_t now_ms) {
    if (!enabled_) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(500)) return;
    last_ = now;
    const double lag = s.newest_arrival_ms ? double(now_ms - s.newest_arrival_ms) / 1000 : 0;
    std::fprintf(stderr, "\r%s: %llu records  %s in  %s out  ratio %s  %llu files  lag %.1f s   ",
                 tool_.c_str(), static_cast<unsigned long long>(s.records),
                 Megabytes(s.bytes_in).c_str(), Megabytes(s.bytes_out).c_str(), Ratio(s).c_str(),
                 static_cast<unsigned long long>(s.files), std::max(0.0, lag));
    shown_ = true;
  }
  void Finish() {
    if (shown_) std::fputc('\n', stderr);
    shown_ = false;
  }

 private:
  std::string tool_;
  bool enabled_, shown_ = false;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace

int RunDeliver(const CLI::App& app, const DeliverCommand& c, const CommonOptions& common,
               const std::string& tool, const StopFlag* stop) {
  Checked k;
  if (Status s = Check(app, c, k); !s.ok()) return UsageError(tool, s.message());
  auto backend = OpenBackend(common);
  if (!backend.ok()) return Fail(tool, backend.status());
  if (auto meta = (*backend)->ListShards(c.stream); !meta.ok()) return Fail(tool, meta.status());
  auto group_store = OpenGroupStore(common, **backend);
  if (!group_store.ok()) return Fail(tool, group_store.status());
  GroupStore& groups = **group_store;
  auto table = groups.OpenLeaseTable(c.stream, k.group.group);
  if (!table.ok()) return Fail(tool, table.status());
  // The flushing threads read the lease table through their own handle.
  auto owner_table = groups.OpenLeaseTable(c.stream, k.group.group);
  if (!owner_table.ok()) return Fail(tool, owner_table.status());
  std::mutex owner_mu;
  k.deliver.owns = [&, worker = k.group.worker](uint64_t shard) -> Result<bool> {
    std::lock_guard lock(owner_mu);
    KS_ASSIGN_OR_RETURN(std::vector<Lease> leases, (*owner_table)->List());
    for (const Lease& l : leases)
      if (l.shard == shard) return l.owner == worker;
    return false;
  };
  auto deliverer = Deliverer::Open(std::move(k.deliver), Env::Default());
  if (!deliverer.ok()) return Fail(tool, deliverer.status());
  if (common.verbose) {
    const std::string worker = k.group.worker;
    k.group.log = [&tool, worker](const std::string& line) {
      std::cerr << tool << ": [" << worker << "] " << line << "\n";
    };
  }
  DeliverProgress progress(tool, common.quiet);
  Env* env = Env::Default();
  k.group.on_progress = [&](const GroupStats&) {
    progress.Update((*deliverer)->stats(), env->NowMillis());
  };
  GroupStats group_stats;
  const auto started = std::chrono::steady_clock::now();
  Status s =
      RunGroupWorker(**backend, **table, env, c.stream, k.group, **deliverer, group_stats, stop);
  progress.Finish();
  const DeliverStats st = (*deliverer)->stats();
  if (group_stats.corrupt > 0 && !common.quiet)
    std::cerr << tool << ": warning: skipped " << group_stats.corrupt
              << " damaged record(s) (CRC mismatch)\n";
  if (c.stats || common.verbose) {
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::cerr << tool << ": " << st.records << " records (" << st.error_records
              << " under errors/), " << st.bytes_in << " bytes in, " << st.bytes_out
              << " bytes out, ratio " << Ratio(st) << ", " << st.files << " files in " << secs
              << " s\n";
  }
  if (!s.ok()) return Fail(tool, s);
  return kExitOk;
}

}  // namespace kstream::cli
