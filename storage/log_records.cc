#include "storage/log_records.h"

#include <vector>

#include "storage/codec.h"

namespace raftkv::storage {
namespace {

void PutIdList(std::string* out, const std::vector<raft::NodeId>& ids) {
  PutBigEndian64(out, ids.size());
  for (raft::NodeId id : ids) PutBigEndian64(out, id);
}

std::optional<std::vector<raft::NodeId>> GetIdList(absl::string_view* in) {
  std::optional<uint64_t> count = GetBigEndian64(in);
  if (!count.has_value() || *count > in->size() / 8) return std::nullopt;
  std::vector<raft::NodeId> ids;
  ids.reserve(*count);
  for (uint64_t i = 0; i < *count; ++i) ids.push_back(*GetBigEndian64(in));
  return ids;
}

}  // namespace

void EncodeHardState(const raft::HardState& state, std::string* out) {
  PutBigEndian64(out, state.term);
  PutBigEndian64(out, state.vote);
  PutBigEndian64(out, state.commit);
}

std::optional<raft::HardState> DecodeHardState(absl::string_view* in) {
  std::optional<uint64_t> term = GetBigEndian64(in), vote = GetBigEndian64(in),
                          commit = GetBigEndian64(in);
  if (!commit.has_value()) return std::nullopt;
  return raft::HardState{*term, *vote, *commit};
}

void EncodeSnapshotMetadata(const raft::SnapshotMetadata& snapshot,
                            std::string* out) {
  PutBigEndian64(out, snapshot.index);
  PutBigEndian64(out, snapshot.term);
  PutIdList(out, snapshot.conf_state.voters);
  PutIdList(out, snapshot.conf_state.learners);
  PutIdList(out, snapshot.conf_state.voters_outgoing);
}

std::optional<raft::SnapshotMetadata> DecodeSnapshotMetadata(
    absl::string_view* in) {
  std::optional<uint64_t> index = GetBigEndian64(in), term = GetBigEndian64(in);
  if (!term.has_value()) return std::nullopt;
  std::optional<std::vector<raft::NodeId>> voters = GetIdList(in);
  if (!voters.has_value()) return std::nullopt;
  std::optional<std::vector<raft::NodeId>> learners = GetIdList(in);
  if (!learners.has_value()) return std::nullopt;
  std::optional<std::vector<raft::NodeId>> outgoing = GetIdList(in);
  if (!outgoing.has_value()) return std::nullopt;
  return raft::SnapshotMetadata{
      *index,
      *term,
      {std::move(*voters), std::move(*learners), std::move(*outgoing)}};
}

}  // namespace raftkv::storage
