// The durability floor of this machine: what one synced write costs.
//
// Every durable raftkv write waits for at least one fsync (DESIGN.md,
// "Performance model"), so this is the yardstick the storage and replication
// benchmarks are read against. BM_WriteFdatasync appends `bytes` to a file and
// fdatasyncs it; BM_WriteNoSync does the same without the sync, to show what
// the sync itself costs.

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "testing/temp_dir.h"

namespace raftkv::benchmarks {
namespace {

void AppendLoop(benchmark::State& state, bool sync) {
  absl::StatusOr<testing::TempDir> dir =
      testing::MakeTempDir("fsync_benchmark");
  if (!dir.ok()) {
    state.SkipWithError(std::string(dir.status().message()).c_str());
    return;
  }
  const std::string path = dir->path() + "/log";
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd < 0) {
    state.SkipWithError("cannot open the benchmark file");
    return;
  }
  const std::string block(static_cast<size_t>(state.range(0)), 'x');
  for (auto _ : state) {
    if (write(fd, block.data(), block.size()) !=
        static_cast<ssize_t>(block.size())) {
      state.SkipWithError("write failed");
      break;
    }
    if (sync && fdatasync(fd) != 0) {
      state.SkipWithError("fdatasync failed");
      break;
    }
  }
  close(fd);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          state.range(0));
  state.counters["writes_per_s"] = benchmark::Counter(
      static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_WriteFdatasync(benchmark::State& state) {
  AppendLoop(state, /*sync=*/true);
}
void BM_WriteNoSync(benchmark::State& state) {
  AppendLoop(state, /*sync=*/false);
}

BENCHMARK(BM_WriteFdatasync)->Arg(256)->Arg(4096)->Arg(65536)->UseRealTime();
BENCHMARK(BM_WriteNoSync)->Arg(256)->Arg(4096)->Arg(65536)->UseRealTime();

}  // namespace
}  // namespace raftkv::benchmarks
