// Standard-input framing: whatever the bytes, RecordReader returns exactly
// the delimiter-separated pieces of its input, in order and numbered, with
// pieces over the limit flagged too long instead of returned.
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "fuzz_util.h"
#include "io/record_reader.h"

using namespace kstream;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  // First byte: delimiter and limit.
  const char delimiter = (data[0] & 1) ? '\0' : '\n';
  const size_t max_record = (data[0] & 2) ? 1 + (data[0] >> 2) : (size_t(1) << 20);
  const std::string input(reinterpret_cast<const char*>(data) + 1, size - 1);

  static const int fd = memfd_create("record-reader-fuzz", MFD_CLOEXEC);
  FUZZ_CHECK(fd >= 0);
  FUZZ_CHECK(ftruncate(fd, 0) == 0);
  FUZZ_CHECK(pwrite(fd, input.data(), input.size(), 0) == ssize_t(input.size()));
  FUZZ_CHECK(lseek(fd, 0, SEEK_SET) == 0);

  // The reference split: a final delimiter ends the last piece, it does not
  // start an empty one.
  std::vector<std::string> pieces;
  size_t start = 0;
  while (start < input.size()) {
    size_t end = input.find(delimiter, start);
    if (end == std::string::npos) end = input.size();
    pieces.push_back(input.substr(start, end - start));
    start = end + 1;
  }

  RecordReader reader(fd, delimiter, max_record);
  size_t n = 0;
  RecordReader::Item item;
  for (;;) {
    while (reader.Next(item)) {
      FUZZ_CHECK(n < pieces.size());
      FUZZ_CHECK(item.number == n + 1);
      if (pieces[n].size() > max_record) {
        FUZZ_CHECK(item.too_long);
      } else {
        FUZZ_CHECK(!item.too_long && item.data == pieces[n]);
      }
      ++n;
    }
    auto more = reader.Fill();
    FUZZ_CHECK(more.ok());
    if (!*more) break;
  }
  while (reader.Next(item)) {
    FUZZ_CHECK(n < pieces.size() && item.number == n + 1);
    ++n;
  }
  FUZZ_CHECK(n == pieces.size());
  return 0;
}
