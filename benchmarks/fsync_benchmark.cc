// The durability floor of this machine: what one synced write costs.
//
// Every durable raftkv write waits for at least one fsync (DESIGN.md,
// "Performance model"), so this is the yardstick the storage and replication
// benchmarks are read against. BM_WriteFdatasync appends `bytes` to a file and
// fdatasyncs it; BM_PreallocatedFdatasync writes the same into a file whose
// space and size were reserved first (fallocate), as the Raft log's segments
// are, so the sync flushes data and not the file's new size;
// BM_WriteNoSync appends without the sync, to show what the sync itself costs.

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "testing/temp_dir.h"

namespace raftkv::benchmarks {
namespace {

void AppendLoop(benchmark::State& state, bool sync, bool preallocated) {
  absl::StatusOr<testing::TempDir> dir =
      testing::MakeTempDir("fsync_benchmark");
  if (!dir.ok()) {
    state.SkipWithError(std::string(dir.status().message()).c_str());
    return;
  }
  const std::string path = dir->path() + "/log";
  int fd = open(path.c_str(),
                O_WRONLY | O_CREAT | (preallocated ? 0 : O_APPEND), 0644);
  if (fd < 0) {
    state.SkipWithError("cannot open the benchmark file");
    return;
  }
  if (preallocated &&
      (fallocate(fd, 0, 0, off_t{512} << 20) != 0 || fsync(fd) != 0)) {
    close(fd);
    state.SkipWithError("cannot preallocate 512 MiB for the benchmark file");
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
  AppendLoop(state, /*sync=*/true, /*preallocated=*/false);
}
void BM_PreallocatedFdatasync(benchmark::State& state) {
  AppendLoop(state, /*sync=*/true, /*preallocated=*/true);
}
void BM_WriteNoSync(benchmark::State& state) {
  AppendLoop(state, /*sync=*/false, /*preallocated=*/false);
}

BENCHMARK(BM_WriteFdatasync)->Arg(256)->Arg(4096)->Arg(65536)->UseRealTime();
BENCHMARK(BM_PreallocatedFdatasync)
    ->Arg(256)
    ->Arg(4096)
    ->Arg(65536)
    ->UseRealTime();
BENCHMARK(BM_WriteNoSync)->Arg(256)->Arg(4096)->Arg(65536)->UseRealTime();

}  // namespace
}  // namespace raftkv::benchmarks
