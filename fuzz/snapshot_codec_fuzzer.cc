// The KV snapshot codec (storage/kv_snapshot_codec.h) and snapshot chunks: a
// stream from a leader (or a backup file) cut into chunks anywhere is
// restored into a store, or refused whole. Restoring what a store encodes
// must give the same state back.
#include <cstdlib>

#include "storage/kv_snapshot_codec.h"
#include "storage/memory_kv_store.h"

namespace {

using raftkv::storage::MemoryKvStore;

std::string Dump(const MemoryKvStore& store) {
  raftkv::storage::ScanOptions all;
  all.limit = 1 << 20;
  auto page = store.Scan(all);
  std::string out = std::to_string(store.AppliedIndex()) + ":";
  if (!page.ok()) return "scan failed";
  for (const auto& item : page->items) out += item.key + "=" + item.value + ";";
  return out;
}

// Re-encodes `store` and restores it into a fresh store: the same state.
void CheckReencode(const MemoryKvStore& store) {
  auto reader = store.ReadSnapshot();
  if (!reader.ok()) abort();
  MemoryKvStore again;
  absl::Status restored =
      again.RestoreSnapshot([&]() { return (*reader)->NextChunk(7); });
  if (!restored.ok() || Dump(again) != Dump(store)) abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  // The first byte picks the chunk size: records straddle chunk boundaries.
  const size_t chunk = 1 + data[0] % 64;
  const std::string stream(reinterpret_cast<const char*>(data + 1), size - 1);

  raftkv::storage::SnapshotDecoder decoder;
  size_t records = 0;
  for (size_t at = 0; at < stream.size(); at += chunk) {
    absl::Status fed =
        decoder.Feed(absl::string_view(stream).substr(at, chunk),
                     [&](const raftkv::storage::SnapshotRecord&) {
                       ++records;
                       return absl::OkStatus();
                     });
    if (!fed.ok()) break;
  }

  MemoryKvStore store;
  size_t at = 0;
  absl::Status restored = store.RestoreSnapshot(
      [&]() -> absl::StatusOr<std::optional<std::string>> {
        if (at >= stream.size()) return std::nullopt;
        std::string next = stream.substr(at, chunk);
        at += chunk;
        return next;
      });
  if (restored.ok()) CheckReencode(store);
  return 0;
}
