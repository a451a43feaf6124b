// Node: the public face of one kvnode cluster member: its options, the
// --cluster parser, and RunNode, which serves until a signal.
//
// The node is a NodeDriver (kv/driver.h: the one Ready loop, shared with the
// simulator) wired to LevelDB, a storage thread and Cap'n Proto by
// NodeRuntime (kv/node_runtime.h), all on one kj event loop (DESIGN.md,
// "Concurrency").
//
// Clients: writes are proposed on the leader and answered once applied;
// linearizable reads go through ReadIndex (thesis §6.4), serializable ones read
// local state. A follower answers with the leader's id and address, and the
// client library follows it.
//
// Thread safety: RunNode owns its thread's event loop.
#ifndef RAFTKV_KV_NODE_H_
#define RAFTKV_KV_NODE_H_

#include <kj/async-io.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kv/identity.h"
#include "kv/log.h"
#include "kv/members.h"
#include "net/tls.h"
#include "raft/types.h"

namespace raftkv::kv {

struct NodeOptions {
  raft::NodeId id = raft::kNoNode;
  std::string bind;  // host:port to listen on (peers; clients too without
                     // client_bind)
  // host:port for clients alone; the bind port then serves peers alone.
  std::string client_bind;
  // Per listener: connections beyond this are closed at once.
  uint64_t max_connections = 1024;
  // A connection that sends nothing for this long is closed (0: never).
  uint64_t idle_timeout_ms = 10 * 60 * 1000;
  // Mutual TLS on the client port and on the peer port (and for dialled
  // peers); both or neither, and only with client_bind.
  net::TlsFiles client_tls;
  net::TlsFiles peer_tls;
  // Client certificate names and their roles (kv/permissions.h); "" for
  // every client an admin.
  std::string auth_file;
  // host:port for /metrics, /health and /ready over HTTP; "" for none.
  std::string metrics_bind;
  // Bootstrap only: every first member's client/peer address (--cluster).
  // After the bootstrap the members come from the log; a --cluster given at
  // a restart must agree with the data directory's cluster id.
  std::map<raft::NodeId, std::string> cluster;
  // Joining a running cluster: some of its members' addresses (--join).
  std::vector<std::string> join;
  // Mixed into the cluster id at bootstrap, so that two clusters bootstrapped
  // with the same --cluster differ (--cluster-token).
  std::string cluster_token = "raftkv";
  std::string data_dir;
  uint64_t tick_ms = 50;
  uint64_t election_ticks = 10;  // 0.5 to 1 s to notice a dead leader
  // Replace a leader whose process is gone (connection reset, redial
  // refused) within a tick or two (raft::Config::fast_failover).
  bool fast_failover = true;
  // --read-mode=lease: the leader serves linearizable reads from its lease
  // (raft::Config::lease_reads; turns fast_failover off), assuming no clock
  // runs more than lease_clock_drift faster than another.
  bool lease_reads = false;
  double lease_clock_drift = 0.1;
  uint64_t max_key_bytes = 4 << 10;
  uint64_t max_value_bytes = 1 << 20;
  uint64_t max_request_bytes = 3 << 19;  // 1.5 MiB
  uint64_t request_timeout_ms = 5000;
  uint64_t session_ttl_ms = 30 * 60 * 1000;
  uint64_t compact_after_entries = 10000;
  // Snapshot streams send at most this many MiB per second on the wire (after
  // compression; 0: unlimited).
  uint64_t snapshot_rate_mib = 0;
  // The memory the state machine's LevelDB store buffers writes in before it
  // writes a table file (--storage-write-buffer-mib). Up to twice this is
  // held while one buffer is written out. Larger buffers mean fewer compactions: 32 MiB
  // served 16 KiB values 15-30% faster here (benchmarks/RESULTS.md).
  uint64_t storage_write_buffer_mib = 4;
  // Snapshot chunks go out gzip-compressed (--snapshot-compression=gzip).
  bool snapshot_gzip = false;
  // Peer batches go out in Cap'n Proto's packed encoding
  // (--peer-encoding=packed). Off by default: on loopback it costs more CPU
  // than it saves (benchmarks/RESULTS.md).
  bool peer_packed = false;
  // One record per notable event (role changes, warnings, errors). Empty:
  // silent.
  LogSink log;
  // A storage write (a Ready with its fsync) or a client request that takes
  // longer than this is logged as a warning (at most one line per kind every
  // 10 s).
  uint64_t slow_ms = 500;
};

// Decides what `options.data_dir` belongs to: the identity written there by
// an earlier start (checked against --node-id, --cluster and --join), a new
// cluster bootstrapped from --cluster, or a running cluster joined through
// --join (which waits, saying so once, until an operator has added this
// node). Invalid argument, naming the fix, when the flags disagree with the
// data directory or with each other.
absl::StatusOr<NodeIdentity> ResolveIdentity(const NodeOptions& options);

// Opens the node's storage (creating and bootstrapping it on first start),
// listens on options.bind and serves until SIGINT or SIGTERM, then shuts down
// gracefully: a leader hands leadership to its most up-to-date follower first,
// waiting requests fail with "unavailable", and storage is closed cleanly.
// Returns OK after a graceful shutdown; a DataLoss error, naming the cause and
// the fix, when storage failed and the node stopped to protect its data.
absl::Status RunNode(const NodeOptions& options);

}  // namespace raftkv::kv

#endif  // RAFTKV_KV_NODE_H_
