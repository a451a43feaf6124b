#include "storage/entry_cache.h"

namespace raftkv::storage {

void EntryCache::Append(absl::Span<const raft::Entry> entries) {
  if (entries.empty()) return;
  while (!entries_.empty() && entries_.back().index >= entries[0].index) {
    bytes_ -= entries_.back().ByteSize();
    entries_.pop_back();
  }
  if (!entries_.empty() && entries_.back().index + 1 != entries[0].index)
    Clear();
  for (const raft::Entry& entry : entries) {
    entries_.push_back(entry);
    bytes_ += entry.ByteSize();
  }
  while (entries_.size() > 1 && bytes_ > max_bytes_) {
    bytes_ -= entries_.front().ByteSize();
    entries_.pop_front();
  }
}

void EntryCache::DropThrough(raft::LogIndex index) {
  while (!entries_.empty() && entries_.front().index <= index) {
    bytes_ -= entries_.front().ByteSize();
    entries_.pop_front();
  }
}

void EntryCache::Clear() {
  entries_.clear();
  bytes_ = 0;
}

}  // namespace raftkv::storage
