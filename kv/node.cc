#include "kv/node.h"

#include <capnp/rpc-twoparty.h>
#include <kj/async-unix.h>
#include <signal.h>

#include <chrono>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "kv/command.h"
#include "kv/node_runtime.h"
#include "net/buffered_stream.h"
#include "raft/status_macros.h"
#include "storage/file_util.h"

namespace raftkv::kv {
namespace {

class LogErrors final : public kj::TaskSet::ErrorHandler {
 public:
  void taskFailed(kj::Exception&&) override {}
};
LogErrors task_errors;

uint64_t NowMs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
}

struct ServerConnection {
  ServerConnection(kj::Own<kj::AsyncIoStream> stream_in,
                   capnp::Capability::Client bootstrap)
      : stream(kj::mv(stream_in)),
        network(*stream, capnp::rpc::twoparty::Side::SERVER,
                net::PeerReaderOptions()),
        rpc(capnp::makeRpcServer(network, kj::mv(bootstrap))) {}
  kj::Own<kj::AsyncIoStream> stream;
  capnp::TwoPartyVatNetwork network;
  capnp::RpcSystem<capnp::rpc::twoparty::VatId> rpc;
};

}  // namespace

absl::StatusOr<std::map<raft::NodeId, std::string>> ParseCluster(
    const std::string& spec) {
  std::map<raft::NodeId, std::string> cluster;
  for (absl::string_view part :
       absl::StrSplit(spec, ',', absl::SkipWhitespace())) {
    std::vector<std::string> kv = absl::StrSplit(part, absl::MaxSplits('=', 1));
    uint64_t id = 0;
    if (kv.size() != 2 || !absl::SimpleAtoi(kv[0], &id) || id == 0 ||
        kv[1].empty() || kv[1].find(':') == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bad --cluster entry \"", part,
          "\": expected ID=HOST:PORT with ID a positive "
          "number, as in 1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003"));
    }
    if (!cluster.emplace(id, kv[1]).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("--cluster names node ", id, " twice"));
    }
  }
  if (cluster.empty()) {
    return absl::InvalidArgumentError(
        "--cluster is empty: give every member as ID=HOST:PORT, "
        "comma-separated");
  }
  return cluster;
}

StorageWorker::StorageWorker() : thread_([this] { Loop(); }) {}

StorageWorker::~StorageWorker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void StorageWorker::Submit(std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back(std::move(job));
  }
  cv_.notify_one();
}

void StorageWorker::Loop() {
  while (true) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
      if (jobs_.empty()) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

NodeRuntime::NodeRuntime(const NodeOptions& options, kj::AsyncIoContext& io)
    : options_(options), io_(io), tasks_(kj::heap<kj::TaskSet>(task_errors)) {
  uint64_t hash = 14695981039346656037ull;
  for (const auto& [id, address] : options_.cluster)
    hash = (hash ^ id) * 1099511628211ull;
  cluster_id_ = hash;
}

NodeRuntime::~NodeRuntime() {
  tasks_ = nullptr;
  transport_.reset();
  worker_.reset();
}

absl::Status NodeRuntime::Open() {
  if (options_.cluster.count(options_.id) == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--node-id=", options_.id, " is not in --cluster; add it as ",
        options_.id, "=HOST:PORT"));
  }
  RETURN_IF_ERROR(storage::MakeDirectories(options_.data_dir));
  ASSIGN_OR_RETURN(log_storage_, storage::LevelDbLogStorage::Open(
                                     options_.data_dir + "/raft"));
  ASSIGN_OR_RETURN(kv_store_,
                   storage::LevelDbKvStore::Open(options_.data_dir + "/kv"));
  std::vector<raft::NodeId> voters;
  for (const auto& [id, address] : options_.cluster) voters.push_back(id);
  const raft::SnapshotMetadata snapshot = log_storage_->Snapshot();
  if (snapshot.conf_state.voters.empty() && log_storage_->LastIndex() == 0) {
    RETURN_IF_ERROR(
        log_storage_->InstallSnapshot({0, 0, {voters, {}}}));  // a new member
  } else if (snapshot.conf_state.voters != voters) {
    Log(absl::StrCat(
        "node ", options_.id, ": --cluster lists different members than the ",
        "data directory; the data directory's configuration is used"));
  }
  machine_ = std::make_unique<StateMachine>(
      kv_store_.get(), StateMachineOptions{options_.session_ttl_ms});
  RETURN_IF_ERROR(machine_->Load());
  raft::Config config;
  config.id = options_.id;
  config.election_ticks = options_.election_ticks;
  config.seed = NowMs() ^ (options_.id * 0x9e3779b97f4a7c15ull);
  if (options_.log)
    config.log_sink = [this](absl::string_view line) {
      Log(std::string(line));
    };
  ASSIGN_OR_RETURN(core_, raft::Core::Create(config, log_storage_.get()));
  std::map<raft::NodeId, std::string> peers = options_.cluster;
  peers.erase(options_.id);
  transport_ = std::make_unique<net::PeerTransport>(io_, cluster_id_, peers,
                                                    config.seed);
  worker_ = std::make_unique<StorageWorker>();
  executor_ = kj::getCurrentThreadExecutor().addRef();
  return absl::OkStatus();
}

std::string NodeRuntime::LeaderAddress() const {
  auto it = options_.cluster.find(leader_);
  return it == options_.cluster.end() ? "" : it->second;
}

CommandResult NodeRuntime::NotLeader() const {
  CommandResult result;
  result.code = Code::kNotLeader;
  result.message = leader_ == raft::kNoNode
                       ? std::string("no leader is known yet; retry shortly")
                       : absl::StrCat("node ", leader_, " at ", LeaderAddress(),
                                      " is the leader");
  return result;
}

template <typename T>
kj::Promise<T> NodeRuntime::WithTimeout(kj::Promise<T> promise, T on_timeout) {
  return promise.exclusiveJoin(
      io_.provider->getTimer()
          .afterDelay(options_.request_timeout_ms * kj::MILLISECONDS)
          .then([on_timeout = kj::mv(on_timeout)]() mutable {
            return kj::mv(on_timeout);
          }));
}

kj::Promise<CommandResult> NodeRuntime::Write(
    net::wire::Command::Reader command) {
  if (stopping_)
    return CommandResult{Code::kUnavailable, "node is shutting down",
                         std::nullopt};
  if (role_ != raft::Role::kLeader) return NotLeader();
  const std::string data = SerializeCommand(command, NowMs());
  if (data.size() > options_.max_request_bytes) {
    return CommandResult{
        Code::kInvalidArgument,
        absl::StrCat("request of ", data.size(), " bytes exceeds the limit of ",
                     options_.max_request_bytes,
                     " bytes (--max-request-bytes)"),
        std::nullopt};
  }
  absl::StatusOr<raft::LogIndex> index = core_->Propose(data);
  if (!index.ok()) {
    if (raft::IsNotLeader(index.status())) return NotLeader();
    return CommandResult{Code::kUnavailable,
                         std::string(index.status().message()), std::nullopt};
  }
  auto paf = kj::newPromiseAndFulfiller<CommandResult>();
  pending_writes_[*index] = PendingWrite{core_->term(), kj::mv(paf.fulfiller)};
  Process();
  return WithTimeout(
      kj::mv(paf.promise),
      CommandResult{
          Code::kUnavailable,
          absl::StrCat("not committed within ", options_.request_timeout_ms,
                       " ms; retry (a retry is applied at most once)"),
          std::nullopt});
}

kj::Promise<CommandResult> NodeRuntime::ReadBarrier() {
  if (stopping_)
    return CommandResult{Code::kUnavailable, "node is shutting down",
                         std::nullopt};
  if (role_ != raft::Role::kLeader) return NotLeader();
  const std::string context = absl::StrCat("read-", next_read_++);
  absl::Status status = core_->ReadIndex(context);
  if (!status.ok()) return NotLeader();
  auto paf = kj::newPromiseAndFulfiller<CommandResult>();
  pending_reads_[context] =
      PendingRead{raft::kNoIndex, false, kj::mv(paf.fulfiller)};
  Process();
  return WithTimeout(
      kj::mv(paf.promise),
      CommandResult{Code::kUnavailable,
                    "leadership could not be confirmed in time; retry",
                    std::nullopt});
}

void NodeRuntime::Deliver(std::vector<raft::Message> messages) {
  if (stopping_ && core_ == nullptr) return;
  for (const raft::Message& m : messages) {
    absl::Status status = core_->Step(m);
    (void)status;  // unknown peers and stale messages are dropped by design
  }
  Process();
}

void NodeRuntime::Process() {
  // Once stopping, no new write may start: the storage worker must be idle at
  // exit.
  while (!stopping_ && !failed_ && !write_in_flight_ && core_->HasReady()) {
    auto ready = std::make_shared<raft::Ready>(core_->GetReady());
    AttachSnapshots(ready->early_messages);
    transport_->Send(std::move(ready->early_messages));
    OnRoleChange(ready->role, ready->leader);
    // A Ready whose only durable change is a higher commit index needs no
    // write: Raft does not require the commit index to be durable (a restart
    // relearns it), and the next synced batch carries it anyway. Writing it
    // would put an fsync between commitment and apply on every write.
    const bool persist = ready->must_sync || !ready->entries.empty() ||
                         ready->snapshot.has_value();
    if (!persist) {
      AfterPersist(*ready);
      continue;
    }
    write_in_flight_ = true;
    // The storage thread fulfills a cross-thread promise and goes back to its
    // queue at once; the loop picks the completion up on its next turn.
    auto done = kj::newPromiseAndCrossThreadFulfiller<absl::Status>();
    auto fulfiller = std::make_shared<
        kj::Own<kj::CrossThreadPromiseFulfiller<absl::Status>>>(
        kj::mv(done.fulfiller));
    worker_->Submit([this, ready, fulfiller] {
      absl::Status status;
      Persist(*ready, &status);
      (*fulfiller)->fulfill(kj::mv(status));
    });
    tasks_->add(done.promise.then([this, ready](absl::Status status) {
      write_in_flight_ = false;
      if (!status.ok()) {
        // The disk refused a write Raft depends on: this node cannot continue
        // safely.
        failed_ = true;
        Log(absl::StrCat("node ", options_.id,
                         ": storage failed, stopping: ", status.message()));
        FailAllPending(
            {Code::kUnavailable, "node storage failed", std::nullopt});
        return;
      }
      AfterPersist(*ready);
      Process();
    }));
  }
}

// Storage thread.
void NodeRuntime::Persist(const raft::Ready& ready, absl::Status* status) {
  if (ready.snapshot.has_value()) {
    const std::string& data = ready.snapshot->data;
    bool given = false;
    *status = kv_store_->RestoreSnapshot(
        [&]() -> absl::StatusOr<std::optional<std::string>> {
          if (given) return std::nullopt;
          given = true;
          return data;
        });
    if (!status->ok()) return;
    *status = log_storage_->InstallSnapshot(ready.snapshot->metadata);
    if (!status->ok()) return;
  }
  if (ready.must_sync || !ready.entries.empty()) {
    *status = log_storage_->Save(ready.hard_state, ready.entries);
  }
}

void NodeRuntime::AfterPersist(raft::Ready& ready) {
  AttachSnapshots(ready.messages);
  transport_->Send(std::move(ready.messages));
  if (ready.snapshot.has_value()) {
    absl::Status loaded = machine_->Load();
    if (!loaded.ok()) Log(std::string(loaded.message()));
  }
  // Apply every newly committed entry with one store write (entries applied
  // before a restart are skipped), then answer the clients waiting on them.
  size_t first_new = 0;
  while (first_new < ready.committed_entries.size() &&
         ready.committed_entries[first_new].index <= machine_->applied()) {
    ++first_new;
  }
  absl::Span<const raft::Entry> fresh =
      absl::MakeConstSpan(ready.committed_entries).subspan(first_new);
  if (!fresh.empty()) {
    absl::StatusOr<std::vector<CommandResult>> results =
        machine_->ApplyEntries(fresh);
    if (!results.ok()) {
      failed_ = true;
      Log(absl::StrCat("node ", options_.id, ": applying entries ",
                       fresh.front().index, "..", fresh.back().index,
                       " failed, stopping: ", results.status().message()));
      FailAllPending({Code::kUnavailable, "node storage failed", std::nullopt});
      return;
    }
    for (size_t i = 0; i < fresh.size(); ++i) {
      auto it = pending_writes_.find(fresh[i].index);
      if (it == pending_writes_.end()) continue;
      if (it->second.term == fresh[i].term) {
        it->second.fulfiller->fulfill(kj::mv((*results)[i]));
      } else {
        it->second.fulfiller->fulfill(
            {Code::kUnavailable,
             "leadership changed before the write committed; retry",
             std::nullopt});
      }
      pending_writes_.erase(it);
    }
  }
  for (const raft::ReadState& rs : ready.read_states) {
    auto it = pending_reads_.find(rs.context);
    if (it != pending_reads_.end()) {
      it->second.index = rs.index;
      it->second.confirmed = true;
    }
  }
  core_->Advance(ready);
  ServeReads();
  MaybeCompact();
}

void NodeRuntime::ServeReads() {
  for (auto it = pending_reads_.begin(); it != pending_reads_.end();) {
    if (it->second.confirmed && it->second.index <= machine_->applied()) {
      it->second.fulfiller->fulfill(CommandResult{});
      it = pending_reads_.erase(it);
    } else {
      ++it;
    }
  }
}

void NodeRuntime::AttachSnapshots(std::vector<raft::Message>& messages) {
  for (raft::Message& m : messages) {
    if (m.type != raft::MessageType::kSnapshot) continue;
    // Send the state machine as it is now: newer than the log's compaction
    // point, which the follower accepts just the same (it acknowledges the
    // newer index).
    auto reader = kv_store_->ReadSnapshot();
    if (!reader.ok()) continue;
    std::string data;
    while (true) {
      auto chunk = (*reader)->NextChunk(1 << 20);
      if (!chunk.ok() || !chunk->has_value()) break;
      data += **chunk;
    }
    const raft::LogIndex index = (*reader)->applied_index();
    m.snapshot = {index, core_->log().TermOrZero(index), core_->conf_state()};
    m.snapshot_data = std::move(data);
    Log(absl::StrCat("node ", options_.id, ": sending snapshot at index ",
                     index, " (", m.snapshot_data.size(), " bytes) to node ",
                     m.to));
  }
}

void NodeRuntime::OnRoleChange(raft::Role role, raft::NodeId leader) {
  const bool was_leader = role_ == raft::Role::kLeader;
  if (role != role_ || leader != leader_) {
    if (role == raft::Role::kLeader) {
      Log(absl::StrCat("node ", options_.id, ": became leader at term ",
                       core_->term()));
    }
  }
  role_ = role;
  leader_ = leader;
  if (was_leader && role != raft::Role::kLeader) FailAllPending(NotLeader());
}

void NodeRuntime::FailAllPending(const CommandResult& result) {
  for (auto& [index, write] : pending_writes_)
    write.fulfiller->fulfill(CommandResult(result));
  pending_writes_.clear();
  for (auto& [context, read] : pending_reads_)
    read.fulfiller->fulfill(CommandResult(result));
  pending_reads_.clear();
}

void NodeRuntime::MaybeCompact() {
  const raft::LogIndex applied = machine_->applied();
  if (applied < log_storage_->FirstIndex() + options_.compact_after_entries)
    return;
  // Never compact the log past what the state machine has made durable
  // (DESIGN.md).
  absl::Status synced = kv_store_->Sync();
  if (!synced.ok()) return Log(std::string(synced.message()));
  absl::Status compacted = log_storage_->Compact(applied, core_->conf_state());
  if (!compacted.ok()) Log(std::string(compacted.message()));
}

kj::Promise<void> NodeRuntime::TickLoop() {
  return io_.provider->getTimer()
      .afterDelay(options_.tick_ms * kj::MILLISECONDS)
      .then([this]() -> kj::Promise<void> {
        if (failed_) return kj::READY_NOW;
        core_->Tick();
        Process();
        return TickLoop();
      });
}

kj::Promise<void> NodeRuntime::AcceptLoop(kj::ConnectionReceiver& listener) {
  return listener.accept().then([this,
                                 &listener](kj::Own<kj::AsyncIoStream> stream) {
    net::SetNoDelay(*stream);
    stream = kj::heap<net::BufferedStream>(kj::mv(stream));
    auto connection = kj::heap<ServerConnection>(kj::mv(stream), bootstrap_);
    auto disconnected = connection->network.onDisconnect();
    tasks_->add(disconnected.attach(kj::mv(connection)));
    return AcceptLoop(listener);
  });
}

kj::Promise<void> NodeRuntime::Serve(kj::Own<kj::ConnectionReceiver> listener,
                                     kj::Promise<void> stop) {
  bootstrap_ = MakeNodeService(*this);
  auto serving =
      AcceptLoop(*listener).exclusiveJoin(TickLoop()).attach(kj::mv(listener));
  return serving.exclusiveJoin(kj::mv(stop)).then([this] {
    return Shutdown();
  });
}

kj::Promise<void> NodeRuntime::WaitForLeadershipHandoff(int ticks_left) {
  if (role_ != raft::Role::kLeader || ticks_left <= 0 || failed_)
    return kj::READY_NOW;
  return io_.provider->getTimer()
      .afterDelay(options_.tick_ms * kj::MILLISECONDS)
      .then([this, ticks_left] {
        core_->Tick();
        Process();
        return WaitForLeadershipHandoff(ticks_left - 1);
      });
}

kj::Promise<void> NodeRuntime::WaitForWrites() {
  if (!write_in_flight_) return kj::READY_NOW;
  return io_.provider->getTimer().afterDelay(1 * kj::MILLISECONDS).then([this] {
    return WaitForWrites();
  });
}

kj::Promise<void> NodeRuntime::Shutdown() {
  Log(absl::StrCat("node ", options_.id, ": shutting down"));
  kj::Promise<void> handoff = kj::READY_NOW;
  if (role_ == raft::Role::kLeader && options_.cluster.size() > 1 && !failed_) {
    // Hand leadership to the most up-to-date follower first (thesis §3.10), so
    // clients see a short pause instead of an election timeout.
    raft::NodeId best = raft::kNoNode;
    raft::LogIndex best_match = 0;
    for (const auto& [id, address] : options_.cluster) {
      const raft::Progress* progress = core_->progress(id);
      if (id != options_.id && progress != nullptr &&
          progress->match() >= best_match) {
        best = id;
        best_match = progress->match();
      }
    }
    if (best != raft::kNoNode && core_->TransferLeader(best).ok()) {
      Log(absl::StrCat("node ", options_.id, ": handing leadership to node ",
                       best));
      Process();
      handoff = WaitForLeadershipHandoff(
          static_cast<int>(options_.election_ticks * 2));
    }
  }
  return handoff.then([this] {
    stopping_ = true;
    FailAllPending({Code::kUnavailable,
                    "node is shutting down; retry another node", std::nullopt});
    return WaitForWrites();
  });
}

absl::Status RunNode(const NodeOptions& options) {
  kj::UnixEventPort::captureSignal(SIGTERM);
  kj::UnixEventPort::captureSignal(SIGINT);
  kj::AsyncIoContext io = kj::setupAsyncIo();
  NodeRuntime runtime(options, io);
  RETURN_IF_ERROR(runtime.Open());

  kj::Own<kj::ConnectionReceiver> listener;
  KJ_IF_MAYBE (exception, kj::runCatchingExceptions([&] {
                 auto address = io.provider->getNetwork()
                                    .parseAddress(options.bind)
                                    .wait(io.waitScope);
                 listener = address->listen();
               })) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.bind, ": ",
                     exception->getDescription().cStr(),
                     "; is another process using that port?"));
  }
  runtime.Log(absl::StrCat("node ", options.id, ": serving on ", options.bind,
                           ", data in ", options.data_dir));
  auto stop = io.unixEventPort.onSignal(SIGTERM)
                  .exclusiveJoin(io.unixEventPort.onSignal(SIGINT))
                  .ignoreResult();
  runtime.Serve(kj::mv(listener), kj::mv(stop)).wait(io.waitScope);
  return absl::OkStatus();
}

}  // namespace raftkv::kv
