// Client: the raftkv client library, used by `kvnode` client commands, the demo
// and tests.
//
// It talks to any node and finds the leader by itself: when it does not know
// the leader, it asks every listed node at once and follows the first that
// names one (so a dead or frozen node costs no wait); a follower's "not the
// leader" answer names the leader; an unreachable node is skipped, with
// backoff, until the request's deadline. Every write carries a session (a
// random id and a sequence number); a write retried after a lost answer is
// applied at most once (thesis §6.3). The blocking calls use the client's own
// session. Many more sessions (NewSession) can share its connections, each with
// one request in flight, through the *Async calls and Run(): that is how one
// connection carries many requests at once. Thread safety: not thread-safe,
// and it owns a kj event loop: one Client per thread. Invariants: a session
// has at most one request in flight; its sequence numbers increase by one per
// write.
#ifndef RAFTKV_KV_CLIENT_H_
#define RAFTKV_KV_CLIENT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kv/backup_file.h"
#include "kv/outcome.h"
#include "net/tls.h"
#include "raft/confchange.h"
#include "raft/types.h"

namespace raftkv::kv {

// The cluster's code behind an error a Client returned (kv/outcome.h), or
// nullopt for an error of the client's own (no node reachable, bad flags).
std::optional<Code> CodeOf(const absl::Status& status);

struct ClientOptions {
  // "HOST:PORT,HOST:PORT" or the servers' "ID=HOST:PORT,..." form.
  std::string cluster = "127.0.0.1:7001";
  uint64_t timeout_ms = 5000;
  bool linearizable = true;
  // Reads go to every node that answers, in turn (followers serve them
  // through the leader's read index); false: to the leader. Off by default:
  // on one 2-core machine it measured no faster (benchmarks/RESULTS.md).
  bool spread_reads = false;
  // Mutual TLS (--cert-file, --key-file, --ca-file): the node must present a
  // certificate from the CA that names the host of its address.
  net::TlsFiles tls;
};

struct CasResult {
  bool swapped = false;
  std::optional<std::string>
      current;  // when not swapped: the value found (nullopt: absent)
};

struct ListResult {
  std::vector<std::pair<std::string, std::string>> items;
  bool more = false;
  std::string next_start;
};

struct NodeInfo {
  raft::NodeId id = 0;
  std::string role;
  raft::Term term = 0;
  raft::NodeId leader = 0;
  std::string leader_address;
  raft::LogIndex commit = 0;
  raft::LogIndex applied = 0;
  std::map<raft::NodeId, std::string> members;
  // Asked with `with_digest`: a checksum of the node's whole state at
  // `applied` (equal on nodes that applied the same index), else 0.
  uint64_t digest = 0;
};

struct MemberInfo {
  raft::NodeId id = 0;
  std::string address;
  std::string suffrage;       // voter, learner, outgoing
  bool has_progress = false;  // match and lag are the leader's knowledge
  raft::LogIndex match = 0;
  uint64_t lag = 0;
};

struct Membership {
  uint64_t cluster_id = 0;
  raft::NodeId node_id = 0;  // who answered
  raft::NodeId leader = 0;
  bool joint = false;
  raft::LogIndex last_index = 0;
  std::vector<MemberInfo> members;
};

struct MemberStep {
  raft::ConfChangeType type = raft::ConfChangeType::kAddVoter;
  raft::NodeId id = 0;
  std::string address;  // for steps that add a node
};

class Client {
 public:
  // A logical client: its own session id and sequence numbers.
  struct Session {
    uint64_t id = 0;
    uint64_t next_sequence = 1;
    bool busy = false;  // a request is in flight
  };

  // Fails only on a malformed cluster string; connections are made on first
  // use.
  static absl::StatusOr<std::unique_ptr<Client>> Create(
      const ClientOptions& options);
  ~Client();

  // nullopt when the key does not exist. Errors: kUnavailable (no leader within
  // the timeout), kInvalidArgument (a limit, named in the message).
  absl::StatusOr<std::optional<std::string>> Get(const std::string& key);
  absl::Status Put(const std::string& key, const std::string& value);
  // false when there was nothing to delete.
  absl::StatusOr<bool> Delete(const std::string& key);
  // Sets `value` if the key currently holds `expected` (nullopt: is absent).
  absl::StatusOr<CasResult> CompareAndSwap(
      const std::string& key, const std::optional<std::string>& expected,
      const std::string& value);
  absl::StatusOr<ListResult> List(const std::string& prefix,
                                  const std::string& start, uint32_t limit,
                                  bool keys_only);
  // The configuration in force, as the leader sees it (with each member's
  // progress).
  absl::StatusOr<Membership> Members();
  // One node's own view of the configuration, asked directly.
  absl::StatusOr<Membership> MembersAt(const std::string& address);
  // A membership change, on the leader; returns once applied. Errors:
  // kInvalidArgument for a step that does not fit (named in the message),
  // kUnavailable for "retry" (another change in flight, no leader).
  absl::Status ChangeMembership(const std::vector<MemberStep>& steps);
  // Hands leadership to node `id`; returns once it has moved.
  absl::Status MoveLeader(raft::NodeId id);

  // The status of one node, asked directly (no redirection).
  // A consistent backup of the state machine from the leader into `path`
  // (kv/backup_file.h), read back and verified before it returns.
  absl::StatusOr<BackupInfo> SaveSnapshot(const std::string& path);
  absl::StatusOr<NodeInfo> Status(const std::string& address,
                                  bool with_digest = false);
  // The status of every node of addresses(), asked at once, in that order.
  std::vector<absl::StatusOr<NodeInfo>> StatusAll(bool with_digest = false);
  // A serializable scan of one node's own state from `start`, asked directly
  // (no redirection).
  absl::StatusOr<ListResult> ListAt(const std::string& address,
                                    const std::string& prefix, uint32_t limit,
                                    const std::string& start = "");

  // Sessions of their own that share this client's connections.
  Session NewSession();
  using Done = std::function<void(absl::Status)>;
  // Starts a put for `session` and returns at once; `done` runs inside Run()
  // with what Put would have returned. REQUIRES: `session` outlives the
  // request. A busy session fails with kFailedPrecondition.
  void PutAsync(Session& session, std::string key, std::string value,
                Done done);
  // Starts a get (a read needs no session); `done` gets OK or the error.
  void GetAsync(std::string key, Done done);
  // Runs the event loop until every request started by *Async has finished
  // and its `done` has run. A `done` may start more *Async requests (they
  // are waited for too) but must not call the blocking methods.
  void Run();

  const std::vector<std::string>& addresses() const;
  uint64_t client_id() const;

  class Impl;

 private:
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace raftkv::kv

#endif  // RAFTKV_KV_CLIENT_H_
