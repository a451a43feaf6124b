// main() for fuzz targets built without libFuzzer: runs every file named on
// the command line (or every file of each directory named) through
// LLVMFuzzerTestOneInput once. The regression tests run a target's seed
// corpus this way; with a crash input as an argument it reproduces the crash
// under any compiler.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

int RunFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    fprintf(stderr, "cannot read %s\n", path.c_str());
    return 1;
  }
  const std::string bytes((std::istreambuf_iterator<char>(in)),
                          std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()),
                         bytes.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  int files = 0;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path path(argv[i]);
    if (std::filesystem::is_directory(path)) {
      std::vector<std::filesystem::path> inputs;
      for (const auto& entry : std::filesystem::directory_iterator(path))
        inputs.push_back(entry.path());
      std::sort(inputs.begin(), inputs.end());
      for (const auto& input : inputs) {
        if (RunFile(input) != 0) return 1;
        ++files;
      }
    } else {
      if (RunFile(path) != 0) return 1;
      ++files;
    }
  }
  if (files == 0) {
    fprintf(stderr, "no inputs: give files or directories of them\n");
    return 1;
  }
  printf("%d inputs ran without a crash\n", files);
  return 0;
}
