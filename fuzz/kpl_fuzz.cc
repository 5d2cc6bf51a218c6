// The KPL aggregated-record decoder on arbitrary bytes, which any producer
// can put into a stream. The input is decoded as a record's data, and again
// wrapped in the magic and a correct MD5 so the protobuf parser sees it too.
// An aggregate that decodes must encode back (Aggregator) to bytes that
// decode to the same user records.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/md5.h>
#include <stdint.h>

#include <string>
#include <vector>

#include "fuzz_util.h"
#include "kpl/aggregate.h"

using namespace kstream;

namespace {

void CheckDecodes(std::string_view data) {
  static kpl::Decoder decoder, again;
  if (decoder.Decode(data) != kpl::Decoder::Result::kAggregate) return;
  const auto& records = decoder.records();
  FUZZ_CHECK(!records.empty());
  kpl::Aggregator aggregator;
  for (const auto& r : records) {
    // Every view lies inside the input.
    FUZZ_CHECK(r.data.data() >= data.data() &&
               r.data.data() + r.data.size() <= data.data() + data.size());
    FUZZ_CHECK(r.partition_key.data() >= data.data() &&
               r.partition_key.data() + r.partition_key.size() <= data.data() + data.size());
    aggregator.Add(r);
  }
  std::string encoded;
  aggregator.AppendTo(encoded);
  FUZZ_CHECK(encoded.size() == aggregator.size());
  FUZZ_CHECK(again.Decode(encoded) == kpl::Decoder::Result::kAggregate);
  FUZZ_CHECK(again.records().size() == records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    FUZZ_CHECK(again.records()[i].partition_key == records[i].partition_key);
    FUZZ_CHECK(again.records()[i].explicit_hash_key == records[i].explicit_hash_key);
    FUZZ_CHECK(again.records()[i].data == records[i].data);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(bytes), size);
  CheckDecodes(input);
  // The input as the protobuf message of an envelope with a correct digest.
  const std::string_view message = kpl::HasMagic(input) && input.size() > kpl::kFixedOverhead
                                       ? input.substr(4, input.size() - kpl::kFixedOverhead)
                                       : input;
  unsigned char digest[16];
  MD5(reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest);
  std::string wrapped(kpl::kMagic);
  wrapped.append(message);
  wrapped.append(reinterpret_cast<const char*>(digest), 16);
  CheckDecodes(wrapped);
  return 0;
}
