// EntryCache: the newest entries of a Raft log kept in memory, bounded in
// bytes, so that the leader's hot path (sending what it just appended) reads
// no file. Shared by the durable log stores.
//
// Thread safety: none; its owner guards it. Invariant: it holds a contiguous
// run of entries, [first(), first() + size()), whose ByteSize() sum stays
// within the limit, except that it always keeps the newest entry.
#ifndef RAFTKV_STORAGE_ENTRY_CACHE_H_
#define RAFTKV_STORAGE_ENTRY_CACHE_H_

#include <cstdint>
#include <deque>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "raft/types.h"

namespace raftkv::storage {

class EntryCache {
 public:
  explicit EntryCache(uint64_t max_bytes) : max_bytes_(max_bytes) {}

  // Appends entries that follow the log, replacing any cached entries at
  // entries[0].index and after (a truncated suffix); drops the oldest past
  // the limit. Entries that do not follow what is cached replace it all.
  void Append(absl::Span<const raft::Entry> entries);
  void DropThrough(raft::LogIndex index);
  void Clear();

  // Whether entry `index` is cached, and the entry.
  bool Holds(raft::LogIndex index) const {
    return !entries_.empty() && index >= entries_.front().index &&
           index <= entries_.back().index;
  }
  const raft::Entry& At(raft::LogIndex index) const {
    return entries_[index - entries_.front().index];
  }

  // Entries [lo, hi), from the cache where it holds them and from
  // `read(index)` (an absl::StatusOr<raft::Entry>) where it does not, stopping
  // before their ByteSize() sum would pass max_bytes, but with at least one.
  template <typename Read>
  absl::StatusOr<std::vector<raft::Entry>> Collect(raft::LogIndex lo,
                                                   raft::LogIndex hi,
                                                   uint64_t max_bytes,
                                                   Read read) const {
    std::vector<raft::Entry> out;
    uint64_t bytes = 0;
    for (raft::LogIndex i = lo; i < hi; ++i) {
      absl::StatusOr<raft::Entry> entry =
          Holds(i) ? absl::StatusOr<raft::Entry>(At(i)) : read(i);
      if (!entry.ok()) return entry.status();
      bytes += entry->ByteSize();
      if (!out.empty() && bytes > max_bytes) break;
      out.push_back(std::move(*entry));
    }
    return out;
  }

 private:
  const uint64_t max_bytes_;
  std::deque<raft::Entry> entries_;
  uint64_t bytes_ = 0;
};

}  // namespace raftkv::storage

#endif  // RAFTKV_STORAGE_ENTRY_CACHE_H_
