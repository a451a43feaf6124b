// NodeRuntime: the production wiring of a kvnode around its NodeDriver
// (kv/driver.h): LevelDB storage, snapshot staging files, two StorageWorker
// threads for off-loop jobs (the log and store; snapshot streams),
// Cap'n Proto peers (PeerTransport) and clients (node_service.cc), the system
// clock, and kj timers that tick the driver. Everything about Raft, the state
// machine and what is durable before what is the driver's; this class only
// connects it to the world and turns reply callbacks into kj promises.
//
// Thread safety: loop thread only (the StorageWorker hands its completions
// back to the loop). Invariant: the driver is destroyed before the worker and
// the stores it points into, and storage is closed only once the driver is
// idle.
#ifndef RAFTKV_KV_NODE_RUNTIME_H_
#define RAFTKV_KV_NODE_RUNTIME_H_

#include <kj/async-io.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "kv/driver.h"
#include "kv/log.h"
#include "kv/metrics.h"
#include "kv/node.h"
#include "kv/permissions.h"
#include "kv/storage_worker.h"
#include "net/buffered_stream.h"
#include "net/kv.capnp.h"
#include "net/peer_transport.h"
#include "net/tls.h"
#include "storage/leveldb_kv_store.h"
#include "storage/wal_log_storage.h"
#include "storage/snapshot_staging.h"

namespace raftkv::kv {

// What one listener serves: both faces (a single --bind), or peers or clients
// alone (--client-bind).
enum class Face { kBoth, kPeers, kClients };

// Who is at the other end of a connection: with TLS, the common name of the
// certificate it presented (a peer's is "node-N").
struct Identity {
  bool authenticated = false;
  std::string name;
};

struct Listener {
  kj::Own<kj::ConnectionReceiver> receiver;
  Face face = Face::kBoth;
};

struct ScanResult {
  Outcome outcome;
  storage::ScanPage page;  // with an ok outcome
};

class NodeRuntime {
 public:
  NodeRuntime(const NodeOptions& options, const NodeIdentity& identity,
              kj::AsyncIoContext& io);
  ~NodeRuntime();

  // Opens storage, bootstraps a new cluster member, creates the driver.
  absl::Status Open();
  // SIGHUP: reads the certificates and the permissions again; on a problem
  // keeps the ones in use and logs why (node_listeners.cc).
  void ReloadSecurity();
  // What a client with this identity may do (kv/permissions.h).
  Role RoleOf(const Identity& identity) const;
  // Serves until `stop` resolves, then shuts down gracefully. Resolves with
  // OK, or with the storage error that stopped the node.
  kj::Promise<absl::Status> Serve(std::vector<Listener> listeners,
                                  kj::Promise<void> stop);

  // Used by the RPC service.
  void Deliver(std::vector<raft::Message> messages);
  void DeliverSnapshotChunk(raft::SnapshotChunk chunk) {
    driver_->DeliverSnapshotChunk(std::move(chunk));
  }
  void DeliverSnapshotAck(const raft::SnapshotAck& ack) {
    driver_->DeliverSnapshotAck(ack);
  }
  kj::Promise<Outcome> Write(net::wire::Command::Reader command);
  // A key, or a page of keys, read through the driver (kv/driver.h).
  kj::Promise<Outcome> Get(std::string key, bool linearizable);
  kj::Promise<ScanResult> Scan(storage::ScanOptions options, bool linearizable);
  // Resolves once a linearizable read may be served (or with the reason it may
  // not).
  kj::Promise<Outcome> ReadBarrier();
  // Resolves once the change is applied (or with why not).
  kj::Promise<Outcome> ChangeMembership(std::vector<raft::ConfChangeStep> steps,
                                        const MemberAddresses& added);
  // Resolves once leadership has moved to `to` (or with why not).
  kj::Promise<Outcome> MoveLeader(raft::NodeId to);
  const NodeDriver& driver() const { return *driver_; }
  const raft::Core& core() const { return driver_->core(); }
  StateMachine& machine() { return driver_->machine(); }
  const NodeOptions& options() const { return options_; }
  std::string AddressOf(raft::NodeId id) const;
  // Where clients reach the leader (its --client-bind when it told us).
  std::string LeaderAddress() const {
    return driver_->ClientAddressOf(driver_->leader());
  }
  // A peer serves clients at `address` (node_peer_inbox.cc, from its hello).
  void NoteClientAddress(raft::NodeId id, const std::string& address) {
    driver_->SetClientAddress(id, address);
  }
  // A peer listens for peers at `address` (node_peer_inbox.cc, from its
  // hello).
  void NotePeerAddress(raft::NodeId id, const std::string& address) {
    driver_->LearnPeerAddress(id, address);
  }
  uint64_t cluster_id() const { return cluster_id_; }
  void Log(const std::string& line) const { Emit(LogLevel::kInfo, line); }
  void Emit(LogLevel level, const std::string& line) const;
  // A warning that may repeat: at most one line per `key` every 10 s.
  void Warn(const std::string& key, const std::string& line);
  // A client request took `seconds` (node_service.cc).
  void ObserveRequestTime(const char* op, double seconds);

  // For the HTTP face (node_http.h).
  NodeMetrics& metrics() { return *metrics_; }
  std::string RenderMetrics();
  // "" when healthy, else why not.
  std::string HealthProblem() const;
  std::string ReadyProblem() const;

 private:
  class Transport;
  class SystemClock;
  class LoopTurnEnd;

  kj::Promise<void> TickLoop();
  // Once a second: slow storage writes seen by the worker, peers that stay
  // unreachable.
  void CheckWarnings();
  // One listener being served (node_listeners.cc).
  struct Accepting {
    kj::Own<kj::ConnectionReceiver> receiver;
    Face face;
    capnp::ReaderOptions limits;
    uint64_t open = 0;  // connections being served (or in their handshake)
  };
  kj::Promise<void> AcceptLoop(Accepting& listener);
  kj::Promise<void> ServeConnection(Accepting& listener,
                                    kj::Own<kj::AsyncIoStream> stream,
                                    Identity identity);
  kj::Promise<void> ServeClients(Accepting& listener,
                                 kj::Own<net::BufferedStream> stream,
                                 const Identity& identity);
  // Reads a peer stream (node_peer_inbox.cc) whose preamble was read.
  kj::Promise<void> ServePeers(net::BufferedStream& stream,
                               capnp::ReaderOptions limits,
                               const Identity& identity);
  kj::Promise<void> CloseWhenIdle(net::BufferedStream& stream,
                                  uint64_t last_bytes);
  kj::Promise<void> Shutdown();
  kj::Promise<void> WaitForLeadershipHandoff(int ticks_left);
  kj::Promise<void> WaitUntilIdle();
  kj::Promise<Outcome> WaitForLeader(raft::NodeId to, int ticks_left);

  const NodeOptions options_;
  const NodeIdentity identity_;
  kj::AsyncIoContext& io_;
  const uint64_t cluster_id_;
  std::unique_ptr<NodeMetrics> metrics_ = std::make_unique<NodeMetrics>();
  // When a message from the leader last arrived (for /health).
  kj::TimePoint last_leader_contact_ = kj::origin<kj::TimePoint>();
  // The commit index this node knew when it opened (for /ready).
  raft::LogIndex commit_at_start_ = 0;
  bool opened_ = false;  // driver_->Open() succeeded
  uint64_t ticks_ = 0;   // TickLoop's, for what runs once a second
  WarningLimiter warnings_{10000};
  // Written by the storage thread: the slowest write over slow_ms since the
  // last check (microseconds), and how many there were.
  std::atomic<uint64_t> slow_write_us_{0};
  std::atomic<uint64_t> slow_writes_{0};
  struct PeerTrack {
    uint64_t failures = 0;
    uint64_t answers = 0;
    uint64_t down_since_ms = 0;  // 0: reachable
    bool reported = false;
  };
  std::map<raft::NodeId, PeerTrack> peer_track_;
  std::unique_ptr<storage::WalLogStorage> log_storage_;
  std::unique_ptr<storage::LevelDbKvStore> kv_store_;
  std::unique_ptr<storage::FileSnapshotStaging> staging_;
  std::unique_ptr<net::PeerTransport> peer_transport_;
  std::unique_ptr<Transport> transport_;
  std::unique_ptr<SystemClock> clock_;
  std::unique_ptr<LoopTurnEnd> turn_end_;
  std::unique_ptr<StorageWorker> worker_;
  std::unique_ptr<StorageWorker> snapshot_worker_;
  std::unique_ptr<NodeDriver> driver_;
  std::vector<kj::Own<Accepting>> accepting_;
  // TLS for each face (nullptr: plain TCP), and the clients' roles; loaded
  // whole, and replaced whole (a SIGHUP that fails to load changes nothing).
  struct Security {
    std::shared_ptr<net::Tls> client_tls;
    std::shared_ptr<net::Tls> peer_tls;
    Permissions permissions;
  };
  absl::StatusOr<Security> LoadSecurity() const;
  void UseSecurity(Security security);
  Security security_;
  kj::Own<kj::PromiseFulfiller<void>> failed_;  // fulfilled on storage failure
  kj::Own<kj::TaskSet> tasks_;
};

// The client API (node_service.cc), served over Cap'n Proto RPC on the
// client face and, without --client-bind, on the one port.
capnp::Capability::Client MakeClientService(NodeRuntime& runtime,
                                            const Identity& identity);

}  // namespace raftkv::kv

#endif  // RAFTKV_KV_NODE_RUNTIME_H_
