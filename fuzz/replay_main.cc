// Runs a fuzz target over files (a seed corpus and the regression inputs of
// crashes found earlier) without libFuzzer, so every normal build tests them.
//
//   <target>_replay FILE_OR_DIR...
#include <stdint.h>
#include <stdio.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

static int RunFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    fprintf(stderr, "cannot read %s\n", path.c_str());
    return 1;
  }
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  return 0;
}

int main(int argc, char** argv) {
  size_t inputs = 0;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path arg(argv[i]);
    if (std::filesystem::is_directory(arg)) {
      for (const auto& entry : std::filesystem::recursive_directory_iterator(arg)) {
        if (!entry.is_regular_file()) continue;
        if (RunFile(entry.path()) != 0) return 1;
        ++inputs;
      }
    } else {
      if (RunFile(arg) != 0) return 1;
      ++inputs;
    }
  }
  if (inputs == 0) {
    fprintf(stderr, "no inputs: a replay that runs nothing tests nothing\n");
    return 1;
  }
  printf("%zu inputs ran without an invariant failure\n", inputs);
  return 0;
}
