// Client::Impl and the helpers that the client's source files share:
// the connection cache, leader-following Call, and one-node CallAt. Internal
// to //kv:client. Thread safety: as Client (one thread, owns its event loop).
#ifndef RAFTKV_KV_CLIENT_IMPL_H_
#define RAFTKV_KV_CLIENT_IMPL_H_

#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>

#include <algorithm>
#include <functional>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "kv/client.h"
#include "kv/outcome.h"
#include "kv/outcome_wire.h"
#include "net/buffered_stream.h"
#include "net/bytes.h"
#include "net/kv.capnp.h"
#include "net/peer_transport.h"

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
  Impl(const ClientOptions& options, std::vector<std::string> addresses,
       std::map<raft::NodeId, std::string> ids)
      : options_(options),
        io_(kj::setupAsyncIo()),
        addresses_(std::move(addresses)),
        ids_(std::move(ids)),
        rng_(std::random_device{}()),
        client_id_(rng_() | 1) {}

  ~Impl() { connections_.clear(); }

  // Runs `attempt` against the node believed to be the leader, following
  // redirections and skipping unreachable nodes, until an answer that is not
  // "go elsewhere" or the deadline. With `not_idempotent` (a membership
  // change), a request a node may have accepted is never sent again: one
  // attempt gets the whole deadline, and its "unavailable" or silence is the
  // answer.
  absl::StatusOr<Outcome> Call(
      const std::function<kj::Promise<Outcome>(KvService::Client&)>& attempt,
      bool not_idempotent = false) {
    auto& timer = io_.provider->getTimer();
    const kj::TimePoint deadline =
        timer.now() + options_.timeout_ms * kj::MILLISECONDS;
    uint64_t backoff_ms = 20;
    std::string last_problem = "no node answered";
    bool hung_up = false;  // a node closed the connection on us
    while (timer.now() < deadline) {
      const std::string address = addresses_[current_];
      const kj::Duration left = deadline - timer.now();
      const kj::Duration per_attempt =
          not_idempotent
              ? left
              : std::min(left, std::max<kj::Duration>(
                                   1000 * kj::MILLISECONDS,
                                   options_.timeout_ms * kj::MILLISECONDS / 3));
      Outcome reply;
      bool answered = false;
      KJ_IF_MAYBE (exception, kj::runCatchingExceptions([&] {
                     KvService::Client& kv = Connect(address, per_attempt);
                     auto timeout =
                         timer.afterDelay(per_attempt).then([]() -> Outcome {
                           return Unavailable("timed out");
                         });
                     reply = attempt(kv)
                                 .exclusiveJoin(kj::mv(timeout))
                                 .wait(io_.waitScope);
                     answered = true;
                   })) {
        last_problem =
            absl::StrCat(address, ": ", exception->getDescription().cStr());
        hung_up = hung_up || LooksLikeHangUp(last_problem);
      }
      if (answered && reply.code != Code::kNotLeader &&
          (reply.code != Code::kUnavailable || not_idempotent)) {
        if (not_idempotent && reply.message == "timed out") {
          return absl::UnavailableError(absl::StrCat(
              address, " did not answer within ", options_.timeout_ms,
              " ms; the change may still be applied: see kvnode member list"));
        }
        return reply;
      }
      if (!answered || reply.message == "timed out") {
        connections_.erase(
            address);  // a dead or paused node: drop it and move on
      }
      if (answered) last_problem = absl::StrCat(address, ": ", reply.message);
      if (answered && reply.code == Code::kNotLeader && reply.leader_id != 0) {
        // Prefer our own address for that node id: it may differ from the
        // node's view.
        auto it = ids_.find(reply.leader_id);
        const std::string leader =
            it != ids_.end() ? it->second : reply.leader_address;
        auto pos = std::find(addresses_.begin(), addresses_.end(), leader);
        if (pos == addresses_.end()) {
          addresses_.push_back(leader);
          pos = addresses_.end() - 1;
        }
        const size_t next = static_cast<size_t>(pos - addresses_.begin());
        if (next != current_) {
          current_ = next;
          continue;  // go straight to the leader
        }
      }
      current_ = (current_ + 1) % addresses_.size();
      const uint64_t jitter = rng_() % (backoff_ms / 2 + 1);
      timer.afterDelay((backoff_ms + jitter) * kj::MILLISECONDS)
          .wait(io_.waitScope);
      backoff_ms = std::min<uint64_t>(backoff_ms * 2, 200);
    }
    return Unreachable(last_problem, hung_up);
  }

  KvService::Client& Connect(const std::string& address, kj::Duration timeout) {
    auto it = connections_.find(address);
    if (it != connections_.end()) return *it->second.kv;
    auto& timer = io_.provider->getTimer();
    auto stream = io_.provider->getNetwork()
                      .parseAddress(address)
                      .then([](kj::Own<kj::NetworkAddress> a) {
                        return a->connect().attach(kj::mv(a));
                      })
                      .exclusiveJoin(timer.afterDelay(timeout).then(
                          []() -> kj::Own<kj::AsyncIoStream> {
                            KJ_FAIL_REQUIRE("connect timed out");
                          }))
                      .wait(io_.waitScope);
    if (tls_ != nullptr) {
      // The node must prove it is the host we dialled (its certificate's
      // subjectAltName), and we present ours.
      stream = tls_->WrapClient(kj::mv(stream), net::HostOf(address))
                   .exclusiveJoin(timer.afterDelay(timeout).then(
                       []() -> kj::Own<kj::AsyncIoStream> {
                         KJ_FAIL_REQUIRE("TLS handshake timed out");
                       }))
                   .wait(io_.waitScope);
    }
    Connection connection;
    net::SetNoDelay(*stream);
    connection.stream = kj::heap<net::BufferedStream>(kj::mv(stream));
    capnp::ReaderOptions limits;
    limits.traversalLimitInWords = (64ull << 20) / sizeof(capnp::word);
    connection.network = kj::heap<capnp::TwoPartyVatNetwork>(
        *connection.stream, capnp::rpc::twoparty::Side::CLIENT, limits);
    connection.rpc = kj::heap<capnp::RpcSystem<capnp::rpc::twoparty::VatId>>(
        capnp::makeRpcClient(*connection.network));
    capnp::MallocMessageBuilder vat;
    auto server = vat.initRoot<capnp::rpc::twoparty::VatId>();
    server.setSide(capnp::rpc::twoparty::Side::SERVER);
    connection.kv = kj::heap<KvService::Client>(
        connection.rpc->bootstrap(server).castAs<KvService>());
    return *connections_.emplace(address, kj::mv(connection)).first->second.kv;
  }

  net::wire::Consistency consistency() const {
    return options_.linearizable ? net::wire::Consistency::LINEARIZABLE
                                 : net::wire::Consistency::SERIALIZABLE;
  }
  uint64_t NextSequence() { return next_sequence_++; }

  // Reads the TLS files once, if any (Client::Create).
  absl::Status LoadTls() {
    if (!options_.tls.configured()) return absl::OkStatus();
    absl::StatusOr<std::shared_ptr<net::Tls>> tls =
        net::Tls::Load(options_.tls, io_.provider->getTimer());
    if (!tls.ok()) return tls.status();
    tls_ = *tls;
    return absl::OkStatus();
  }

  // The error after no node answered: a certificate problem is named as one
  // (kUnauthenticated), and a node that hangs up on a plain-TCP client may
  // want TLS.
  static bool LooksLikeHangUp(const std::string& problem) {
    return absl::StrContains(problem, "isconnected") ||
           absl::StrContains(problem, "EOF") ||
           absl::StrContains(problem, "segments");
  }

  absl::Status Unreachable(const std::string& last_problem,
                           bool hung_up) const {
    const bool tls_problem = absl::StrContains(last_problem, "SSL") ||
                             absl::StrContains(last_problem, "TLS") ||
                             absl::StrContains(last_problem, "tls") ||
                             absl::StrContains(last_problem, "ssl") ||
                             absl::StrContains(last_problem, "certificate");
    if (tls_problem) {
      return absl::UnauthenticatedError(absl::StrCat(
          "TLS refused: ", last_problem,
          tls_ == nullptr ? "; the node requires TLS: give --ca-file, "
                            "--cert-file and --key-file"
                          : "; check that --cert-file is signed by the CA "
                            "the node trusts, not expired, and that "
                            "--ca-file signed the node's certificate"));
    }
    return absl::UnavailableError(absl::StrCat(
        "cluster unavailable: no leader answered within ", options_.timeout_ms,
        " ms (tried ", absl::StrJoin(addresses_, ", "),
        "; last: ", last_problem, ")",
        tls_ == nullptr && hung_up
            ? "; if the cluster requires TLS, give --ca-file, --cert-file "
              "and --key-file"
            : ""));
  }

  ClientOptions options_;
  std::shared_ptr<net::Tls> tls_;
  kj::AsyncIoContext io_;
  std::vector<std::string> addresses_;
  std::map<raft::NodeId, std::string> ids_;
  std::mt19937_64 rng_;
  uint64_t client_id_;
  uint64_t next_sequence_ = 1;
  size_t current_ = 0;
  std::map<std::string, Connection> connections_;
};

namespace client_internal {

// The status an outcome stands for: OK for ok, not found and compare failed
// (the caller reads those from the outcome), else the error, its kv::Code
// attached (CodeOf in kv/client.h reads it back).
absl::Status ToStatus(const Outcome& reply);

// Asks one node directly (no redirection): `attempt` sends on `kv` and yields
// its Outcome; an unreachable or silent node is an "unavailable" error naming
// it.
absl::StatusOr<Outcome> CallAt(
    Client::Impl& impl, const std::string& address,
    const std::function<kj::Promise<Outcome>(KvService::Client&)>& attempt);

}  // namespace client_internal
}  // namespace raftkv::kv

#endif  // RAFTKV_KV_CLIENT_IMPL_H_
