// Client::Impl and the helpers that the client's source files share: the
// connection cache, leader-following CallAsync (and Call, which waits for it),
// parallel leader discovery, and one-node CallAt. Internal to //kv:client.
// Thread safety: as Client (one thread, owns its event loop). Invariants: at
// most one connection attempt and one discovery round are in progress at a
// time (later callers share them); `current_` indexes `addresses_`.
#ifndef RAFTKV_KV_CLIENT_IMPL_H_
#define RAFTKV_KV_CLIENT_IMPL_H_

#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>

#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kv/client.h"
#include "kv/outcome.h"
#include "kv/outcome_wire.h"
#include "net/bytes.h"
#include "net/kv.capnp.h"

namespace raftkv::kv {
namespace client_internal {

using net::wire::KvService;

struct Connection {
  kj::Own<kj::AsyncIoStream> stream;
  kj::Own<capnp::TwoPartyVatNetwork> network;
  kj::Own<capnp::RpcSystem<capnp::rpc::twoparty::VatId>> rpc;
  kj::Own<KvService::Client> kv;
};

}  // namespace client_internal

using client_internal::Connection;
using net::AsData;
using net::ToString;
using net::wire::KvService;

class Client::Impl {
 public:
  // Sends one request on a connection and yields its outcome.
  using Attempt = std::function<kj::Promise<Outcome>(KvService::Client&)>;

  Impl(const ClientOptions& options, std::vector<std::string> addresses,
       std::map<raft::NodeId, std::string> ids);
  ~Impl();

  // Runs `attempt` against the leader, following redirections and skipping
  // unreachable nodes, until an answer that is not "go elsewhere" or the
  // deadline. When the leader is not known (the first call, or the last one
  // failed), every listed node is asked at once who leads and the first answer
  // wins, so a dead or frozen node costs nothing. With `not_idempotent` (a
  // membership change), a request a node may have accepted is never sent
  // again: one attempt gets the whole deadline, and its "unavailable" or
  // silence is the answer. `attempt` must stay valid until the promise
  // resolves.
  kj::Promise<absl::StatusOr<Outcome>> CallAsync(Attempt attempt,
                                                 bool not_idempotent = false);
  absl::StatusOr<Outcome> Call(const Attempt& attempt,
                               bool not_idempotent = false) {
    return CallAsync(attempt, not_idempotent).wait(io_.waitScope);
  }
  // A read: with options_.spread_reads, sent to the nodes that have answered
  // this client in turn (a follower serves it through the leader's read
  // index, thesis §6.4); if that node cannot serve it (no leader known to it,
  // unreachable), or none but one has answered yet, as CallAsync.
  kj::Promise<absl::StatusOr<Outcome>> ReadAsync(Attempt attempt);
  absl::StatusOr<Outcome> Read(const Attempt& attempt) {
    return ReadAsync(attempt).wait(io_.waitScope);
  }

  // Sends `attempt` to `address` (connecting first if need be); a node that
  // does not answer within `timeout` yields Unavailable("timed out").
  // REQUIRES: `attempt` outlives the promise.
  kj::Promise<Outcome> SendTo(const std::string& address, kj::Duration timeout,
                              const Attempt& attempt);
  // The time one node gets: the rest of `left` for a request that must not be
  // sent twice, else a third of the client's timeout but at least a second.
  kj::Duration PerAttempt(kj::Duration left, bool not_idempotent) const;
  // The connection to `address`, made (or joined, if another call is making
  // it) within `timeout`.
  kj::Promise<KvService::Client> ConnectAsync(const std::string& address,
                                              kj::Duration timeout);
  // Forgets the connection to `address` (closed once the current event is
  // handled: other requests may be waiting on it, and they fail over).
  void Drop(const std::string& address);

  net::wire::Consistency consistency() const {
    return options_.linearizable ? net::wire::Consistency::LINEARIZABLE
                                 : net::wire::Consistency::SERIALIZABLE;
  }
  uint64_t NewSessionId() { return rng_() | 1; }

  // Reads the TLS files once, if any (Client::Create).
  absl::Status LoadTls();

  // Requests started by Client::*Async: Run() waits until none is left.
  void StartAsync(kj::Promise<void> request);
  void RunAsync();

  ClientOptions options_;
  std::shared_ptr<net::Tls> tls_;
  kj::AsyncIoContext io_;
  std::vector<std::string> addresses_;
  std::map<raft::NodeId, std::string> ids_;
  std::mt19937_64 rng_;
  Client::Session default_session_;

 private:
  struct CallState;
  kj::Promise<absl::StatusOr<Outcome>> Try(CallState& call);
  kj::Promise<absl::StatusOr<Outcome>> TryAt(CallState& call, size_t index);
  kj::Promise<absl::StatusOr<Outcome>> Retry(CallState& call);
  // Asks every node at once who leads: the index in addresses_ of the first
  // leader named, or nothing when no node knows within `timeout`.
  kj::Promise<kj::Maybe<size_t>> Discover(kj::Duration timeout);
  kj::Promise<kj::Maybe<size_t>> Probe(size_t index, kj::Duration timeout);
  // The index of the node a "not the leader" answer names (added to
  // addresses_ if new), or nothing.
  kj::Maybe<size_t> IndexOfLeader(raft::NodeId id, const std::string& address);
  kj::Promise<Connection> Dial(const std::string& address,
                               kj::Duration timeout);
  // The error after no node answered: a certificate problem is named as one
  // (kUnauthenticated), and a node that hangs up on a plain-TCP client may
  // want TLS.
  absl::Status Unreachable(const std::string& last_problem, bool hung_up) const;

  size_t current_ = 0;
  bool leader_known_ = false;
  // Nodes whose current connection has answered (a frozen node never has).
  std::vector<std::string> answered_;
  size_t next_read_ = 0;
  void Answered(const std::string& address);
  std::map<std::string, Connection> connections_;
  struct Dialling {
    uint64_t serial;
    kj::ForkedPromise<void> done;
  };
  std::map<std::string, Dialling> connecting_;
  uint64_t serial_ =
      0;  // tells a finished dial or discovery from its successor
  kj::Maybe<kj::ForkedPromise<kj::Maybe<size_t>>> discovery_;
  uint64_t discovery_serial_ = 0;
  // Client::*Async requests in flight, and Run()'s wake-up once none is.
  uint64_t async_in_flight_ = 0;
  kj::Own<kj::PromiseFulfiller<void>> async_idle_;
  kj::Own<kj::TaskSet::ErrorHandler> async_errors_;
  kj::Own<kj::TaskSet> async_tasks_;
  kj::Own<kj::TaskSet> closing_;  // connections being dropped
};

namespace client_internal {

// The status an outcome stands for: OK for ok, not found and compare failed
// (the caller reads those from the outcome), else the error, its kv::Code
// attached (CodeOf in kv/client.h reads it back).
absl::Status ToStatus(const Outcome& reply);

// Asks one node directly (no redirection): `attempt` sends on `kv` and yields
// its Outcome; an unreachable or silent node is an "unavailable" error naming
// it.
absl::StatusOr<Outcome> CallAt(Client::Impl& impl, const std::string& address,
                               const Client::Impl::Attempt& attempt);
// The same, as a promise (Client::StatusAll asks every node at once).
kj::Promise<absl::StatusOr<Outcome>> CallAtAsync(
    Client::Impl& impl, const std::string& address,
    const Client::Impl::Attempt& attempt);

}  // namespace client_internal
}  // namespace raftkv::kv

#endif  // RAFTKV_KV_CLIENT_IMPL_H_
