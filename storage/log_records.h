// The encodings of the Raft log's small records, shared by the log stores: the
// hard state (term, vote, commit) and the snapshot metadata (index, term and
// the configuration at that point).
//
// Fixed-width big-endian fields; a configuration is three counted id lists.
// Thread safety: pure functions. Invariant: every Decode* consumes exactly its
// record from the front of its input and returns nullopt, consuming nothing
// useful, on input too short or a count larger than the input could hold.
#ifndef RAFTKV_STORAGE_LOG_RECORDS_H_
#define RAFTKV_STORAGE_LOG_RECORDS_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "raft/types.h"

namespace raftkv::storage {

void EncodeHardState(const raft::HardState& state, std::string* out);
std::optional<raft::HardState> DecodeHardState(absl::string_view* in);

void EncodeSnapshotMetadata(const raft::SnapshotMetadata& snapshot,
                            std::string* out);
std::optional<raft::SnapshotMetadata> DecodeSnapshotMetadata(
    absl::string_view* in);

}  // namespace raftkv::storage

#endif  // RAFTKV_STORAGE_LOG_RECORDS_H_
