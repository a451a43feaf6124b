#include "benchmarks/cluster_bench_main.h"

#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <cstdio>
#include <cstring>
#include <filesystem>

namespace raftkv::benchmarks {
namespace {

std::vector<std::string>& Dirs() {
  static auto* dirs = new std::vector<std::string>();
  return *dirs;
}

}  // namespace

std::string NewBenchDir(const std::string& prefix) {
  const char* tmp = getenv("TEST_TMPDIR");
  if (tmp == nullptr) tmp = getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr ? tmp : "/tmp") + "/" + prefix + ".XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) return "";
  Dirs().push_back(pattern);
  return pattern;
}

int RunClusterBenchmarks(int argc, char** argv, const char* program,
                         std::string* kvnode,
                         const std::vector<BenchFlag>& flags,
                         const std::function<void()>& before,
                         const std::function<void()>& after) {
  std::vector<BenchFlag> all = flags;
  all.push_back({"kvnode", [kvnode](const char* value) { *kvnode = value; }});
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    bool taken = false;
    for (const BenchFlag& flag : all) {
      const std::string prefix = "--" + flag.name + "=";
      if (strncmp(argv[i], prefix.c_str(), prefix.size()) == 0) {
        flag.set(argv[i] + prefix.size());
        taken = true;
        break;
      }
    }
    if (!taken) argv[kept++] = argv[i];
  }
  argc = kept;
  if (kvnode->empty()) {
    fprintf(stderr, "%s: --kvnode=PATH is required (bazel run passes it)\n",
            program);
    return 2;
  }
  if (before) before();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (after) after();
  std::error_code ignored;
  for (const std::string& dir : Dirs())
    std::filesystem::remove_all(dir, ignored);
  return 0;
}

}  // namespace raftkv::benchmarks
