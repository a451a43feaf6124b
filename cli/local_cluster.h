// LocalCluster: real `kvnode serve` processes on loopback ports, for the demo
// and for cluster tests.
//
// Picks free 127.0.0.1 ports, keeps each node's data under `dir`/node-N and its
// log in `dir`/node-N.log, and can stop (SIGTERM), kill (any signal, e.g.
// SIGKILL), pause (SIGSTOP/SIGCONT) and restart nodes. Peer addresses can be
// redirected per directed link (node i reaches node j at peer_address(i, j)),
// which is how tests put their own TCP proxies between nodes; clients always
// use the nodes' own ports. Thread safety: not thread-safe. Invariant: every
// process it started and that has not been reaped is killed with SIGKILL and
// reaped when the LocalCluster is destroyed; it never signals a PID it did not
// start.
#ifndef RAFTKV_CLI_LOCAL_CLUSTER_H_
#define RAFTKV_CLI_LOCAL_CLUSTER_H_

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "raft/types.h"

namespace raftkv::cli {

struct LocalClusterOptions {
  std::string binary;  // the kvnode binary
  std::string dir;     // data directories and logs go here
  int nodes = 3;
  std::vector<std::string> extra_flags;  // passed to every `kvnode serve`
  // Passed to one node's `kvnode serve` (after extra_flags).
  std::map<raft::NodeId, std::vector<std::string>> node_flags;
  // Each node also serves /metrics, /health and /ready (--metrics-bind) on
  // a port of its own.
  bool metrics = false;
  // Each node serves clients on a port of its own (--client-bind); --bind
  // then serves peers alone.
  bool client_ports = false;
  // When set: the address node `from` dials to reach node `to`.
  std::function<std::string(raft::NodeId from, raft::NodeId to)> peer_address;
};

// Returns a port on 127.0.0.1 that was free a moment ago.
absl::StatusOr<int> PickFreePort();

class LocalCluster {
 public:
  // Picks ports and writes nothing yet; call StartAll() or StartNode().
  static absl::StatusOr<std::unique_ptr<LocalCluster>> Create(
      LocalClusterOptions options);
  ~LocalCluster();

  absl::Status StartAll();
  // Starts a node: a founder with --cluster (the founders only), a node
  // added by AddNode with --join (every other node's address) and --bind.
  absl::Status StartNode(raft::NodeId id);
  // A new node id with a free port and an empty data directory, that joins
  // the running cluster when started (it waits until an operator adds it).
  absl::Status AddNode(raft::NodeId id);
  // An existing node that was removed from the cluster comes back as a new
  // member with the same id and address: its data directory is emptied and
  // its next start joins (--join) instead of naming --cluster.
  absl::Status ResetToJoin(raft::NodeId id);
  // The node's own flags for its next starts (options().node_flags).
  void set_node_flags(raft::NodeId id, std::vector<std::string> flags) {
    options_.node_flags[id] = std::move(flags);
  }
  // Extra environment ("NAME=value") for the node's next starts, on top of
  // this process's own (for example LD_PRELOAD of a library to run it with).
  void set_environment(raft::NodeId id, std::vector<std::string> environment);
  // Sends `signal` to the node's process (if running). SIGKILL and SIGTERM also
  // reap it.
  void Signal(raft::NodeId id, int signal);
  // SIGTERM, then waits up to `timeout_ms` for a clean exit; returns the exit
  // code, or an error if it had to be killed.
  // Waits up to `timeout_ms` for the node to exit by itself and returns its
  // exit code (DeadlineExceeded if it is still running).
  absl::StatusOr<int> Wait(raft::NodeId id, int timeout_ms);
  absl::StatusOr<int> Stop(raft::NodeId id, int timeout_ms = 10000);
  bool running(raft::NodeId id) const;
  // The node's process id, or 0 when it is not running.
  pid_t pid(raft::NodeId id) const {
    auto it = pids_.find(id);
    return it == pids_.end() ? 0 : it->second;
  }

  std::vector<raft::NodeId> ids() const;
  int port(raft::NodeId id) const { return ports_.at(id); }
  // With options.metrics: the node's HTTP port (0 otherwise).
  int metrics_port(raft::NodeId id) const {
    auto it = metrics_ports_.find(id);
    return it == metrics_ports_.end() ? 0 : it->second;
  }
  std::string address(raft::NodeId id) const;
  // Where clients reach the node: its client port, or its one port.
  std::string client_address(raft::NodeId id) const;
  int client_port(raft::NodeId id) const {
    auto it = client_ports_.find(id);
    return it == client_ports_.end() ? port(id) : it->second;
  }
  // "1=127.0.0.1:P1,2=..." with the nodes' client addresses.
  std::string client_cluster() const;
  std::string log_path(raft::NodeId id) const;
  std::string data_dir(raft::NodeId id) const;
  const LocalClusterOptions& options() const { return options_; }
  // Sets how node `from` reaches node `to`; applies to nodes started
  // afterwards.
  void set_peer_address(
      std::function<std::string(raft::NodeId, raft::NodeId)> peer_address) {
    options_.peer_address = std::move(peer_address);
  }

 private:
  explicit LocalCluster(LocalClusterOptions options)
      : options_(std::move(options)) {}
  std::string ServerCluster(raft::NodeId id) const;

  LocalClusterOptions options_;
  std::map<raft::NodeId, int> ports_;
  std::map<raft::NodeId, int> metrics_ports_;
  std::map<raft::NodeId, int> client_ports_;
  std::set<raft::NodeId> joiners_;    // added by AddNode: not in --cluster
  std::set<raft::NodeId> rejoining_;  // founders reset by ResetToJoin
  std::map<raft::NodeId, pid_t> pids_;
  std::map<raft::NodeId, std::vector<std::string>> environment_;
};

}  // namespace raftkv::cli

#endif  // RAFTKV_CLI_LOCAL_CLUSTER_H_
