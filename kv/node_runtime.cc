#include "kv/node_runtime.h"

#include <capnp/rpc-twoparty.h>
#include <time.h>

#include <chrono>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "net/buffered_stream.h"
#include "raft/status_macros.h"
#include "storage/file_util.h"
#include "storage/raft_log.h"

namespace raftkv::kv {
namespace {

class IgnoreErrors final : public kj::TaskSet::ErrorHandler {
 public:
  void taskFailed(kj::Exception&&) override {}
};
IgnoreErrors task_errors;

uint64_t SystemNowMs() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
}

// Turns a driver reply callback into a kj promise.
struct ReplyPromise {
  kj::Promise<Outcome> promise = nullptr;
  NodeDriver::Reply reply;
};
ReplyPromise MakeReplyPromise() {
  auto paf = kj::newPromiseAndFulfiller<Outcome>();
  auto fulfiller = std::make_shared<kj::Own<kj::PromiseFulfiller<Outcome>>>(
      kj::mv(paf.fulfiller));
  return {kj::mv(paf.promise), [fulfiller](Outcome result) {
            (*fulfiller)->fulfill(kj::mv(result));
          }};
}

}  // namespace

class NodeRuntime::Transport final : public PeerSender {
 public:
  explicit Transport(net::PeerTransport* transport) : transport_(transport) {}
  void Send(std::vector<raft::Message> messages) override {
    if (!messages.empty()) transport_->Send(std::move(messages));
  }
  void SendSnapshotChunk(raft::SnapshotChunk chunk) override {
    transport_->SendSnapshotChunk(chunk);
  }
  void SendSnapshotAck(const raft::SnapshotAck& ack) override {
    transport_->SendSnapshotAck(ack);
  }

 private:
  net::PeerTransport* transport_;
};

// The end of the event loop's turn: kj runs evalLast work once every event
// queued before it (all the calls read from the sockets this turn) is done.
class NodeRuntime::LoopTurnEnd final : public TurnEnd {
 public:
  explicit LoopTurnEnd(kj::TaskSet& tasks) : tasks_(tasks) {}
  void Defer(std::function<void()> fn) override {
    tasks_.add(kj::evalLast([fn = std::move(fn)] { fn(); }));
  }

 private:
  kj::TaskSet& tasks_;
};

class NodeRuntime::SystemClock final : public Clock {
 public:
  uint64_t NowMs() override { return SystemNowMs(); }
  // CLOCK_BOOTTIME: monotonic, and unlike CLOCK_MONOTONIC it counts the time
  // the machine was suspended, so ticks catch up with that too (a lease must
  // not outlive a suspend).
  uint64_t MonotonicMicros() override {
    timespec now{};
    clock_gettime(CLOCK_BOOTTIME, &now);
    return static_cast<uint64_t>(now.tv_sec) * 1'000'000 +
           static_cast<uint64_t>(now.tv_nsec) / 1000;
  }
};

NodeRuntime::NodeRuntime(const NodeOptions& options,
                         const NodeIdentity& identity, kj::AsyncIoContext& io)
    : options_(options),
      identity_(identity),
      io_(io),
      cluster_id_(identity.cluster_id),
      tasks_(kj::heap<kj::TaskSet>(task_errors)) {}

NodeRuntime::~NodeRuntime() {
  tasks_ = nullptr;
  // The worker first: it finishes the job in progress and drops completions
  // that would otherwise reach the driver.
  worker_.reset();
  snapshot_worker_.reset();
  driver_.reset();
  peer_transport_.reset();
}

std::string NodeRuntime::AddressOf(raft::NodeId id) const {
  return driver_->AddressOf(id);
}

absl::Status NodeRuntime::Open() {
  RETURN_IF_ERROR(storage::MakeDirectories(options_.data_dir));
  storage::LevelDbOpenOptions leveldb;
  leveldb.write_buffer_bytes = options_.storage_write_buffer_mib << 20;
  ASSIGN_OR_RETURN(log_storage_, storage::OpenRaftLog(options_.data_dir));
  storage::LevelDbKvStoreOptions kv_options;
  kv_options.leveldb = leveldb;
  ASSIGN_OR_RETURN(kv_store_, storage::LevelDbKvStore::Open(
                                  options_.data_dir + "/kv", kv_options));
  ASSIGN_OR_RETURN(staging_, storage::FileSnapshotStaging::Open(
                                 options_.data_dir + "/snapshot-staging"));
  const raft::SnapshotMetadata snapshot = log_storage_->Snapshot();
  const bool empty = snapshot.index == 0 &&
                     snapshot.conf_state.voters.empty() &&
                     log_storage_->LastIndex() == 0;
  if (empty && identity_.founder) {
    // Bootstrap: the first members are the configuration before index 1.
    std::vector<raft::NodeId> voters;
    for (const auto& [id, address] : identity_.initial_members)
      voters.push_back(id);
    RETURN_IF_ERROR(log_storage_->InstallSnapshot({0, 0, {voters, {}, {}}}));
  }
  // Otherwise a joining node starts with no configuration: the leader's log
  // or snapshot brings it.
  raft::Config config;
  config.id = options_.id;
  config.election_ticks = options_.election_ticks;
  // A lease holds only while followers wait out their election timeout after
  // hearing from the leader; fast failover would let them stop waiting on
  // the transport's word, so lease reads turn it off (raft::Core::LeaseValid).
  config.lease_reads = options_.lease_reads;
  config.lease_clock_drift = options_.lease_clock_drift;
  config.fast_failover = options_.fast_failover && !options_.lease_reads;
  config.seed = SystemNowMs() ^ (options_.id * 0x9e3779b97f4a7c15ull);
  if (options_.log)
    config.log_sink = [this](absl::string_view line) {
      Log(std::string(line));
    };
  std::map<raft::NodeId, std::string> peers = identity_.initial_members;
  peers.erase(options_.id);
  peer_transport_ = std::make_unique<net::PeerTransport>(
      io_, cluster_id_, options_.id, peers, config.seed);
  peer_transport_->set_packed(options_.peer_packed);
  transport_ = std::make_unique<Transport>(peer_transport_.get());
  peer_transport_->set_on_peer_down([this](raft::NodeId id) {
    if (driver_ != nullptr) driver_->PeerDown(id);
  });
  ASSIGN_OR_RETURN(Security security, LoadSecurity());
  UseSecurity(std::move(security));
  peer_transport_->set_client_address(options_.client_bind);
  if (auto self = identity_.initial_members.find(options_.id);
      self != identity_.initial_members.end()) {
    peer_transport_->set_peer_address(self->second);
  }
  clock_ = std::make_unique<SystemClock>();
  worker_ = std::make_unique<StorageWorker>([this](double seconds) {
    metrics_->ObservePersist(seconds);
    const uint64_t us = static_cast<uint64_t>(seconds * 1e6);
    if (us > options_.slow_ms * 1000) {
      uint64_t seen = slow_write_us_.load();
      while (us > seen && !slow_write_us_.compare_exchange_weak(seen, us)) {
      }
      ++slow_writes_;
    }
  });
  snapshot_worker_ = std::make_unique<StorageWorker>();

  DriverOptions driver_options;
  driver_options.observe = [this](Timed what, double seconds) {
    metrics_->ObserveDuration(what, seconds);
  };
  driver_options.id = options_.id;
  driver_options.tick_us = options_.tick_ms * 1000;
  driver_options.request_timeout_ticks =
      std::max<uint64_t>(1, options_.request_timeout_ms / options_.tick_ms);
  driver_options.compact_after_entries = options_.compact_after_entries;
  driver_options.session_ttl_ms = options_.session_ttl_ms;
  driver_options.snapshot_bytes_per_tick =
      (options_.snapshot_rate_mib << 20) * options_.tick_ms / 1000;
  driver_options.snapshot_gzip = options_.snapshot_gzip;
  driver_options.initial_members = identity_.initial_members;
  driver_options.on_members_changed = [this](const MemberAddresses& members) {
    // Dial the members of the configuration in force; a member this node
    // was first told about (its --cluster, or what it learnt joining) is
    // reached by that route.
    MemberAddresses peers = members;
    for (auto& [id, address] : peers) {
      auto local = identity_.initial_members.find(id);
      if (local != identity_.initial_members.end()) address = local->second;
    }
    peers.erase(options_.id);
    peer_transport_->SetPeers(peers);
  };
  // The driver's lines: what failed is a warning (the driver reports a
  // storage failure that stops the node through on_failure, and the process
  // prints it as its last line), the rest is information.
  driver_options.log = [this](const std::string& line) {
    const bool trouble = line.find("failed") != std::string::npos ||
                         line.find("cannot") != std::string::npos;
    Emit(trouble ? LogLevel::kWarning : LogLevel::kInfo, line);
  };
  driver_options.on_failure = [this](const absl::Status&) {
    if (failed_) failed_->fulfill();
  };
  DriverSeams seams;
  seams.log_storage = log_storage_.get();
  seams.kv_store = kv_store_.get();
  seams.staging = staging_.get();
  seams.peers = transport_.get();
  seams.storage_executor = worker_.get();
  seams.snapshot_executor = snapshot_worker_.get();
  seams.clock = clock_.get();
  turn_end_ = std::make_unique<LoopTurnEnd>(*tasks_);
  seams.turn_end = turn_end_.get();
  driver_ = std::make_unique<NodeDriver>(std::move(driver_options), seams);
  RETURN_IF_ERROR(driver_->Open(config));
  opened_ = true;
  commit_at_start_ = driver_->core().log().committed();
  return absl::OkStatus();
}

void NodeRuntime::Emit(LogLevel level, const std::string& line) const {
  if (!options_.log) return;
  // The term once the driver's core exists (not while it is being opened).
  options_.log({level, opened_ ? driver_->core().term() : 0, line});
}

void NodeRuntime::Warn(const std::string& key, const std::string& line) {
  std::optional<std::string> admitted =
      warnings_.Admit(key, line, SystemNowMs());
  if (admitted.has_value()) Emit(LogLevel::kWarning, *admitted);
}

void NodeRuntime::ObserveRequestTime(const char* op, double seconds) {
  if (seconds * 1000 <= static_cast<double>(options_.slow_ms)) return;
  Warn("slow-request", absl::StrCat("slow request: a ", op, " took ",
                                    absl::StrFormat("%.3f", seconds),
                                    " s (--slow-ms=", options_.slow_ms, ")"));
}

void NodeRuntime::CheckWarnings() {
  const uint64_t slow = slow_writes_.exchange(0);
  const uint64_t slowest_us = slow_write_us_.exchange(0);
  if (slow > 0) {
    Warn("slow-storage",
         absl::StrCat("slow storage: ", slow, " write(s) with fsync over ",
                      options_.slow_ms, " ms, the slowest ",
                      absl::StrFormat("%.3f", slowest_us / 1e6),
                      " s; is the disk busy or failing?"));
  }
  const uint64_t now = SystemNowMs();
  for (const net::PeerLinkStats& stats : peer_transport_->Stats()) {
    // Reachable means answering: a connection that opens and drops (a
    // proxy or load balancer in front of a dead node) is no better than
    // none.
    PeerTrack& track = peer_track_[stats.id];
    if (stats.answers > track.answers) {
      if (track.reported) {
        Emit(LogLevel::kInfo,
             absl::StrCat("peer ", stats.id, " reachable again after ",
                          (now - track.down_since_ms) / 1000, " s"));
      }
      track.down_since_ms = 0;
      track.reported = false;
    } else if (stats.failures > track.failures && track.down_since_ms == 0) {
      track.down_since_ms = now;
    }
    track.failures = stats.failures;
    track.answers = stats.answers;
    // Unreachable for two seconds: worth a line (then one every 10 s).
    if (track.down_since_ms != 0 && now - track.down_since_ms >= 2000) {
      Warn(
          absl::StrCat("peer-", stats.id),
          absl::StrCat("peer ", stats.id, " at ", AddressOf(stats.id),
                       " unreachable for ", (now - track.down_since_ms) / 1000,
                       " s (", stats.failures, " connection failures so far)"));
      track.reported = true;
    }
  }
}

std::string NodeRuntime::RenderMetrics() {
  NodeSample sample;
  const raft::Core& core = driver_->core();
  sample.role = raft::RoleName(core.role());
  sample.term = core.term();
  sample.leader = driver_->leader();
  sample.commit = core.log().committed();
  sample.applied = driver_->machine().applied();
  sample.first_index = log_storage_->FirstIndex();
  sample.last_index = log_storage_->LastIndex();
  sample.pending_writes = driver_->pending_writes();
  sample.pending_reads = driver_->pending_reads();
  sample.snapshots_sending = driver_->snapshots_sending();
  sample.members = driver_->members().size();
  sample.lease_reads = core.lease_reads_served();
  sample.driver = driver_->stats();
  sample.store_bytes = storage::DirectoryBytes(options_.data_dir + "/kv");
  sample.log_bytes = storage::DirectoryBytes(options_.data_dir +
                                            storage::kRaftLogDirectory);
  sample.peers = peer_transport_->Stats();
  sample.messages_dropped = peer_transport_->messages_dropped();
  return metrics_->Render(sample);
}

std::string NodeRuntime::HealthProblem() const {
  if (!driver_->failure().ok()) {
    return absl::StrCat("storage failed: ", driver_->failure().message());
  }
  if (driver_->role() == raft::Role::kLeader) return "";
  const raft::NodeId leader = driver_->leader();
  if (leader == raft::kNoNode) return "no leader known";
  const uint64_t election_ms = options_.tick_ms * options_.election_ticks;
  const uint64_t silent_ms =
      (io_.provider->getTimer().now() - last_leader_contact_) /
      kj::MILLISECONDS;
  if (silent_ms > election_ms) {
    return absl::StrCat("no word from leader ", leader, " for ", silent_ms,
                        " ms (election timeout ", election_ms, " ms)");
  }
  return "";
}

std::string NodeRuntime::ReadyProblem() const {
  const raft::LogIndex applied = driver_->machine().applied();
  if (applied >= commit_at_start_) return "";
  return absl::StrCat("applied ", applied, " of the ", commit_at_start_,
                      " entries committed when the node started");
}

kj::Promise<Outcome> NodeRuntime::Write(net::wire::Command::Reader command) {
  ReplyPromise reply = MakeReplyPromise();
  driver_->Write(command, std::move(reply.reply));
  return kj::mv(reply.promise);
}

kj::Promise<Outcome> NodeRuntime::Get(std::string key, bool linearizable) {
  ReplyPromise reply = MakeReplyPromise();
  driver_->Get(std::move(key), linearizable, std::move(reply.reply));
  return kj::mv(reply.promise);
}

kj::Promise<ScanResult> NodeRuntime::Scan(storage::ScanOptions options,
                                          bool linearizable) {
  auto paf = kj::newPromiseAndFulfiller<ScanResult>();
  auto fulfiller = std::make_shared<kj::Own<kj::PromiseFulfiller<ScanResult>>>(
      kj::mv(paf.fulfiller));
  driver_->Scan(
      std::move(options), linearizable,
      [fulfiller](Outcome outcome, storage::ScanPage page) {
        (*fulfiller)->fulfill(ScanResult{std::move(outcome), std::move(page)});
      });
  return kj::mv(paf.promise);
}

kj::Promise<Outcome> NodeRuntime::ReadBarrier() {
  ReplyPromise reply = MakeReplyPromise();
  driver_->ReadBarrier(std::move(reply.reply));
  return kj::mv(reply.promise);
}

kj::Promise<Outcome> NodeRuntime::ChangeMembership(
    std::vector<raft::ConfChangeStep> steps, const MemberAddresses& added) {
  ReplyPromise reply = MakeReplyPromise();
  driver_->ChangeMembership(std::move(steps), added, std::move(reply.reply));
  return kj::mv(reply.promise);
}

kj::Promise<Outcome> NodeRuntime::MoveLeader(raft::NodeId to) {
  if (driver_->role() != raft::Role::kLeader) return driver_->NotLeader();
  if (to == options_.id) return Outcome{};
  absl::Status status = driver_->TransferLeader(to);
  if (!status.ok()) {
    return Outcome{absl::IsInvalidArgument(status) ? Code::kInvalidArgument
                                                   : Code::kUnavailable,
                   std::string(status.message()), std::nullopt};
  }
  // The transfer either completes or is abandoned within an election timeout
  // (thesis §3.10); wait a little longer than that.
  return WaitForLeader(to, static_cast<int>(3 * options_.election_ticks));
}

kj::Promise<Outcome> NodeRuntime::WaitForLeader(raft::NodeId to,
                                                int ticks_left) {
  return io_.provider->getTimer()
      .afterDelay(options_.tick_ms * kj::MILLISECONDS)
      .then([this, to, ticks_left]() -> kj::Promise<Outcome> {
        if (driver_->leader() == to) return Outcome{};
        if (ticks_left <= 0) {
          return Outcome{
              Code::kUnavailable,
              absl::StrCat("leadership did not move to node ", to,
                           " in time; is it a caught-up voter that this node "
                           "can reach?"),
              std::nullopt};
        }
        return WaitForLeader(to, ticks_left - 1);
      });
}

void NodeRuntime::Deliver(std::vector<raft::Message> messages) {
  if (messages.empty()) return;
  metrics_->ObserveReceived(messages.front().from, messages.size());
  driver_->Deliver(messages);
  for (const raft::Message& m : messages) {
    if (m.from == driver_->leader() && m.term == driver_->core().term()) {
      last_leader_contact_ = io_.provider->getTimer().now();
      break;
    }
  }
}

kj::Promise<void> NodeRuntime::TickLoop() {
  // Wakes when the next tick is due on the monotonic clock; the driver ticks
  // as many as are due (more than one if the loop fell behind or the process
  // was stopped).
  return io_.provider->getTimer()
      .afterDelay(driver_->MicrosToNextTick() * kj::MICROSECONDS)
      .then([this]() -> kj::Promise<void> {
        driver_->CatchUpTicks();
        // Once a second is often enough for warnings of seconds.
        if (++ticks_ % std::max<uint64_t>(1, 1000 / options_.tick_ms) == 0)
          CheckWarnings();
        return TickLoop();
      });
}

kj::Promise<void> NodeRuntime::WaitForLeadershipHandoff(int ticks_left) {
  if (driver_->role() != raft::Role::kLeader || ticks_left <= 0 ||
      !driver_->failure().ok())
    return kj::READY_NOW;
  return io_.provider->getTimer()
      .afterDelay(driver_->MicrosToNextTick() * kj::MICROSECONDS)
      .then([this, ticks_left] {
        const int ticks = static_cast<int>(driver_->CatchUpTicks());
        return WaitForLeadershipHandoff(ticks_left - std::max(1, ticks));
      });
}

kj::Promise<void> NodeRuntime::WaitUntilIdle() {
  if (driver_->idle()) return kj::READY_NOW;
  return io_.provider->getTimer().afterDelay(1 * kj::MILLISECONDS).then([this] {
    return WaitUntilIdle();
  });
}

kj::Promise<void> NodeRuntime::Shutdown() {
  Log(absl::StrCat("node ", options_.id, ": shutting down"));
  // No new connections (the accept loops ended with the serving promise).
  for (auto& listener : accepting_) listener->receiver = nullptr;
  kj::Promise<void> handoff = kj::READY_NOW;
  // Hand leadership to the most up-to-date follower first (thesis §3.10), so
  // clients see a short pause instead of an election timeout.
  if (driver_->members().size() > 1 && driver_->HandOffLeadership()) {
    handoff =
        WaitForLeadershipHandoff(static_cast<int>(options_.election_ticks * 2));
  }
  return handoff.then([this] {
    driver_->Stop();
    return WaitUntilIdle();
  });
}

}  // namespace raftkv::kv
