// The client face of a kvnode (net/kv.capnp): ClientService, the client API
// over Cap'n Proto RPC. Each method decodes, asks the runtime, and encodes.
// (Peers send Raft messages over the peer stream instead: node_peer_inbox.cc.)
#include <capnp/message.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "kv/admission.h"
#include "kv/node_members.h"
#include "kv/node_runtime.h"
#include "kv/outcome_wire.h"
#include "net/bytes.h"
#include "net/raft_codec.h"

namespace raftkv::kv {

using net::AsData;
using net::ToString;
namespace {

using net::wire::KvService;

class ClientService final : public KvService::Server {
 public:
  ClientService(NodeRuntime& runtime, const Identity& identity)
      : runtime_(runtime),
        admission_(LimitsOf(runtime.options())),
        identity_(identity),
        role_(runtime.RoleOf(identity)) {}

 protected:
  // Client requests, counted and timed by operation and result (the code
  // of the reply; "error" for a request that failed with an exception).
  kj::Promise<void> get(GetContext context) override {
    return Timed("get", context, Get(context));
  }
  kj::Promise<void> write(WriteContext context) override {
    const char* op = "write";
    switch (context.getParams().getCommand().which()) {
      case net::wire::Command::PUT:
        op = "put";
        break;
      case net::wire::Command::DELETE:
        op = "delete";
        break;
      case net::wire::Command::CAS:
        op = "cas";
        break;
      case net::wire::Command::NOOP:
        op = "noop";
        break;
    }
    return Timed(op, context, Write(context));
  }
  kj::Promise<void> list(ListContext context) override {
    return Timed("list", context, List(context));
  }

  template <typename Context>
  kj::Promise<void> Timed(const char* op, Context context,
                          kj::Promise<void> work) {
    const auto start = std::chrono::steady_clock::now();
    auto seconds = [start] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                           start)
          .count();
    };
    return work.then(
        [this, op, context, seconds]() mutable {
          const double took = seconds();
          runtime_.metrics().ObserveRequest(
              op,
              CodeName(FromWire(context.getResults().getResult().getCode())),
              took);
          runtime_.ObserveRequestTime(op, took);
        },
        [this, op, seconds](kj::Exception&& e) {
          runtime_.metrics().ObserveRequest(op, "error", seconds());
          kj::throwRecoverableException(kj::mv(e));
        });
  }

  // Decode, admit, ask the runtime, encode.
  kj::Promise<void> Get(GetContext context) {
    if (auto denied = Denied(Role::kReadOnly, "get")) {
      Answer(context, *denied);
      return kj::READY_NOW;
    }
    auto params = context.getParams();
    std::string key = ToString(params.getKey());
    if (auto refused = admission_.Key(key)) {
      Answer(context, *refused);
      return kj::READY_NOW;
    }
    return runtime_.Get(std::move(key), Linearizable(params.getConsistency()))
        .then([context](Outcome outcome) mutable { Answer(context, outcome); });
  }

  kj::Promise<void> Write(WriteContext context) {
    if (auto denied = Denied(Role::kReadWrite, "a write")) {
      Answer(context, *denied);
      return kj::READY_NOW;
    }
    auto command = context.getParams().getCommand();
    if (auto refused = admission_.Command(command)) {
      Answer(context, *refused);
      return kj::READY_NOW;
    }
    return runtime_.Write(command).then(
        [context](Outcome outcome) mutable { Answer(context, outcome); });
  }

  kj::Promise<void> List(ListContext context) {
    if (auto denied = Denied(Role::kReadOnly, "list")) {
      Answer(context, *denied);
      return kj::READY_NOW;
    }
    auto params = context.getParams();
    if (auto refused = admission_.ListPage(params.getLimit())) {
      Answer(context, *refused);
      return kj::READY_NOW;
    }
    storage::ScanOptions options;
    options.prefix = ToString(params.getPrefix());
    options.start = ToString(params.getStart());
    options.end = ToString(params.getEnd());
    options.keys_only = params.getKeysOnly();
    options.limit = params.getLimit() == 0 ? 100 : params.getLimit();
    return runtime_
        .Scan(std::move(options), Linearizable(params.getConsistency()))
        .then([context](ScanResult scan) mutable {
          auto results = context.getResults();
          Encode(scan.outcome, results.initResult());
          if (!scan.outcome.ok()) return;
          const auto& page = scan.page.items;
          auto items = results.initItems(static_cast<unsigned>(page.size()));
          for (size_t i = 0; i < page.size(); ++i) {
            items[static_cast<unsigned>(i)].setKey(AsData(page[i].key));
            items[static_cast<unsigned>(i)].setValue(AsData(page[i].value));
          }
          results.setMore(scan.page.more);
          results.setNextStart(AsData(scan.page.next_start));
        });
  }

  static bool Linearizable(net::wire::Consistency consistency) {
    return consistency != net::wire::Consistency::SERIALIZABLE;
  }

  static Limits LimitsOf(const NodeOptions& options) {
    Limits limits;
    limits.max_key_bytes = options.max_key_bytes;
    limits.max_value_bytes = options.max_value_bytes;
    limits.max_request_bytes = options.max_request_bytes;
    return limits;
  }

  kj::Promise<void> status(StatusContext context) override {
    if (auto denied = Denied(Role::kReadOnly, "status")) {
      return KJ_EXCEPTION(FAILED, denied->message);
    }
    auto out = context.getResults().initStatus();
    const raft::Core& core = runtime_.core();
    out.setNodeId(core.id());
    out.setRole(raft::RoleName(core.role()));
    out.setTerm(core.term());
    out.setLeaderId(core.leader());
    out.setLeaderAddress(runtime_.LeaderAddress());
    out.setCommitIndex(core.log().committed());
    out.setAppliedIndex(runtime_.machine().applied());
    out.setClusterId(runtime_.cluster_id());
    const MemberAddresses& known = runtime_.driver().members();
    auto members = out.initMembers(static_cast<unsigned>(known.size()));
    unsigned i = 0;
    for (const auto& [id, address] : known) {
      members[i].setId(id);
      members[i].setAddress(address);
      ++i;
    }
    if (!context.getParams().getWithDigest()) return kj::READY_NOW;
    auto reader = runtime_.machine().store().ReadSnapshot();
    if (!reader.ok()) {
      return KJ_EXCEPTION(FAILED, "reading the state for its digest failed",
                          std::string(reader.status().message()));
    }
    out.setAppliedIndex((*reader)->applied_index());
    return Digest(kj::mv(*reader), std::string())
        .then([context](uint64_t d) mutable {
          context.getResults().getStatus().setDigest(d);
        });
  }

  // Streams a point-in-time snapshot one chunk per event-loop turn (so a
  // big store never stalls the node) and returns its trailer checksum.
  static kj::Promise<uint64_t> Digest(
      std::unique_ptr<storage::KvSnapshotReader> reader, std::string tail) {
    absl::StatusOr<std::optional<std::string>> chunk =
        reader->NextChunk(1 << 20);
    if (!chunk.ok()) {
      return KJ_EXCEPTION(FAILED, "reading the state for its digest failed",
                          std::string(chunk.status().message()));
    }
    if (!chunk->has_value()) {
      // The trailer ends with the checksum (storage/kv_snapshot_codec.h).
      uint64_t digest = 0;
      if (tail.size() < 8) return digest;
      for (size_t i = tail.size() - 8; i < tail.size(); ++i)
        digest = (digest << 8) | static_cast<uint8_t>(tail[i]);
      return digest;
    }
    tail += **chunk;
    if (tail.size() > 8) tail.erase(0, tail.size() - 8);
    return kj::evalLater(
        [reader = kj::mv(reader), tail = kj::mv(tail)]() mutable {
          return Digest(kj::mv(reader), kj::mv(tail));
        });
  }

  kj::Promise<void> saveSnapshot(SaveSnapshotContext context) override {
    if (auto denied = Denied(Role::kAdmin, "snapshot save")) {
      Answer(context, *denied);
      return kj::READY_NOW;
    }
    if (runtime_.core().role() != raft::Role::kLeader) {
      Answer(context, runtime_.driver().NotLeader());
      return kj::READY_NOW;
    }
    auto sink = context.getParams().getSink();
    return runtime_.ReadBarrier().then([this, context,
                                        sink](Outcome barrier) mutable
                                       -> kj::Promise<void> {
      if (barrier.code != Code::kOk) {
        Answer(context, barrier);
        return kj::READY_NOW;
      }
      auto reader = runtime_.machine().store().ReadSnapshot();
      if (!reader.ok()) {
        Answer(context, Unavailable(std::string(reader.status().message())));
        return kj::READY_NOW;
      }
      const raft::LogIndex index = (*reader)->applied_index();
      auto begin = sink.beginRequest();
      auto info = begin.initInfo();
      info.setClusterId(runtime_.cluster_id());
      info.setIndex(index);
      info.setTerm(runtime_.core().log().TermOrZero(index));
      const raft::ConfState conf = runtime_.core().ConfStateAt(index);
      auto voters = info.initVoters(static_cast<unsigned>(conf.voters.size()));
      for (unsigned i = 0; i < conf.voters.size(); ++i)
        voters.set(i, conf.voters[i]);
      const MemberAddresses& known = runtime_.driver().members();
      auto members = info.initMembers(static_cast<unsigned>(known.size()));
      unsigned i = 0;
      for (const auto& [id, address] : known) {
        members[i].setId(id);
        members[i].setAddress(address);
        ++i;
      }
      std::shared_ptr<storage::KvSnapshotReader> shared(std::move(*reader));
      return begin.send()
          .then([sink, shared](auto&&) mutable { return Stream(sink, shared); })
          .then([context]() mutable {
            context.getResults().initResult().setCode(net::wire::Code::OK);
          });
    });
  }

  // One chunk per call, each after the previous one was taken (the client
  // sets the pace; the node holds one chunk at a time).
  static kj::Promise<void> Stream(
      net::wire::SnapshotSink::Client sink,
      std::shared_ptr<storage::KvSnapshotReader> reader) {
    absl::StatusOr<std::optional<std::string>> chunk =
        reader->NextChunk(1 << 20);
    if (!chunk.ok()) {
      return KJ_EXCEPTION(FAILED, "reading the snapshot failed",
                          std::string(chunk.status().message()));
    }
    if (!chunk->has_value()) return kj::READY_NOW;
    auto request = sink.writeRequest();
    request.setChunk(AsData(**chunk));
    return request.send().then([sink, reader](auto&&) mutable {
      return Stream(kj::mv(sink), kj::mv(reader));
    });
  }

  kj::Promise<void> members(MembersContext context) override {
    if (auto denied = Denied(Role::kReadOnly, "member list")) {
      Answer(context, *denied);
      return kj::READY_NOW;
    }
    auto results = context.getResults();
    if (!context.getParams().getAnyNode() &&
        runtime_.core().role() != raft::Role::kLeader) {
      Encode(runtime_.driver().NotLeader(), results.initResult());
      return kj::READY_NOW;
    }
    if (context.getParams().getAnyNode()) {
      results.initResult().setCode(net::wire::Code::OK);
      FillMembership(runtime_, results.initMembership());
      return kj::READY_NOW;
    }
    // The leader's view is a linearizable read: confirm leadership first
    // (a leader that was just removed must not answer with its old view).
    return runtime_.ReadBarrier().then(
        [this, context](Outcome barrier) mutable {
          auto results = context.getResults();
          if (barrier.code != Code::kOk) {
            return Encode(barrier, results.initResult());
          }
          results.initResult().setCode(net::wire::Code::OK);
          FillMembership(runtime_, results.initMembership());
        });
  }

  kj::Promise<void> changeMembership(ChangeMembershipContext context) override {
    if (auto denied = Denied(Role::kAdmin, "a membership change")) {
      Answer(context, *denied);
      return kj::READY_NOW;
    }
    MemberChange change;
    if (auto error = ParseMemberChange(runtime_, context.getParams().getSteps(),
                                       &change)) {
      Answer(context, *error);
      return kj::READY_NOW;
    }
    return runtime_.ChangeMembership(std::move(change.steps), change.added)
        .then([this, context](Outcome result) mutable {
          Answer(context, result);
        });
  }

  kj::Promise<void> moveLeader(MoveLeaderContext context) override {
    if (auto denied = Denied(Role::kAdmin, "move-leader")) {
      Answer(context, *denied);
      return kj::READY_NOW;
    }
    return runtime_.MoveLeader(context.getParams().getNodeId())
        .then([this, context](Outcome result) mutable {
          Answer(context, result);
        });
  }

 private:
  // kPermissionDenied unless this client's role reaches `needed`.
  std::optional<Outcome> Denied(Role needed, const char* what) const {
    if (static_cast<int>(role_) >= static_cast<int>(needed))
      return std::nullopt;
    Outcome denied;
    denied.code = Code::kPermissionDenied;
    denied.message = absl::StrCat(
        "permission denied: ", what, " needs the ", RoleName(needed),
        " role; client \"", identity_.name, "\" has ",
        role_ == Role::kNone ? "none (it is not in --auth-file)"
                             : RoleName(role_));
    return denied;
  }

  NodeRuntime& runtime_;
  const Admission admission_;
  const Identity identity_;
  const Role role_;
};

}  // namespace

capnp::Capability::Client MakeClientService(NodeRuntime& runtime,
                                            const Identity& identity) {
  return kj::heap<ClientService>(runtime, identity);
}

}  // namespace raftkv::kv
