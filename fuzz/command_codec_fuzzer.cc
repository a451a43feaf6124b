// The command codec in the state machine: a committed log entry's data is
// whatever a leader wrote, and a state machine must apply any bytes without
// crashing, identically on every replica. Input: a few entries (normal or
// configuration changes) cut from the bytes, applied to two state machines
// (one batch; one by one), which must end with the same state and results.
#include <cstdlib>

#include "kv/state_machine.h"
#include "storage/memory_kv_store.h"

namespace {

using raftkv::raft::Entry;
using raftkv::raft::EntryType;

std::string Dump(const raftkv::storage::MemoryKvStore& store) {
  raftkv::storage::ScanOptions all;
  all.limit = 1 << 20;
  auto page = store.Scan(all);
  std::string out;
  if (!page.ok()) return "scan failed";
  for (const auto& item : page->items) out += item.key + "=" + item.value + ";";
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<Entry> entries;
  size_t at = 0;
  while (at < size && entries.size() < 16) {
    const uint8_t header = data[at++];
    const size_t length = std::min<size_t>(header >> 1, size - at);
    Entry entry;
    entry.term = 1;
    entry.index = entries.size() + 1;
    entry.type = (header & 1) ? EntryType::kConfChange : EntryType::kNormal;
    entry.data.assign(reinterpret_cast<const char*>(data + at), length);
    at += length;
    entries.push_back(std::move(entry));
  }
  if (entries.empty()) return 0;

  raftkv::storage::MemoryKvStore batch_store, single_store;
  raftkv::kv::StateMachine batch(&batch_store, {});
  raftkv::kv::StateMachine single(&single_store, {});
  auto together = batch.ApplyEntries(entries);
  std::vector<raftkv::kv::Outcome> one_by_one;
  bool failed = false;
  for (const Entry& entry : entries) {
    auto outcome = single.Apply(entry);
    if (!outcome.ok()) {
      failed = true;
      break;
    }
    one_by_one.push_back(*outcome);
  }
  // Every replica must decide alike: both succeed or both fail, and agree.
  if (together.ok() == failed) abort();
  if (!together.ok()) return 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    if ((*together)[i].code != one_by_one[i].code) abort();
  }
  if (Dump(batch_store) != Dump(single_store)) abort();
  return 0;
}
