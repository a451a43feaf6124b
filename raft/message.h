// Message: what Raft peers say to each other, and the Ready batch the core
// hands its driver.
//
// The core never sends anything itself: it queues Messages and the driver
// delivers them. Field use per type (unused fields stay at their defaults):
//   kAppend            index/log_term: the entry before `entries` (§5.3);
//   commit kAppendResponse    index: last matching index, or on reject the
//   rejected prev index;
//                      reject_hint/hint_term: where the follower suggests to
//                      continue and its term there (fast backtracking)
//   kVote, kPreVote    index/log_term: candidate's last entry (§5.4.1);
//   transfer: campaign
//                      started by leadership transfer (overrides the leader
//                      lease)
//   k*VoteResponse     reject
//   kHeartbeat         commit; context: the ReadIndex round it confirms
//   kHeartbeatResponse context echoed
//   kSnapshot          snapshot; snapshot_data: opaque, filled and consumed by
//   the driver kTimeoutNow        (leadership transfer: campaign now)
//   kReadIndex         a follower asks the leader for a read index (thesis
//                      §6.4); context: the follower's read
//   kReadIndexResponse index: the read index, once the leader confirmed it
//                      still leads; context echoed
// Thread safety: plain values. Invariant: from/to are cluster members; term is
// the sender's current term (pre-vote messages carry the term the sender would
// move to).
#ifndef RAFTKV_RAFT_MESSAGE_H_
#define RAFTKV_RAFT_MESSAGE_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "raft/types.h"

namespace raftkv::raft {

enum class MessageType : uint8_t {
  kAppend,
  kAppendResponse,
  kVote,
  kVoteResponse,
  kPreVote,
  kPreVoteResponse,
  kHeartbeat,
  kHeartbeatResponse,
  kSnapshot,
  kTimeoutNow,
  kReadIndex,
  kReadIndexResponse,
};
// The last message type (the wire's range check).
constexpr MessageType kLastMessageType = MessageType::kReadIndexResponse;

const char* MessageTypeName(MessageType type);

struct Message {
  MessageType type = MessageType::kAppend;
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  Term term = kNoTerm;
  Term log_term = kNoTerm;
  LogIndex index = kNoIndex;
  std::vector<Entry> entries;
  LogIndex commit = kNoIndex;
  bool reject = false;
  LogIndex reject_hint = kNoIndex;
  Term hint_term = kNoTerm;
  bool transfer = false;
  std::string context;
  SnapshotMetadata snapshot;
  std::string snapshot_data;
};

// A snapshot travels from leader to follower as a stream of chunks with
// offsets and a final "done" chunk, as the Raft paper's InstallSnapshot RPC
// does (§7, Figure 13). The core never sees chunks: the driver streams the
// state machine, stages it on the follower, and steps the final chunk's
// kSnapshot message into the follower's core once everything is staged.
// `transfer` names one stream; the receiver acknowledges each chunk once it
// is staged, and the sender sends the next only then (flow control).
// The largest chunk a receiver accepts, as sent and once inflated (senders use
// 1 MiB).
inline constexpr size_t kMaxSnapshotChunkBytes = 4 << 20;

struct SnapshotChunk {
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  uint64_t transfer = 0;
  uint64_t offset = 0;  // bytes of the stream before `data`
  std::string data;
  // `data` is a gzip stream of the chunk's bytes (the sender's
  // --snapshot-compression); `offset` still counts uncompressed bytes.
  bool gzip = false;
  bool last = false;
  // With `last`: the kSnapshot message for the receiver's core.
  Message message;
};

// A receiver's answer to a chunk: how much of `transfer` it has staged, or
// !ok when the sender must give the transfer up (the receiver lost it, or is
// installing another).
struct SnapshotAck {
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  uint64_t transfer = 0;
  uint64_t next_offset = 0;
  bool ok = true;
};

// A snapshot to install: the metadata plus the state machine's data, opaque to
// the core.
struct Snapshot {
  SnapshotMetadata metadata;
  std::string data;
};

enum class Role : uint8_t { kFollower, kPreCandidate, kCandidate, kLeader };
const char* RoleName(Role role);

// A linearizable read may be served once the state machine has applied `index`
// (thesis §6.4).
struct ReadState {
  LogIndex index = kNoIndex;
  std::string context;
};

// One batch of work for the driver. Handle it in this order:
//   1. send `early_messages` at any time (a leader's own appends and
//   heartbeats: the
//      leader may replicate while its own write is in flight, thesis §10.2.1);
//   2. install `snapshot` if any, then persist `hard_state` and `entries` in
//   one synced
//      write when `must_sync`;
//   3. send `messages` (votes and acknowledgements promise what step 2 made
//   durable);
//   4. apply `committed_entries`, serve `read_states` once applied, then call
//   Advance().
struct Ready {
  Role role = Role::kFollower;
  NodeId leader = kNoNode;
  std::optional<HardState> hard_state;
  std::vector<Entry> entries;
  std::optional<Snapshot> snapshot;
  std::vector<Entry> committed_entries;
  std::vector<Message> early_messages;
  std::vector<Message> messages;
  std::vector<ReadState> read_states;
  bool must_sync = false;
};

}  // namespace raftkv::raft

#endif  // RAFTKV_RAFT_MESSAGE_H_
