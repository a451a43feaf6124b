// StateMachine: the replicated key-value state machine with exactly-once client
// sessions.
//
// Every committed log entry is applied here, in log order, on every node. A
// command carries its client's session (client id, sequence number). The
// session table remembers, per client, the last sequence applied and its
// result, so a retried command returns the original result and is never applied
// twice (thesis §6.3). Sessions live in the KvStore, written in the same batch
// as the mutation and applied index, so they survive restarts; a session idle
// for longer than the TTL, measured on the leader clock stamped into each
// command (so every replica expires the same sessions at the same log
// position), is expired.
//
// Thread safety: not thread-safe; the node runtime applies on its event loop
// thread. Invariants: store().AppliedIndex() is the last entry applied;
// sessions_ mirrors the store.
#ifndef RAFTKV_KV_STATE_MACHINE_H_
#define RAFTKV_KV_STATE_MACHINE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "kv/members.h"
#include "kv/outcome.h"
#include "raft/types.h"
#include "storage/kv_store.h"

namespace raftkv::kv {

struct StateMachineOptions {
  uint64_t session_ttl_ms = 30 * 60 * 1000;
};

class StateMachine {
 public:
  // The session record (client id) that holds the applied configuration and
  // member addresses, and its contents: `member list` on any node reads what
  // it applied, and a restore (kv/restore.h) writes a new cluster's.
  static constexpr uint64_t kMembersRecord = UINT64_MAX;
  static std::string EncodeMembersState(const raft::ConfState& conf,
                                        const MemberAddresses& members);

  StateMachine(storage::KvStore* store, StateMachineOptions options);

  // Loads the session table; call once before the first Apply.
  absl::Status Load();

  // Applies one committed entry. An empty entry (a new leader's no-op) or a
  // configuration change only advances the applied index. A malformed command
  // is applied as a failed command (kInvalidArgument) so every replica stays in
  // step.
  absl::StatusOr<Outcome> Apply(const raft::Entry& entry);
  // Applies consecutive committed entries with one store write (same results as
  // applying them one by one: later commands see earlier ones' writes).
  absl::StatusOr<std::vector<Outcome>> ApplyEntries(
      absl::Span<const raft::Entry> entries);

  storage::KvStore& store() { return *store_; }
  // The configuration and member addresses of the last membership record
  // applied (empty before any: the node's bootstrap members apply then).
  const raft::ConfState& applied_conf() const { return conf_; }
  const MemberAddresses& applied_members() const { return members_; }
  // Changes whenever applied_conf() or applied_members() may have.
  uint64_t members_version() const { return members_version_; }
  raft::LogIndex applied() const { return store_->AppliedIndex(); }
  // Live sessions (not counting the tombstones of expired ones).
  size_t session_count() const { return sessions_.size(); }
  size_t tombstone_count() const { return tombstones_.size(); }
  // At most this many expired sessions are remembered (oldest dropped first).
  static constexpr size_t kMaxTombstones = 100000;

 private:
  // Decides `entry`'s effect into `batch` (mutations and session changes),
  // updating the in-memory session table; nothing reaches the store.
  absl::StatusOr<Outcome> Prepare(const raft::Entry& entry,
                                  storage::KvBatch* batch);
  // A key's value as of the commands prepared so far.
  absl::StatusOr<std::optional<std::string>> Read(const std::string& key);

  struct Session {
    uint64_t sequence = 0;
    uint64_t last_active_ms = 0;
    Outcome result;
  };

  absl::Status DecodeMembersState(absl::string_view state);

  storage::KvStore* store_;
  StateMachineOptions options_;
  raft::ConfState conf_;
  MemberAddresses members_;
  uint64_t members_version_ = 0;
  std::map<uint64_t, Session> sessions_;
  // Expired sessions: client id -> the clock when it expired, and the same
  // ordered oldest first for eviction. Stored as session records whose
  // sequence is kExpiredSequence.
  std::map<uint64_t, uint64_t> tombstones_;
  std::set<std::pair<uint64_t, uint64_t>> tombstone_order_;
  uint64_t clock_ms_ = 0;  // the largest command timestamp applied
  std::map<std::string, std::optional<std::string>>
      overlay_;  // writes of the current group
};

}  // namespace raftkv::kv

#endif  // RAFTKV_KV_STATE_MACHINE_H_
