// The simulator's clients: each one a session (client id, sequence) issuing
// one operation at a time against the real NodeDriver of some node, the way
// the client library does: put, linearizable get, delete, cas and list over a
// small key set so that operations conflict, plus serializable gets. A write
// is retried with the same sequence number through "not the leader",
// timeouts (an attempt unanswered for 150-300 microticks is abandoned and
// tried elsewhere, as the client library does) and crashes until it gets a
// definite answer (exactly-once makes that safe); what is still open at the end
// has an unknown outcome.
//
// Every operation is recorded with its invoke and return microtick and its
// outcome, for the linearizability checker. A list is recorded as one read of
// every key it covers (each projection of an atomic multi-key read must be
// linearizable on its own). Serializable gets are recorded apart: they are
// not linearizable by design.
//
// Thread safety: one Simulation's thread. Invariant: a client has at most one
// attempt outstanding; replies to an older attempt are ignored.
#ifndef RAFTKV_TESTING_SIM_SIM_CLIENTS_H_
#define RAFTKV_TESTING_SIM_SIM_CLIENTS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "testing/linearizability/checker.h"
#include "testing/sim/sim_node.h"

namespace raftkv::testing::sim {

struct ClientOptions {
  int clients = 5;
  int keys = 4;
  double op_rate = 0.08;  // chance per microtick that an idle client starts
};

struct ClientStats {
  uint64_t operations = 0;          // linearizable operations recorded
  uint64_t unknown = 0;             // of which with unknown outcome
  uint64_t serializable_reads = 0;  // recorded apart
  uint64_t writes_acknowledged = 0;
  uint64_t retries = 0;
  uint64_t abandoned = 0;         // attempts given up after 150-300 microticks
  uint64_t sessions_expired = 0;  // "session expired" answers
};

class SimClients {
 public:
  // `node(id)` is the node with that id; `fail` reports a violation.
  SimClients(ClientOptions options, uint64_t seed,
             std::function<SimNode&(NodeId)> node, std::function<int()> slots,
             std::function<void(const std::string&)> fail);

  // One microtick: start, retry and complete operations.
  void Step(uint64_t now);
  // The history so far; operations still open are unknown.
  std::vector<linearizability::Operation> History() const;
  const std::vector<linearizability::Operation>& serializable_reads() const {
    return serializable_;
  }
  const ClientStats& stats() const { return stats_; }
  // The microtick of the last acknowledged write.
  uint64_t last_write_acknowledged() const { return last_write_acked_; }

 private:
  enum class Kind { kPut, kGet, kDelete, kCas, kList };
  struct Client {
    uint64_t id = 0;
    uint64_t sequence = 0;
    bool busy = false;
    Kind kind = Kind::kGet;
    linearizability::Operation op;  // for kList: the key set is implied
    uint64_t attempt = 0;
    bool waiting = false;  // an attempt is outstanding
    NodeId attempt_node = 0;
    uint64_t attempt_incarnation = 0;
    uint64_t attempt_deadline = 0;
    uint64_t retry_at = 0;
    NodeId believed_leader = 0;
    std::map<std::string, std::optional<std::string>> last_seen;
  };
  struct Reply {
    size_t client;
    uint64_t attempt;
    kv::Outcome result;
    NodeId leader;
    std::optional<std::string> value;            // get
    std::map<std::string, std::string> listing;  // list
  };

  void Start(Client& client, size_t index);
  void Attempt(Client& client, size_t index);
  void Handle(Reply& reply);
  void Complete(Client& client, bool known);
  void Retry(Client& client, uint64_t delay);
  std::string Key();
  bool Chance(double p);

  const ClientOptions options_;
  std::mt19937_64 rng_;
  std::function<SimNode&(NodeId)> node_;
  // How many node ids exist now (1..slots()); membership changes add some.
  std::function<int()> slots_;
  std::function<void(const std::string&)> fail_;
  std::vector<Client> clients_;
  std::vector<Reply> mailbox_;
  std::vector<linearizability::Operation> history_;
  std::vector<linearizability::Operation> serializable_;
  ClientStats stats_;
  uint64_t now_ = 0;
  uint64_t last_write_acked_ = 0;
};

}  // namespace raftkv::testing::sim

#endif  // RAFTKV_TESTING_SIM_SIM_CLIENTS_H_
