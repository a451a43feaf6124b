#include "raft/log_storage.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"

namespace raftkv::raft {
namespace {

constexpr char kErrorKind[] = "type.raftkv.dev/log-storage-error";

absl::Status WithKind(absl::Status status, absl::string_view kind) {
  status.SetPayload(kErrorKind, absl::Cord(kind));
  return status;
}

bool HasKind(const absl::Status& status, absl::string_view kind) {
  absl::optional<absl::Cord> payload = status.GetPayload(kErrorKind);
  return payload.has_value() && *payload == kind;
}

}  // namespace

absl::Status CompactedError(LogIndex index, LogIndex first_index) {
  return WithKind(absl::OutOfRangeError(absl::StrCat(
                      "log index ", index, " is compacted; the log starts at ",
                      first_index)),
                  "compacted");
}

absl::Status EntryUnavailableError(LogIndex index, LogIndex last_index) {
  return WithKind(absl::OutOfRangeError(absl::StrCat(
                      "log index ", index, " is unavailable; the log ends at ",
                      last_index)),
                  "unavailable");
}

absl::Status SnapshotOutOfDateError(LogIndex index, LogIndex current_index) {
  return WithKind(
      absl::FailedPreconditionError(absl::StrCat(
          "snapshot at index ", index,
          " is out of date; storage already holds a snapshot at index ",
          current_index)),
      "snapshot-out-of-date");
}

bool IsCompacted(const absl::Status& status) {
  return HasKind(status, "compacted");
}
bool IsEntryUnavailable(const absl::Status& status) {
  return HasKind(status, "unavailable");
}
bool IsSnapshotOutOfDate(const absl::Status& status) {
  return HasKind(status, "snapshot-out-of-date");
}

absl::Status CheckEntriesRange(LogIndex lo, LogIndex hi, LogIndex first_index,
                               LogIndex last_index) {
  if (lo < first_index) return CompactedError(lo, first_index);
  if (hi > last_index + 1) return EntryUnavailableError(hi - 1, last_index);
  return absl::OkStatus();
}

absl::Status CheckTermIndex(LogIndex index, LogIndex first_index,
                            LogIndex last_index) {
  if (index + 1 < first_index) return CompactedError(index, first_index);
  if (index > last_index) return EntryUnavailableError(index, last_index);
  return absl::OkStatus();
}

absl::Status ValidateSave(absl::Span<const Entry> entries, LogIndex first_index,
                          LogIndex last_index, Term prev_term) {
  if (entries.empty()) return absl::OkStatus();
  if (entries[0].index < first_index)
    return CompactedError(entries[0].index, first_index);
  if (entries[0].index > last_index + 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("appending at index ", entries[0].index,
                     " would leave a gap after the last index ", last_index));
  }
  if (entries[0].term < prev_term) {
    return absl::InvalidArgumentError(
        absl::StrCat("entry ", entries[0].index, " has term ", entries[0].term,
                     ", below the previous entry's term ", prev_term));
  }
  for (size_t i = 1; i < entries.size(); ++i) {
    if (entries[i].index != entries[i - 1].index + 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("entries are not contiguous: index ", entries[i].index,
                       " follows ", entries[i - 1].index));
    }
    if (entries[i].term < entries[i - 1].term) {
      return absl::InvalidArgumentError(
          absl::StrCat("entry terms decrease at index ", entries[i].index, ": ",
                       entries[i].term, " after ", entries[i - 1].term));
    }
  }
  return absl::OkStatus();
}

}  // namespace raftkv::raft
