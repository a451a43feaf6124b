#include "kv/client.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "kv/client_impl.h"

namespace raftkv::kv {

using client_internal::CallAt;
using client_internal::CallAtAsync;
using client_internal::ToStatus;

namespace {
// Where an error status carries its kv::Code (by name).
constexpr char kCodePayload[] = "type.raftkv/kv.Code";
}  // namespace

namespace client_internal {

absl::Status ToStatus(const Outcome& reply) {
  absl::Status status;
  switch (reply.code) {
    case Code::kOk:
    case Code::kNotFound:
    case Code::kCompareFailed:
      return absl::OkStatus();
    case Code::kInvalidArgument:
      status = absl::InvalidArgumentError(reply.message);
      break;
    case Code::kSessionExpired:
      status = absl::AbortedError(reply.message);
      break;
    case Code::kFailedPrecondition:
      status = absl::FailedPreconditionError(reply.message);
      break;
    case Code::kPermissionDenied:
      status = absl::PermissionDeniedError(reply.message);
      break;
    case Code::kNotLeader:
    case Code::kUnavailable:
      status = absl::UnavailableError(reply.message);
      break;
  }
  status.SetPayload(kCodePayload, absl::Cord(CodeName(reply.code)));
  return status;
}

}  // namespace client_internal

std::optional<Code> CodeOf(const absl::Status& status) {
  auto name = status.GetPayload(kCodePayload);
  if (!name) return std::nullopt;
  for (int i = 0; i < kCodeCount; ++i) {
    if (*name == CodeName(static_cast<Code>(i))) return static_cast<Code>(i);
  }
  return std::nullopt;
}

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
  auto impl =
      std::make_unique<Impl>(options, std::move(addresses), std::move(ids));
  if (absl::Status tls = impl->LoadTls(); !tls.ok()) return tls;
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

const std::vector<std::string>& Client::addresses() const {
  return impl_->addresses_;
}
uint64_t Client::client_id() const { return impl_->default_session_.id; }

namespace {

// A get of `key`; the value, if any, lands in `*value`.
Client::Impl::Attempt GetAttempt(const std::string& key,
                                 net::wire::Consistency consistency,
                                 std::optional<std::string>* value) {
  return [&key, consistency, value](KvService::Client& kv) {
    auto request = kv.getRequest(
        capnp::MessageSize{4 + key.size() / sizeof(capnp::word), 0});
    request.setKey(AsData(key));
    request.setConsistency(consistency);
    return request.send().then([value](auto response) {
      auto result = response.getResult();
      if (result.getHasValue() && value != nullptr)
        *value = ToString(result.getValue());
      return Decode(result);
    });
  };
}

// A write for `session` with `sequence` (the same for every retry: exactly
// once); `fill` sets the command, whose keys and values take `bytes` in all,
// and a value in the answer lands in `*value`.
template <typename Fill>
Client::Impl::Attempt WriteAttempt(uint64_t session, uint64_t sequence,
                                   Fill fill, size_t bytes,
                                   std::optional<std::string>* value) {
  // A first segment that fits the command (Cap'n Proto's default is 8 KiB,
  // zeroed, for every request).
  const capnp::MessageSize size{16 + bytes / sizeof(capnp::word), 0};
  return [session, sequence, fill, size, value](KvService::Client& kv) {
    auto request = kv.writeRequest(size);
    auto command = request.initCommand();
    command.getSession().setClientId(session);
    command.getSession().setSequence(sequence);
    fill(command);
    return request.send().then([value](auto response) {
      auto result = response.getResult();
      if (value != nullptr && result.getHasValue())
        *value = ToString(result.getValue());
      return Decode(result);
    });
  };
}

template <typename Fill>
absl::StatusOr<Outcome> SendWrite(Client::Impl& impl, Fill fill, size_t bytes,
                                  std::optional<std::string>* value) {
  Client::Session& session = impl.default_session_;
  return impl.Call(
      WriteAttempt(session.id, session.next_sequence++, fill, bytes, value));
}

}  // namespace

absl::StatusOr<std::optional<std::string>> Client::Get(const std::string& key) {
  std::optional<std::string> value;
  auto reply = impl_->Read(GetAttempt(key, impl_->consistency(), &value));
  if (!reply.ok()) return reply.status();
  if (absl::Status status = ToStatus(*reply); !status.ok()) return status;
  return value;
}

absl::Status Client::Put(const std::string& key, const std::string& value) {
  auto reply = SendWrite(
      *impl_,
      [&](net::wire::Command::Builder command) {
        command.initPut().setKey(AsData(key));
        command.getPut().setValue(AsData(value));
      },
      key.size() + value.size(), nullptr);
  if (!reply.ok()) return reply.status();
  return ToStatus(*reply);
}

Client::Session Client::NewSession() {
  Session session;
  session.id = impl_->NewSessionId();
  return session;
}

namespace {

absl::Status StatusOfReply(const absl::StatusOr<Outcome>& reply) {
  return reply.ok() ? ToStatus(*reply) : reply.status();
}

}  // namespace

void Client::PutAsync(Session& session, std::string key, std::string value,
                      Done done) {
  if (session.busy) {
    done(absl::FailedPreconditionError(
        "this session already has a request in flight"));
    return;
  }
  session.busy = true;
  // The attempt reads the key and value by reference: they live with it.
  auto owned = std::make_shared<std::pair<std::string, std::string>>(
      std::move(key), std::move(value));
  auto attempt = WriteAttempt(
      session.id, session.next_sequence++,
      [owned](net::wire::Command::Builder command) {
        command.initPut().setKey(AsData(owned->first));
        command.getPut().setValue(AsData(owned->second));
      },
      owned->first.size() + owned->second.size(), nullptr);
  impl_->StartAsync(impl_->CallAsync(std::move(attempt))
                        .then([&session, done = std::move(done)](
                                  absl::StatusOr<Outcome> reply) {
                          session.busy = false;
                          done(StatusOfReply(reply));
                        }));
}

void Client::GetAsync(std::string key, Done done) {
  auto owned = std::make_shared<std::string>(std::move(key));
  auto attempt = [owned,
                  read = GetAttempt(*owned, impl_->consistency(), nullptr)](
                     KvService::Client& kv) { return read(kv); };
  impl_->StartAsync(
      impl_->CallAsync(std::move(attempt))
          .then([done = std::move(done)](absl::StatusOr<Outcome> reply) {
            done(StatusOfReply(reply));
          }));
}

void Client::Run() { impl_->RunAsync(); }

absl::StatusOr<bool> Client::Delete(const std::string& key) {
  auto reply = SendWrite(
      *impl_,
      [&](net::wire::Command::Builder command) {
        command.initDelete().setKey(AsData(key));
      },
      key.size(), nullptr);
  if (!reply.ok()) return reply.status();
  if (absl::Status status = ToStatus(*reply); !status.ok()) return status;
  return reply->code == Code::kOk;
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
      key.size() + (expected.has_value() ? expected->size() : 0) + value.size(),
      &cas.current);
  if (!reply.ok()) return reply.status();
  if (absl::Status status = ToStatus(*reply); !status.ok()) return status;
  cas.swapped = reply->code == Code::kOk;
  return cas;
}

absl::StatusOr<ListResult> Client::List(const std::string& prefix,
                                        const std::string& start,
                                        uint32_t limit, bool keys_only) {
  ListResult list;
  auto reply = impl_->Read([&](KvService::Client& kv) {
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
      return Decode(response.getResult());
    });
  });
  if (!reply.ok()) return reply.status();
  if (absl::Status status = ToStatus(*reply); !status.ok()) return status;
  return list;
}

namespace client_internal {

kj::Promise<absl::StatusOr<Outcome>> CallAtAsync(
    Client::Impl& impl, const std::string& address,
    const Client::Impl::Attempt& attempt) {
  auto unreachable = [&impl, address](const std::string& problem) {
    impl.Drop(address);
    return absl::StatusOr<Outcome>(absl::UnavailableError(
        absl::StrCat("node at ", address, " is unreachable: ", problem)));
  };
  return kj::evalNow([&] {
           return impl.SendTo(
               address, impl.options_.timeout_ms * kj::MILLISECONDS, attempt);
         })
      .then(
          [unreachable](Outcome reply) -> absl::StatusOr<Outcome> {
            if (reply.code == Code::kUnavailable &&
                reply.message == "timed out") {
              return unreachable(reply.message);
            }
            return reply;
          },
          [unreachable](kj::Exception&& e) {
            return unreachable(e.getDescription().cStr());
          });
}

absl::StatusOr<Outcome> CallAt(Client::Impl& impl, const std::string& address,
                               const Client::Impl::Attempt& attempt) {
  return CallAtAsync(impl, address, attempt).wait(impl.io_.waitScope);
}

}  // namespace client_internal

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
      return Decode(response.getResult());
    });
  });
  if (!reply.ok()) return reply.status();
  if (absl::Status status = ToStatus(*reply); !status.ok()) return status;
  return list;
}

namespace {

// A status request whose answer lands in `*info`.
Client::Impl::Attempt StatusAttempt(bool with_digest, NodeInfo* info) {
  return [with_digest, info](KvService::Client& kv) {
    auto request = kv.statusRequest();
    request.setWithDigest(with_digest);
    return request.send().then([info](auto response) {
      auto s = response.getStatus();
      info->id = s.getNodeId();
      info->role = s.getRole();
      info->term = s.getTerm();
      info->leader = s.getLeaderId();
      info->leader_address = s.getLeaderAddress();
      info->commit = s.getCommitIndex();
      info->applied = s.getAppliedIndex();
      info->digest = s.getDigest();
      for (auto m : s.getMembers()) info->members[m.getId()] = m.getAddress();
      return Outcome{};
    });
  };
}

}  // namespace

absl::StatusOr<NodeInfo> Client::Status(const std::string& address,
                                        bool with_digest) {
  NodeInfo info;
  auto reply = CallAt(*impl_, address, StatusAttempt(with_digest, &info));
  if (!reply.ok()) return reply.status();
  return info;
}

std::vector<absl::StatusOr<NodeInfo>> Client::StatusAll(bool with_digest) {
  const std::vector<std::string>& addresses = impl_->addresses_;
  const size_t n = addresses.size();
  std::vector<NodeInfo> infos(n);
  std::vector<Impl::Attempt> attempts;
  for (size_t i = 0; i < n; ++i)
    attempts.push_back(StatusAttempt(with_digest, &infos[i]));
  // All at once: a frozen node costs the command one timeout, not one each.
  kj::Vector<kj::Promise<absl::StatusOr<Outcome>>> calls;
  for (size_t i = 0; i < n; ++i)
    calls.add(CallAtAsync(*impl_, addresses[i], attempts[i]));
  kj::Array<absl::StatusOr<Outcome>> replies =
      kj::joinPromises(calls.releaseAsArray()).wait(impl_->io_.waitScope);
  std::vector<absl::StatusOr<NodeInfo>> out;
  for (size_t i = 0; i < n; ++i) {
    if (replies[i].ok()) {
      out.push_back(std::move(infos[i]));
    } else {
      out.push_back(replies[i].status());
    }
  }
  return out;
}

}  // namespace raftkv::kv
