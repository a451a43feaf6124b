// ClusterHarness: a real kvnode cluster for tests (the kv_cluster_test rule
// links it).
//
// Starts N `kvnode serve` processes (the real //cli:kvnode binary) on free
// loopback ports with data under TEST_TMPDIR, and puts one TcpProxy on every
// directed peer link, so a test can partition nodes without any switch in the
// product. It can SIGKILL, SIGSTOP, SIGCONT, SIGTERM and restart nodes, and it
// kills every process it started when it is destroyed, also when the test fails
// (and from a fatal-signal handler if the test crashes). Node logs are printed
// when a test fails. Thread safety: one harness per test, used from the test's
// thread; it owns the one kv::Client (one kj event loop) that thread may have.
#ifndef RAFTKV_TESTING_CLUSTER_HARNESS_H_
#define RAFTKV_TESTING_CLUSTER_HARNESS_H_

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cli/local_cluster.h"
#include "kv/client.h"
#include "testing/cluster/tcp_proxy.h"

namespace raftkv::testing {

struct HarnessOptions {
  int nodes = 3;
  // Fast elections for tests: 20 ms ticks, a leader is replaced in 200-400 ms.
  std::vector<std::string> extra_flags = {"--tick-ms=20"};
  uint64_t client_timeout_ms = 10000;
  // Every node serves /metrics, /health and /ready (cluster().metrics_port).
  bool metrics = false;
  // Clients on ports of their own (--client-bind); client() uses them.
  bool client_ports = false;
  // Flags for one node only (its certificates, say).
  std::map<raft::NodeId, std::vector<std::string>> node_flags;
  // client() connects with these TLS files when set.
  net::TlsFiles client_tls;
};

// How a cut link fails: the proxy resets its connections and refuses new
// ones, or (where PacketFilter::Available()) its packets are silently dropped
// with connections left open, which only a deadline notices.
enum class LinkFault { kReset, kDrop };

struct CommandOutput {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// The kvnode binary under test (set by the test main from --kvnode=PATH).
const std::string& KvnodePath();
void SetKvnodePath(std::string path);

class ClusterHarness {
 public:
  static absl::StatusOr<std::unique_ptr<ClusterHarness>> Start(
      HarnessOptions options = {});
  ~ClusterHarness();

  cli::LocalCluster& cluster() { return *cluster_; }
  kv::Client& client() { return *client_; }
  std::vector<raft::NodeId> ids() const { return cluster_->ids(); }

  // Waits until one running node not in `exclude` is leader and the others
  // agree.
  absl::StatusOr<raft::NodeId> WaitForLeader(
      int timeout_ms = 10000, const std::set<raft::NodeId>& exclude = {});
  absl::StatusOr<kv::NodeInfo> Status(raft::NodeId id);
  // A node's own state (a serializable scan of it), as a map.
  absl::StatusOr<std::map<std::string, std::string>> Contents(raft::NodeId id);
  // Waits until every running node not in `exclude` (removed members) has
  // applied everything, holds the same contents, and reports the same
  // applied index and state digest (`status --digest`).
  absl::Status WaitForConvergence(int timeout_ms = 10000,
                                  const std::set<raft::NodeId>& exclude = {});

  void Kill(raft::NodeId id);    // SIGKILL
  void Pause(raft::NodeId id);   // SIGSTOP
  void Resume(raft::NodeId id);  // SIGCONT
  absl::Status Restart(raft::NodeId id);
  // Whether nodes can run on a skewed clock (Debian's faketime installed);
  // if not, why.
  static std::string ClockSkewUnavailable();
  // Restarts node `id` (stopping it with SIGTERM first if it runs) with its
  // clock running at `rate` times real time (libfaketime preloaded; 1.0:
  // the real clock again). Monotonic time, which drives its ticks, too.
  absl::Status RestartWithClock(raft::NodeId id, double rate);
  // Starts a new node `id` with an empty data directory and --join (it waits
  // until a `member add` names it).
  absl::Status StartJoining(raft::NodeId id);
  // Restarts a stopped node that was removed as a brand-new joiner with the
  // same id and address (empty data directory, --join).
  absl::Status RestartAsJoiner(raft::NodeId id);
  // Cuts every link between nodes in different groups (both directions).
  // kDrop falls back to kReset where packets cannot be dropped.
  void Partition(const std::vector<std::set<raft::NodeId>>& groups,
                 LinkFault fault = LinkFault::kReset);
  void Heal();
  // Cuts the link one way: `from`'s messages no longer reach `to`.
  void CutLink(raft::NodeId from, raft::NodeId to,
               LinkFault fault = LinkFault::kReset);

  // Runs the kvnode binary with `args` (and `input` on its stdin) and captures
  // its output.
  CommandOutput Run(const std::vector<std::string>& args,
                    int timeout_ms = 30000, const std::string& input = "");
  // One node's log so far (every process it ran, appended).
  std::string NodeLog(raft::NodeId id) const;
  // Every node's log, for failure messages.
  std::string Logs() const;

 private:
  ClusterHarness() = default;

  std::string dir_;
  std::map<std::pair<raft::NodeId, raft::NodeId>, std::unique_ptr<TcpProxy>>
      proxies_;
  std::unique_ptr<cli::LocalCluster> cluster_;
  std::unique_ptr<kv::Client> client_;
};

}  // namespace raftkv::testing

#endif  // RAFTKV_TESTING_CLUSTER_HARNESS_H_
