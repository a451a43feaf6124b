// Client::Impl: connections, leader discovery and leader-following calls.
#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "kv/client_impl.h"
#include "net/buffered_stream.h"
#include "net/peer_transport.h"

namespace raftkv::kv {
namespace {

class ThrowOnError final : public kj::TaskSet::ErrorHandler {
 public:
  void taskFailed(kj::Exception&& exception) override {
    kj::throwFatalException(kj::mv(exception));
  }
};

// A node closed the connection on us.
bool LooksLikeHangUp(const std::string& problem) {
  return absl::StrContains(problem, "isconnected") ||
         absl::StrContains(problem, "EOF") ||
         absl::StrContains(problem, "segments");
}

}  // namespace

struct Client::Impl::CallState {
  Attempt attempt;
  bool not_idempotent = false;
  kj::TimePoint deadline = kj::origin<kj::TimePoint>();
  uint64_t backoff_ms = 20;
  std::string last_problem = "no node answered";
  bool hung_up = false;
};

Client::Impl::Impl(const ClientOptions& options,
                   std::vector<std::string> addresses,
                   std::map<raft::NodeId, std::string> ids)
    : options_(options),
      io_(kj::setupAsyncIo()),
      addresses_(std::move(addresses)),
      ids_(std::move(ids)),
      rng_(std::random_device{}()),
      async_errors_(kj::heap<ThrowOnError>()),
      async_tasks_(kj::heap<kj::TaskSet>(*async_errors_)),
      closing_(kj::heap<kj::TaskSet>(*async_errors_)) {
  default_session_.id = NewSessionId();
}

Client::Impl::~Impl() {
  async_tasks_ = nullptr;
  closing_ = nullptr;
  discovery_ = nullptr;
  connecting_.clear();
  connections_.clear();
}

kj::Promise<absl::StatusOr<Outcome>> Client::Impl::CallAsync(
    Attempt attempt, bool not_idempotent) {
  auto call = kj::heap<CallState>();
  call->attempt = std::move(attempt);
  call->not_idempotent = not_idempotent;
  call->deadline =
      io_.provider->getTimer().now() + options_.timeout_ms * kj::MILLISECONDS;
  CallState& ref = *call;
  return Try(ref).attach(kj::mv(call));
}

kj::Promise<absl::StatusOr<Outcome>> Client::Impl::Try(CallState& call) {
  kj::Timer& timer = io_.provider->getTimer();
  if (timer.now() >= call.deadline) {
    return absl::StatusOr<Outcome>(
        Unreachable(call.last_problem, call.hung_up));
  }
  if (leader_known_ || addresses_.size() == 1) return TryAt(call, current_);
  // One discovery round at a time; calls that arrive meanwhile share it.
  if (discovery_ == nullptr) {
    const kj::Duration left = call.deadline - timer.now();
    discovery_ = Discover(std::min(left, 1000 * kj::MILLISECONDS)).fork();
    discovery_serial_ = ++serial_;
  }
  KJ_IF_MAYBE (round, discovery_) {
    return round->addBranch().then(
        [this, &call, serial = discovery_serial_](kj::Maybe<size_t> leader) {
          if (serial == discovery_serial_) discovery_ = nullptr;
          KJ_IF_MAYBE (index, leader) {
            current_ = *index;
            leader_known_ = true;
          }
          // No node named a leader (an election, or the status RPC is not
          // allowed): try the next node in turn, as without discovery.
          return TryAt(call, current_);
        });
  }
  KJ_UNREACHABLE;
}

kj::Promise<absl::StatusOr<Outcome>> Client::Impl::TryAt(CallState& call,
                                                         size_t index) {
  const std::string address = addresses_[index];
  const kj::Duration left = call.deadline - io_.provider->getTimer().now();
  return SendTo(address, PerAttempt(left, call.not_idempotent), call.attempt)
      .then(
          [this, &call, address,
           index](Outcome reply) -> kj::Promise<absl::StatusOr<Outcome>> {
            const bool final =
                reply.code != Code::kNotLeader &&
                (reply.code != Code::kUnavailable || call.not_idempotent);
            if (final) {
              if (call.not_idempotent && reply.message == "timed out") {
                return absl::StatusOr<
                    Outcome>(absl::UnavailableError(absl::StrCat(
                    address, " did not answer within ", options_.timeout_ms,
                    " ms; the change may still be applied: see kvnode member "
                    "list")));
              }
              if (reply.code != Code::kUnavailable) {
                leader_known_ = true;
                Answered(address);
              }
              return absl::StatusOr<Outcome>(std::move(reply));
            }
            // A dead or paused node: drop its connection and move on.
            if (reply.message == "timed out") Drop(address);
            call.last_problem = absl::StrCat(address, ": ", reply.message);
            if (reply.code == Code::kNotLeader && reply.leader_id != 0) {
              KJ_IF_MAYBE (leader, IndexOfLeader(reply.leader_id,
                                                 reply.leader_address)) {
                if (*leader != index) {
                  current_ = *leader;
                  leader_known_ = true;
                  return Try(call);  // go straight to the leader
                }
              }
            }
            return Retry(call);
          },
          [this, &call,
           address](kj::Exception&& e) -> kj::Promise<absl::StatusOr<Outcome>> {
            Drop(address);
            call.last_problem =
                absl::StrCat(address, ": ", e.getDescription().cStr());
            call.hung_up = call.hung_up || LooksLikeHangUp(call.last_problem);
            return Retry(call);
          });
}

kj::Promise<absl::StatusOr<Outcome>> Client::Impl::Retry(CallState& call) {
  // The leader is in doubt: ask everyone again after a short backoff (an
  // election takes a few hundred milliseconds).
  leader_known_ = false;
  current_ = (current_ + 1) % addresses_.size();
  const uint64_t jitter = rng_() % (call.backoff_ms / 2 + 1);
  const uint64_t delay_ms = call.backoff_ms + jitter;
  call.backoff_ms = std::min<uint64_t>(call.backoff_ms * 2, 200);
  return io_.provider->getTimer()
      .afterDelay(delay_ms * kj::MILLISECONDS)
      .then([this, &call] { return Try(call); });
}

kj::Maybe<size_t> Client::Impl::IndexOfLeader(raft::NodeId id,
                                              const std::string& address) {
  // Prefer our own address for that node id: it may differ from the node's
  // view.
  auto it = ids_.find(id);
  const std::string leader = it != ids_.end() ? it->second : address;
  if (leader.empty()) return nullptr;
  auto pos = std::find(addresses_.begin(), addresses_.end(), leader);
  if (pos == addresses_.end()) {
    addresses_.push_back(leader);
    pos = addresses_.end() - 1;
  }
  return static_cast<size_t>(pos - addresses_.begin());
}

kj::Promise<kj::Maybe<size_t>> Client::Impl::Discover(kj::Duration timeout) {
  struct Race {
    kj::Own<kj::PromiseFulfiller<kj::Maybe<size_t>>> fulfiller;
    size_t remaining = 0;
  };
  auto paf = kj::newPromiseAndFulfiller<kj::Maybe<size_t>>();
  auto race = std::make_shared<Race>();
  race->fulfiller = kj::mv(paf.fulfiller);
  race->remaining = addresses_.size();
  kj::Vector<kj::Promise<void>> probes;
  const size_t count = addresses_.size();
  for (size_t i = 0; i < count; ++i) {
    probes.add(Probe(i, timeout)
                   .then([race](kj::Maybe<size_t> leader) {
                     --race->remaining;
                     if (!race->fulfiller->isWaiting()) return;
                     if (leader != nullptr || race->remaining == 0) {
                       race->fulfiller->fulfill(kj::mv(leader));
                     }
                   })
                   .eagerlyEvaluate(nullptr));
  }
  // Probes still waiting when the first leader is named are cancelled with
  // the round.
  return paf.promise.attach(probes.releaseAsArray());
}

kj::Promise<kj::Maybe<size_t>> Client::Impl::Probe(size_t index,
                                                   kj::Duration timeout) {
  const std::string address = addresses_[index];
  return ConnectAsync(address, timeout)
      .then([](KvService::Client kv) {
        auto request = kv.statusRequest();
        return request.send().attach(kj::mv(kv));
      })
      .then(
          [this, index, address](auto response) -> kj::Maybe<size_t> {
            Answered(address);
            auto status = response.getStatus();
            if (status.getRole() == "leader") return index;
            if (status.getLeaderId() == 0) return nullptr;
            return IndexOfLeader(status.getLeaderId(),
                                 status.getLeaderAddress());
          },
          [](kj::Exception&&) -> kj::Maybe<size_t> { return nullptr; })
      .exclusiveJoin(io_.provider->getTimer().afterDelay(timeout).then(
          [this, address]() -> kj::Maybe<size_t> {
            Drop(address);  // a frozen node: dial afresh next time
            return nullptr;
          }));
}

kj::Promise<KvService::Client> Client::Impl::ConnectAsync(
    const std::string& address, kj::Duration timeout) {
  auto it = connections_.find(address);
  if (it != connections_.end()) {
    return KvService::Client(*it->second.kv);
  }
  auto pending = connecting_.find(address);
  if (pending == connecting_.end()) {
    kj::Promise<void> dialled =
        Dial(address, timeout).then([this, address](Connection connection) {
          Drop(address);
          connections_.emplace(address, kj::mv(connection));
        });
    pending =
        connecting_.emplace(address, Dialling{++serial_, dialled.fork()}).first;
  }
  // Whoever gets the result first forgets the dial (but not a newer one).
  auto forget = [this, address, serial = pending->second.serial] {
    auto it = connecting_.find(address);
    if (it != connecting_.end() && it->second.serial == serial) {
      connecting_.erase(it);
    }
  };
  return pending->second.done.addBranch().then(
      [this, address, forget]() -> kj::Promise<KvService::Client> {
        forget();
        auto found = connections_.find(address);
        if (found == connections_.end()) {
          return KJ_EXCEPTION(DISCONNECTED, "connection closed");
        }
        return KvService::Client(*found->second.kv);
      },
      [forget](kj::Exception&& e) -> kj::Promise<KvService::Client> {
        forget();
        return kj::mv(e);
      });
}

void Client::Impl::Answered(const std::string& address) {
  if (std::find(answered_.begin(), answered_.end(), address) ==
      answered_.end()) {
    answered_.push_back(address);
  }
}

kj::Promise<absl::StatusOr<Outcome>> Client::Impl::ReadAsync(Attempt attempt) {
  if (!options_.spread_reads || answered_.size() < 2) {
    return CallAsync(std::move(attempt));
  }
  const std::string address = answered_[next_read_++ % answered_.size()];
  auto shared = std::make_shared<Attempt>(std::move(attempt));
  const kj::Duration whole = options_.timeout_ms * kj::MILLISECONDS;
  return SendTo(address, PerAttempt(whole, false), *shared)
      .then(
          [this, shared,
           address](Outcome reply) -> kj::Promise<absl::StatusOr<Outcome>> {
            if (reply.code != Code::kNotLeader &&
                reply.code != Code::kUnavailable) {
              return absl::StatusOr<Outcome>(std::move(reply));
            }
            if (reply.message == "timed out") Drop(address);
            return CallAsync(*shared).attach(kj::mv(shared));
          },
          [this, shared,
           address](kj::Exception&&) -> kj::Promise<absl::StatusOr<Outcome>> {
            Drop(address);
            return CallAsync(*shared).attach(kj::mv(shared));
          });
}

kj::Promise<Outcome> Client::Impl::SendTo(const std::string& address,
                                          kj::Duration timeout,
                                          const Attempt& attempt) {
  return ConnectAsync(address, timeout)
      .then([&attempt](KvService::Client kv) {
        auto sent = attempt(kv);
        return sent.attach(kj::mv(kv));
      })
      .exclusiveJoin(io_.provider->getTimer().afterDelay(timeout).then(
          []() -> Outcome { return Unavailable("timed out"); }));
}

kj::Duration Client::Impl::PerAttempt(kj::Duration left,
                                      bool not_idempotent) const {
  if (not_idempotent) return left;
  return std::min(
      left, std::max<kj::Duration>(1000 * kj::MILLISECONDS,
                                   options_.timeout_ms * kj::MILLISECONDS / 3));
}

void Client::Impl::Drop(const std::string& address) {
  answered_.erase(std::remove(answered_.begin(), answered_.end(), address),
                  answered_.end());
  auto it = connections_.find(address);
  if (it == connections_.end()) return;
  auto dying = kj::heap<Connection>(kj::mv(it->second));
  connections_.erase(it);
  closing_->add(kj::evalLater([] {}).attach(kj::mv(dying)));
}

kj::Promise<Connection> Client::Impl::Dial(const std::string& address,
                                           kj::Duration timeout) {
  kj::Timer& timer = io_.provider->getTimer();
  std::shared_ptr<net::Tls> tls = tls_;
  const std::string host = net::HostOf(address);
  auto connected =
      io_.provider->getNetwork()
          .parseAddress(address)
          .then([](kj::Own<kj::NetworkAddress> a) {
            return a->connect().attach(kj::mv(a));
          })
          .then([tls, host](kj::Own<kj::AsyncIoStream> stream)
                    -> kj::Promise<kj::Own<kj::AsyncIoStream>> {
            if (tls == nullptr) return kj::mv(stream);
            // The node must prove it is the host we dialled (its
            // certificate's subjectAltName), and we present ours.
            return tls->WrapClient(kj::mv(stream), host).attach(tls);
          });
  return timer.timeoutAfter(timeout, kj::mv(connected))
      .then([](kj::Own<kj::AsyncIoStream> stream) {
        Connection connection;
        net::SetNoDelay(*stream);
        connection.stream = kj::heap<net::BufferedStream>(kj::mv(stream));
        capnp::ReaderOptions limits;
        limits.traversalLimitInWords = (64ull << 20) / sizeof(capnp::word);
        connection.network = kj::heap<capnp::TwoPartyVatNetwork>(
            *connection.stream, capnp::rpc::twoparty::Side::CLIENT, limits);
        connection.rpc =
            kj::heap<capnp::RpcSystem<capnp::rpc::twoparty::VatId>>(
                capnp::makeRpcClient(*connection.network));
        capnp::MallocMessageBuilder vat;
        auto server = vat.initRoot<capnp::rpc::twoparty::VatId>();
        server.setSide(capnp::rpc::twoparty::Side::SERVER);
        connection.kv = kj::heap<KvService::Client>(
            connection.rpc->bootstrap(server).castAs<KvService>());
        return connection;
      });
}

absl::Status Client::Impl::LoadTls() {
  if (!options_.tls.configured()) return absl::OkStatus();
  absl::StatusOr<std::shared_ptr<net::Tls>> tls =
      net::Tls::Load(options_.tls, io_.provider->getTimer());
  if (!tls.ok()) return tls.status();
  tls_ = *tls;
  return absl::OkStatus();
}

void Client::Impl::StartAsync(kj::Promise<void> request) {
  ++async_in_flight_;
  async_tasks_->add(request.then([this] {
    if (--async_in_flight_ == 0 && async_idle_.get() != nullptr) {
      async_idle_->fulfill();
    }
  }));
}

void Client::Impl::RunAsync() {
  if (async_in_flight_ == 0) return;
  auto paf = kj::newPromiseAndFulfiller<void>();
  async_idle_ = kj::mv(paf.fulfiller);
  paf.promise.wait(io_.waitScope);
  async_idle_ = nullptr;
}

absl::Status Client::Impl::Unreachable(const std::string& last_problem,
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
      " ms (tried ", absl::StrJoin(addresses_, ", "), "; last: ", last_problem,
      ")",
      tls_ == nullptr && hung_up
          ? "; if the cluster requires TLS, give --ca-file, --cert-file "
            "and --key-file"
          : ""));
}

}  // namespace raftkv::kv
