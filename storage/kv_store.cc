#include "storage/kv_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace raftkv::storage {

absl::Status ValidateBatchOrder(absl::Span<const KvBatch> batches,
                                raft::LogIndex applied) {
  for (const KvBatch& batch : batches) {
    if (batch.applied_index <= applied) {
      return absl::FailedPreconditionError(
          absl::StrCat("batch for log index ", batch.applied_index,
                       " is not after the applied index ", applied));
    }
    applied = batch.applied_index;
  }
  return absl::OkStatus();
}

absl::Status ValidateScan(const ScanOptions& options) {
  if (options.limit == 0) {
    return absl::InvalidArgumentError("scan limit must be at least 1");
  }
  if (!options.end.empty() && options.start >= options.end) {
    return absl::InvalidArgumentError("scan start must be below scan end");
  }
  return absl::OkStatus();
}

std::string PrefixEnd(absl::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    if (static_cast<uint8_t>(end.back()) != 0xff) {
      end.back() = static_cast<char>(static_cast<uint8_t>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return end;
}

ScanRange ResolveScan(const ScanOptions& options) {
  ScanRange range;
  range.lower = std::max(options.start, options.prefix);
  const std::string prefix_end = PrefixEnd(options.prefix);
  if (options.end.empty()) {
    range.upper = prefix_end;
  } else if (prefix_end.empty()) {
    range.upper = options.end;
  } else {
    range.upper = std::min(options.end, prefix_end);
  }
  return range;
}

}  // namespace raftkv::storage
