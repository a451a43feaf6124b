// Node: one kvnode cluster member: storage, the Raft core, the state machine,
// peers, clients.
//
// Runs on one kj event loop (DESIGN.md, "Concurrency"): the network, the core
// and the timers share it, and nothing on it blocks on the disk. Each Ready is
// handled in the order message.h prescribes: a leader's own appends go out at
// once; the entries and hard state are written with one fsync on the storage
// thread, which hands completion back to the loop; then votes and
// acknowledgements are sent, committed entries applied, waiting clients
// answered, and the core advanced. Proposals that arrive during an fsync wait
// for the next one, so one fsync serves a whole batch (group commit).
//
// Clients: writes are proposed on the leader and answered once applied;
// linearizable reads go through ReadIndex (thesis §6.4), serializable ones read
// local state. A follower answers with the leader's id and address, and the
// client library follows it.
//
// Thread safety: everything runs on the loop thread except the storage worker,
// which only touches the LevelDB stores (themselves synchronized). Invariant:
// at most one Ready is being persisted at a time; Advance() is called exactly
// once per Ready, in order.
#ifndef RAFTKV_KV_NODE_H_
#define RAFTKV_KV_NODE_H_

#include <kj/async-io.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "raft/types.h"

namespace raftkv::kv {

struct NodeOptions {
  raft::NodeId id = raft::kNoNode;
  std::string bind;  // host:port to listen on
  std::map<raft::NodeId, std::string>
      cluster;  // every member's client/peer address
  std::string data_dir;
  uint64_t tick_ms = 50;
  uint64_t election_ticks = 10;  // 0.5 to 1 s to notice a dead leader
  uint64_t max_key_bytes = 4 << 10;
  uint64_t max_value_bytes = 1 << 20;
  uint64_t max_request_bytes = 3 << 19;  // 1.5 MiB
  uint64_t request_timeout_ms = 5000;
  uint64_t session_ttl_ms = 30 * 60 * 1000;
  uint64_t compact_after_entries = 10000;
  // One line per notable event (role changes, errors). Empty: silent.
  std::function<void(const std::string&)> log;
};

// Parses "1=127.0.0.1:7001,2=127.0.0.1:7002" (ids positive and distinct).
absl::StatusOr<std::map<raft::NodeId, std::string>> ParseCluster(
    const std::string& spec);

// Opens the node's storage (creating and bootstrapping it on first start),
// listens on options.bind and serves until SIGINT or SIGTERM, then shuts down
// gracefully: a leader hands leadership to its most up-to-date follower first,
// waiting requests fail with "unavailable", and storage is closed cleanly.
// Returns OK after a graceful shutdown.
absl::Status RunNode(const NodeOptions& options);

}  // namespace raftkv::kv

#endif  // RAFTKV_KV_NODE_H_
