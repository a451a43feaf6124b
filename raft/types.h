// Vocabulary types of the consensus core: node identities, terms, log indexes,
// log entries, the hard state, the member configuration and snapshot metadata.
//
// Ids, terms and indexes are plain integers so that the core, storage and the
// wire format agree on their representation without conversions. Thread safety:
// values only, no shared state. Invariants: node ids are positive (kNoNode,
// zero, means "nobody", e.g. no vote cast, no known leader); terms start at
// zero and only grow (Raft paper §5.1); log indexes start at 1, and index 0
// with term 0 is the empty log's sentinel that every AppendEntries consistency
// check (§5.3) can match.
#ifndef RAFTKV_RAFT_TYPES_H_
#define RAFTKV_RAFT_TYPES_H_

#include <cstdint>
#include <string>
#include <vector>

namespace raftkv::raft {

// Identifies one member of the cluster. Stable for the life of the member.
using NodeId = uint64_t;
// A Raft term: a logical clock that orders leaders (Raft paper §5.1).
using Term = uint64_t;
// A position in the replicated log; the first entry has index 1.
using LogIndex = uint64_t;

inline constexpr NodeId kNoNode = 0;
inline constexpr Term kNoTerm = 0;
// The highest term a message may carry: an election adds one to the term (a
// pre-vote asks for one more), which must not wrap around.
inline constexpr Term kMaxTerm = (uint64_t{1} << 62);
inline constexpr LogIndex kNoIndex = 0;

enum class EntryType : uint8_t {
  // A state machine command; an empty one is the no-op a new leader appends
  // (§8).
  kNormal = 0,
  // A membership change; its data is the encoded change.
  kConfChange = 1,
};

// One record of the replicated log.
struct Entry {
  Term term = kNoTerm;
  LogIndex index = kNoIndex;
  EntryType type = EntryType::kNormal;
  std::string data;

  // The bytes this entry accounts for in size-limited reads and messages.
  uint64_t ByteSize() const { return data.size() + 17; }
  friend bool operator==(const Entry&, const Entry&) = default;
};

// What a node must persist before answering any RPC (Raft paper, Figure 2:
// currentTerm, votedFor; plus the commit index so a restart need not rediscover
// it).
struct HardState {
  Term term = kNoTerm;
  NodeId vote = kNoNode;
  LogIndex commit = kNoIndex;

  bool IsEmpty() const {
    return term == kNoTerm && vote == kNoNode && commit == kNoIndex;
  }
  friend bool operator==(const HardState&, const HardState&) = default;
};

// The members of the cluster: voters decide elections and commitment; learners
// only receive the log. While a joint-consensus change is in progress (thesis
// §4.3), `voters_outgoing` holds the old voters, and every decision needs a
// majority of `voters` AND a majority of `voters_outgoing`; otherwise it is
// empty. Each list is sorted and without duplicates; a learner is never a
// voter of either half.
struct ConfState {
  std::vector<NodeId> voters;
  std::vector<NodeId> learners;
  std::vector<NodeId> voters_outgoing;

  bool joint() const { return !voters_outgoing.empty(); }

  friend bool operator==(const ConfState&, const ConfState&) = default;
};

// Describes the state a snapshot captures: everything up to and including
// `index`, whose entry had `term`, under the configuration `conf_state`.
struct SnapshotMetadata {
  LogIndex index = kNoIndex;
  Term term = kNoTerm;
  ConfState conf_state;

  friend bool operator==(const SnapshotMetadata&,
                         const SnapshotMetadata&) = default;
};

}  // namespace raftkv::raft

#endif  // RAFTKV_RAFT_TYPES_H_
