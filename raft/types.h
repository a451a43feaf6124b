// Vocabulary types of the consensus core: node identities, terms and log indexes.
//
// They are plain integers so that the core, storage and the wire format agree on their
// representation without conversions. Thread safety: values only. Invariants: node ids are
// positive (kNoNode, zero, means "nobody", e.g. no vote cast, no known leader); terms start
// at zero and only grow (Raft paper §5.1); log indexes start at 1, and index 0 with term 0 is
// the empty log's sentinel that every AppendEntries consistency check (§5.3) can match.
#ifndef RAFTKV_RAFT_TYPES_H_
#define RAFTKV_RAFT_TYPES_H_

#include <cstdint>

namespace raftkv::raft {

// Identifies one member of the cluster. Stable for the life of the member.
using NodeId = uint64_t;
// A Raft term: a logical clock that orders leaders (Raft paper §5.1).
using Term = uint64_t;
// A position in the replicated log; the first entry has index 1.
using LogIndex = uint64_t;

inline constexpr NodeId kNoNode = 0;
inline constexpr Term kNoTerm = 0;
inline constexpr LogIndex kNoIndex = 0;

}  // namespace raftkv::raft

#endif  // RAFTKV_RAFT_TYPES_H_
