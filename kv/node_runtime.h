// NodeRuntime: the internals of a running kvnode (see node.h for the design).
// Split from node.h so that the RPC service (node_service.cc) and the runtime
// (node.cc) share it. Thread safety: loop thread only, except StorageWorker
// jobs. Invariant: write_in_flight_ is true exactly while a Ready is being
// persisted by the storage worker.
#ifndef RAFTKV_KV_NODE_RUNTIME_H_
#define RAFTKV_KV_NODE_RUNTIME_H_

#include <kj/async-io.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "kv/node.h"
#include "kv/state_machine.h"
#include "net/kv.capnp.h"
#include "net/peer_transport.h"
#include "raft/core.h"
#include "storage/leveldb_kv_store.h"
#include "storage/leveldb_log_storage.h"

namespace raftkv::kv {

// Runs storage jobs (fsync) off the event loop, one at a time, in order.
class StorageWorker {
 public:
  StorageWorker();
  ~StorageWorker();
  void Submit(std::function<void()> job);

 private:
  void Loop();
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stop_ = false;
  std::thread thread_;
};

class NodeRuntime {
 public:
  NodeRuntime(const NodeOptions& options, kj::AsyncIoContext& io);
  ~NodeRuntime();

  // Opens storage, bootstraps a new cluster member, creates the core.
  absl::Status Open();
  // Serves until `stop` resolves, then shuts down gracefully.
  kj::Promise<void> Serve(kj::Own<kj::ConnectionReceiver> listener,
                          kj::Promise<void> stop);

  // Used by the RPC service.
  void Deliver(std::vector<raft::Message> messages);
  kj::Promise<CommandResult> Write(net::wire::Command::Reader command);
  // Resolves once a linearizable read may be served (or with the reason it may
  // not).
  kj::Promise<CommandResult> ReadBarrier();
  raft::Core& core() { return *core_; }
  StateMachine& machine() { return *machine_; }
  const NodeOptions& options() const { return options_; }
  std::string LeaderAddress() const;
  uint64_t cluster_id() const { return cluster_id_; }
  bool stopping() const { return stopping_; }
  CommandResult NotLeader() const;
  void Log(const std::string& line) const {
    if (options_.log) options_.log(line);
  }

 private:
  struct PendingWrite {
    raft::Term term;
    kj::Own<kj::PromiseFulfiller<CommandResult>> fulfiller;
  };
  struct PendingRead {
    raft::LogIndex index = raft::kNoIndex;
    bool confirmed = false;
    kj::Own<kj::PromiseFulfiller<CommandResult>> fulfiller;
  };

  void Process();
  void Persist(const raft::Ready& ready, absl::Status* status);
  void AfterPersist(raft::Ready& ready);
  void AttachSnapshots(std::vector<raft::Message>& messages);
  void OnRoleChange(raft::Role role, raft::NodeId leader);
  void FailAllPending(const CommandResult& result);
  void ServeReads();
  void MaybeCompact();
  kj::Promise<void> TickLoop();
  kj::Promise<void> AcceptLoop(kj::ConnectionReceiver& listener);
  kj::Promise<void> Shutdown();
  kj::Promise<void> WaitForLeadershipHandoff(int ticks_left);
  kj::Promise<void> WaitForWrites();
  template <typename T>
  kj::Promise<T> WithTimeout(kj::Promise<T> promise, T on_timeout);

  const NodeOptions options_;
  kj::AsyncIoContext& io_;
  uint64_t cluster_id_ = 0;
  std::unique_ptr<storage::LevelDbLogStorage> log_storage_;
  std::unique_ptr<storage::LevelDbKvStore> kv_store_;
  std::unique_ptr<StateMachine> machine_;
  std::unique_ptr<raft::Core> core_;
  std::unique_ptr<net::PeerTransport> transport_;
  std::unique_ptr<StorageWorker> worker_;
  kj::Own<const kj::Executor> executor_;
  capnp::Capability::Client bootstrap_ = nullptr;

  bool write_in_flight_ = false;
  bool stopping_ = false;
  bool failed_ = false;
  raft::Role role_ = raft::Role::kFollower;
  raft::NodeId leader_ = raft::kNoNode;
  std::map<raft::LogIndex, PendingWrite> pending_writes_;
  std::map<std::string, PendingRead> pending_reads_;
  uint64_t next_read_ = 1;
  kj::Own<kj::TaskSet> tasks_;
};

// The RPC face of a runtime: raft peers and clients (node_service.cc).
capnp::Capability::Client MakeNodeService(NodeRuntime& runtime);

}  // namespace raftkv::kv

#endif  // RAFTKV_KV_NODE_RUNTIME_H_
