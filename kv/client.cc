#include "kv/client.h"

#include <capnp/rpc-twoparty.h>
#include <kj/async-io.h>

#include <algorithm>
#include <functional>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "net/buffered_stream.h"
#include "net/bytes.h"
#include "net/kv.capnp.h"
#include "net/peer_transport.h"

namespace raftkv::kv {

using net::AsData;
using net::ToString;
namespace {

using net::wire::Code;
using net::wire::KvService;

// What every answer says about where to go next.
struct Reply {
  Code code = Code::OK;
  std::string message;
  raft::NodeId leader_id = 0;
  std::string leader_address;
};

Reply ReplyOf(net::wire::Result::Reader result) {
  return Reply{result.getCode(), result.getMessage(), result.getLeaderId(),
               result.getLeaderAddress()};
}

struct Connection {
  kj::Own<kj::AsyncIoStream> stream;
  kj::Own<capnp::TwoPartyVatNetwork> network;
  kj::Own<capnp::RpcSystem<capnp::rpc::twoparty::VatId>> rpc;
  kj::Own<KvService::Client> kv;
};

}  // namespace

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
  // "go elsewhere" or the deadline.
  absl::StatusOr<Reply> Call(
      const std::function<kj::Promise<Reply>(KvService::Client&)>& attempt) {
    auto& timer = io_.provider->getTimer();
    const kj::TimePoint deadline =
        timer.now() + options_.timeout_ms * kj::MILLISECONDS;
    uint64_t backoff_ms = 20;
    std::string last_problem = "no node answered";
    while (timer.now() < deadline) {
      const std::string address = addresses_[current_];
      const kj::Duration left = deadline - timer.now();
      const kj::Duration per_attempt = std::min(
          left,
          std::max<kj::Duration>(1000 * kj::MILLISECONDS,
                                 options_.timeout_ms * kj::MILLISECONDS / 3));
      Reply reply;
      bool answered = false;
      KJ_IF_MAYBE (exception, kj::runCatchingExceptions([&] {
                     KvService::Client& kv = Connect(address, per_attempt);
                     auto timeout =
                         timer.afterDelay(per_attempt).then([]() -> Reply {
                           return Reply{Code::UNAVAILABLE, "timed out", 0, ""};
                         });
                     reply = attempt(kv)
                                 .exclusiveJoin(kj::mv(timeout))
                                 .wait(io_.waitScope);
                     answered = true;
                   })) {
        last_problem =
            absl::StrCat(address, ": ", exception->getDescription().cStr());
      }
      if (answered && reply.code != Code::NOT_LEADER &&
          reply.code != Code::UNAVAILABLE) {
        return reply;
      }
      if (!answered || reply.message == "timed out") {
        connections_.erase(
            address);  // a dead or paused node: drop it and move on
      }
      if (answered) last_problem = absl::StrCat(address, ": ", reply.message);
      if (answered && reply.code == Code::NOT_LEADER && reply.leader_id != 0) {
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
    return absl::UnavailableError(absl::StrCat(
        "cluster unavailable: no leader answered within ", options_.timeout_ms,
        " ms (tried ", absl::StrJoin(addresses_, ", "),
        "; last: ", last_problem, ")"));
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

  ClientOptions options_;
  kj::AsyncIoContext io_;
  std::vector<std::string> addresses_;
  std::map<raft::NodeId, std::string> ids_;
  std::mt19937_64 rng_;
  uint64_t client_id_;
  uint64_t next_sequence_ = 1;
  size_t current_ = 0;
  std::map<std::string, Connection> connections_;
};

namespace {

absl::Status ToStatus(const Reply& reply) {
  switch (reply.code) {
    case Code::OK:
    case Code::NOT_FOUND:
    case Code::COMPARE_FAILED:
      return absl::OkStatus();
    case Code::INVALID_ARGUMENT:
      return absl::InvalidArgumentError(reply.message);
    case Code::SESSION_EXPIRED:
      return absl::FailedPreconditionError(reply.message);
    default:
      return absl::UnavailableError(reply.message);
  }
}

}  // namespace

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

absl::StatusOr<std::unique_ptr<Client>> Client::Create(
    const ClientOptions& options) {
  std::vector<std::string> addresses;
  std::map<raft::NodeId, std::string> ids;
  for (absl::string_view part :
       absl::StrSplit(options.cluster, ',', absl::SkipWhitespace())) {
    std::vector<std::string> kv = absl::StrSplit(part, absl::MaxSplits('=', 1));
    std::string address = kv.back();
    uint64_t id = 0;
    if (kv.size() == 2 && (!absl::SimpleAtoi(kv[0], &id) || id == 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad --cluster entry \"", part,
                       "\": expected HOST:PORT or ID=HOST:PORT"));
    }
    if (address.find(':') == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bad --cluster entry \"", part, "\": expected HOST:PORT"));
    }
    if (id != 0) ids[id] = address;
    addresses.push_back(address);
  }
  if (addresses.empty()) {
    return absl::InvalidArgumentError(
        "--cluster is empty: give at least one HOST:PORT");
  }
  return std::unique_ptr<Client>(new Client(
      std::make_unique<Impl>(options, std::move(addresses), std::move(ids))));
}

const std::vector<std::string>& Client::addresses() const {
  return impl_->addresses_;
}
uint64_t Client::client_id() const { return impl_->client_id_; }

absl::StatusOr<std::optional<std::string>> Client::Get(const std::string& key) {
  std::optional<std::string> value;
  auto reply = impl_->Call([&](KvService::Client& kv) {
    auto request = kv.getRequest();
    request.setKey(AsData(key));
    request.setConsistency(impl_->consistency());
    return request.send().then([&](auto response) {
      auto result = response.getResult();
      if (result.getHasValue()) value = ToString(result.getValue());
      return ReplyOf(result);
    });
  });
  if (!reply.ok()) return reply.status();
  if (absl::Status status = ToStatus(*reply); !status.ok()) return status;
  return value;
}

namespace {

template <typename Fill>
absl::StatusOr<Reply> SendWrite(Client::Impl& impl, Fill fill,
                                std::optional<std::string>* value) {
  const uint64_t sequence =
      impl.NextSequence();  // the same for every retry: exactly once
  return impl.Call([&](KvService::Client& kv) {
    auto request = kv.writeRequest();
    auto command = request.initCommand();
    command.getSession().setClientId(impl.client_id_);
    command.getSession().setSequence(sequence);
    fill(command);
    return request.send().then([value](auto response) {
      auto result = response.getResult();
      if (value != nullptr && result.getHasValue())
        *value = ToString(result.getValue());
      return ReplyOf(result);
    });
  });
}

}  // namespace

absl::Status Client::Put(const std::string& key, const std::string& value) {
  auto reply = SendWrite(
      *impl_,
      [&](net::wire::Command::Builder command) {
        command.initPut().setKey(AsData(key));
        command.getPut().setValue(AsData(value));
      },
      nullptr);
  if (!reply.ok()) return reply.status();
  return ToStatus(*reply);
}

absl::StatusOr<bool> Client::Delete(const std::string& key) {
  auto reply = SendWrite(
      *impl_,
      [&](net::wire::Command::Builder command) {
        command.initDelete().setKey(AsData(key));
      },
      nullptr);
  if (!reply.ok()) return reply.status();
  if (absl::Status status = ToStatus(*reply); !status.ok()) return status;
  return reply->code == Code::OK;
}

absl::StatusOr<CasResult> Client::CompareAndSwap(
    const std::string& key, const std::optional<std::string>& expected,
    const std::string& value) {
  CasResult cas;
  auto reply = SendWrite(
      *impl_,
      [&](net::wire::Command::Builder command) {
        auto c = command.initCas();
        c.setKey(AsData(key));
        c.setExpectAbsent(!expected.has_value());
        if (expected.has_value()) c.setExpected(AsData(*expected));
        c.setValue(AsData(value));
      },
      &cas.current);
  if (!reply.ok()) return reply.status();
  if (absl::Status status = ToStatus(*reply); !status.ok()) return status;
  cas.swapped = reply->code == Code::OK;
  return cas;
}

absl::StatusOr<ListResult> Client::List(const std::string& prefix,
                                        const std::string& start,
                                        uint32_t limit, bool keys_only) {
  ListResult list;
  auto reply = impl_->Call([&](KvService::Client& kv) {
    auto request = kv.listRequest();
    request.setPrefix(AsData(prefix));
    request.setStart(AsData(start));
    request.setLimit(limit);
    request.setKeysOnly(keys_only);
    request.setConsistency(impl_->consistency());
    return request.send().then([&](auto response) {
      list.items.clear();
      for (auto item : response.getItems()) {
        list.items.emplace_back(ToString(item.getKey()),
                                ToString(item.getValue()));
      }
      list.more = response.getMore();
      list.next_start = ToString(response.getNextStart());
      return ReplyOf(response.getResult());
    });
  });
  if (!reply.ok()) return reply.status();
  if (absl::Status status = ToStatus(*reply); !status.ok()) return status;
  return list;
}

namespace {

// Asks one node directly (no redirection): `attempt` sends on `kv` and yields
// its Reply; an unreachable or silent node is an "unavailable" error naming it.
absl::StatusOr<Reply> CallAt(
    Client::Impl& impl, const std::string& address,
    const std::function<kj::Promise<Reply>(KvService::Client&)>& attempt) {
  Reply reply;
  KJ_IF_MAYBE (exception, kj::runCatchingExceptions([&] {
                 auto& timer = impl.io_.provider->getTimer();
                 const kj::Duration timeout =
                     impl.options_.timeout_ms * kj::MILLISECONDS;
                 KvService::Client& kv = impl.Connect(address, timeout);
                 bool answered = true;
                 reply = attempt(kv)
                             .exclusiveJoin(
                                 timer.afterDelay(timeout).then([&answered] {
                                   answered = false;
                                   return Reply{};
                                 }))
                             .wait(impl.io_.waitScope);
                 KJ_REQUIRE(answered, "timed out");
               })) {
    impl.connections_.erase(address);
    return absl::UnavailableError(
        absl::StrCat("node at ", address,
                     " is unreachable: ", exception->getDescription().cStr()));
  }
  return reply;
}

}  // namespace

absl::StatusOr<ListResult> Client::ListAt(const std::string& address,
                                          const std::string& prefix,
                                          uint32_t limit,
                                          const std::string& start) {
  ListResult list;
  auto reply = CallAt(*impl_, address, [&](KvService::Client& kv) {
    auto request = kv.listRequest();
    request.setPrefix(AsData(prefix));
    request.setStart(AsData(start));
    request.setLimit(limit);
    request.setConsistency(net::wire::Consistency::SERIALIZABLE);
    return request.send().then([&](auto response) {
      for (auto item : response.getItems()) {
        list.items.emplace_back(ToString(item.getKey()),
                                ToString(item.getValue()));
      }
      list.more = response.getMore();
      list.next_start = ToString(response.getNextStart());
      return ReplyOf(response.getResult());
    });
  });
  if (!reply.ok()) return reply.status();
  if (absl::Status status = ToStatus(*reply); !status.ok()) return status;
  return list;
}

absl::StatusOr<NodeInfo> Client::Status(const std::string& address) {
  NodeInfo info;
  auto reply = CallAt(*impl_, address, [&](KvService::Client& kv) {
    return kv.statusRequest().send().then([&](auto response) {
      auto s = response.getStatus();
      info.id = s.getNodeId();
      info.role = s.getRole();
      info.term = s.getTerm();
      info.leader = s.getLeaderId();
      info.leader_address = s.getLeaderAddress();
      info.commit = s.getCommitIndex();
      info.applied = s.getAppliedIndex();
      for (auto m : s.getMembers()) info.members[m.getId()] = m.getAddress();
      return Reply{};
    });
  });
  if (!reply.ok()) return reply.status();
  return info;
}

}  // namespace raftkv::kv
