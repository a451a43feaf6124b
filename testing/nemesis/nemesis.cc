#include "testing/nemesis/nemesis.h"

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "kv/client.h"
#include "testing/cluster/harness.h"
#include "testing/cluster/packet_filter.h"
#include "testing/cluster/small_disk.h"
#include "testing/linearizability/checker.h"
#include "testing/nemesis/clients.h"

namespace raftkv::testing {
namespace {

using Clock = std::chrono::steady_clock;
using linearizability::Operation;
using linearizability::OpKind;

// Fault kinds, injected in a seeded order.
enum Kind : uint64_t {
  kKill,
  kPause,
  kSigterm,
  kIsolate,
  kOneWay,
  kMoveLeader,
  kReplace,
  kSlowLeader,
  kFastClock,
  kDiskFull,
  kReAdd,
  kKinds
};

class Run {
 public:
  explicit Run(const NemesisOptions& options)
      : options_(options), rng_(options.seed) {}

  NemesisResult Go() {
    HarnessOptions harness_options;
    harness_options.nodes = options_.nodes;
    harness_options.extra_flags = options_.node_flags;
    auto harness = ClusterHarness::Start(harness_options);
    if (!harness.ok()) return Failed(std::string(harness.status().message()));
    h_ = harness->get();
    if (!h_->WaitForLeader(15000).ok()) return Failed("no first leader");
    for (raft::NodeId id : h_->ids()) founders_.insert(id);

    std::atomic<bool> stop{false};
    std::atomic<int> completed{0};
    std::vector<std::thread> clients;
    const std::string cluster = h_->cluster().client_cluster();
    for (int i = 0; i < options_.clients; ++i) {
      clients.emplace_back([&, i] {
        ClientLoop(static_cast<uint64_t>(i + 1), cluster,
                   options_.seed * 1000 + static_cast<uint64_t>(i),
                   options_.keys, stop, completed, recorder_);
      });
    }
    const auto deadline =
        Clock::now() + std::chrono::milliseconds(options_.duration_ms);
    // The fault kinds in a seeded order, so that every run meets several.
    for (uint64_t kind = 0; kind < kKinds; ++kind) {
      if ((kind == kReplace || kind == kReAdd) && !options_.replace_nodes)
        continue;
      if ((kind == kSlowLeader || kind == kFastClock) &&
          !ClusterHarness::ClockSkewUnavailable().empty())
        continue;
      if (!options_.only_kinds.empty() &&
          std::find(options_.only_kinds.begin(), options_.only_kinds.end(),
                    kind) == options_.only_kinds.end())
        continue;
      kinds_.push_back(kind);
    }
    if (kinds_.empty()) return Failed("no fault kind is available");
    std::shuffle(kinds_.begin(), kinds_.end(), rng_);
    while ((completed < options_.operations ||
            result_.faults < options_.min_faults) &&
           Clock::now() < deadline) {
      InjectOne(kinds_[result_.faults % kinds_.size()]);
      Sleep(100 + rng_() % 300);  // healed for a moment between faults
    }
    stop = true;
    for (std::thread& t : clients) t.join();
    Finish();
    return result_;
  }

 private:
  NemesisResult Failed(const std::string& why) {
    if (result_.ok) {
      result_.ok = false;
      result_.failure = why;
    }
    return result_;
  }
  void Sleep(uint64_t ms) {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  }
  void Note(const std::string& kind, const std::string& what) {
    result_.timeline.push_back(
        absl::StrCat("+", recorder_.Now() / 1000, " ms ", what));
    if (std::find(result_.fault_kinds.begin(), result_.fault_kinds.end(),
                  kind) == result_.fault_kinds.end()) {
      result_.fault_kinds.push_back(kind);
    }
  }
  std::vector<raft::NodeId> Live() const {
    std::vector<raft::NodeId> ids;
    for (raft::NodeId id : h_->ids()) {
      if (h_->cluster().running(id) && removed_.count(id) == 0)
        ids.push_back(id);
    }
    return ids;
  }
  raft::NodeId Pick(const std::vector<raft::NodeId>& ids) {
    return ids[rng_() % ids.size()];
  }
  raft::NodeId Leader() {
    auto leader = h_->WaitForLeader(2000, removed_);
    return leader.ok() ? *leader : Pick(Live());
  }
  uint64_t FaultMs() { return 200 + rng_() % options_.max_fault_ms; }
  // How long a partition lasts: usually a fault's length, sometimes one of
  // the long ones the options ask for.
  uint64_t PartitionMs() {
    const auto& longer = options_.long_partition_ms;
    if (!longer.empty() && rng_() % 3 == 0)
      return longer[rng_() % longer.size()];
    return FaultMs();
  }
  // Half of the link faults drop packets silently (where the platform
  // allows), half reset connections through the proxies.
  LinkFault PickLinkFault(std::string* how) {
    if (PacketFilter::Available() && rng_() % 2 == 0) {
      *how = "packets dropped";
      return LinkFault::kDrop;
    }
    *how = "connections reset";
    return LinkFault::kReset;
  }

  // After a heal: how long until every node in `nodes` knows a leader and has
  // applied what was committed at the heal. Recorded per fault.
  void MeasureRejoin(const std::set<raft::NodeId>& nodes,
                     const std::string& kind, uint64_t partition_ms) {
    const auto healed = Clock::now();
    raft::LogIndex target = 0;
    for (raft::NodeId id : Live()) {
      auto info = h_->Status(id);
      if (info.ok() && nodes.count(id) == 0)
        target = std::max(target, info->commit);
    }
    std::set<raft::NodeId> waiting;
    for (raft::NodeId id : nodes)
      if (h_->cluster().running(id) && removed_.count(id) == 0)
        waiting.insert(id);
    while (!waiting.empty() &&
           Clock::now() - healed < std::chrono::seconds(10)) {
      for (auto it = waiting.begin(); it != waiting.end();) {
        auto info = h_->Status(*it);
        if (info.ok() && info->leader != raft::kNoNode &&
            info->applied >= target) {
          it = waiting.erase(it);
        } else {
          ++it;
        }
      }
      if (!waiting.empty()) Sleep(5);
    }
    const uint64_t ms = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() -
                                                              healed)
            .count());
    if (!waiting.empty()) {
      Note(kind, absl::StrCat("heal: not rejoined after ", ms, " ms"));
      result_.rejoins.push_back({partition_ms, ms});
      return;
    }
    result_.rejoins.push_back({partition_ms, ms});
    Note(kind, absl::StrCat("heal: rejoined in ", ms, " ms"));
  }

  void InjectOne(uint64_t kind) {
    ++result_.faults;
    const raft::NodeId leader = Leader();
    const raft::NodeId any = Pick(Live());
    raft::NodeId other = raft::kNoNode;  // a live node that is not the leader
    for (raft::NodeId id : Live()) {
      if (id != leader && (other == raft::kNoNode || rng_() % 2 == 0))
        other = id;
    }
    switch (kind) {
      case kKill: {
        const raft::NodeId victim = rng_() % 2 == 0 ? leader : any;
        Note("kill -9", absl::StrCat("kill -9 node ", victim,
                                     victim == leader ? " (leader)" : ""));
        h_->Kill(victim);
        Sleep(FaultMs());
        (void)h_->Restart(victim);
        Note("kill -9", absl::StrCat("restart node ", victim));
        break;
      }
      case kPause:
        Note("pause", absl::StrCat("SIGSTOP node ", leader, " (leader)"));
        h_->Pause(leader);
        // Half of the time also cut it off from its peers: it then wakes up
        // knowing nothing of the leader elected meanwhile.
        if (rng_() % 2 == 0) {
          std::set<raft::NodeId> rest;
          for (raft::NodeId id : founders_)
            if (id != leader) rest.insert(id);
          std::string how;
          h_->Partition({{leader}, rest}, PickLinkFault(&how));
          Note("pause",
               absl::StrCat("isolate paused node ", leader, " (", how, ")"));
          // Longer than a client's attempt: the clients that waited on it
          // move on and write through the new leader meanwhile.
          Sleep(1000 + rng_() % 800);
        }
        Sleep(FaultMs());
        h_->Resume(leader);
        Note("pause", absl::StrCat("SIGCONT node ", leader,
                                   "; reads sent to it at once"));
        ProbeReads(leader);
        h_->Heal();
        break;
      case kSigterm: {
        Note("sigterm", absl::StrCat("SIGTERM node ", any));
        auto code = h_->cluster().Stop(any);
        if (!code.ok() || *code != 0) {
          Failed(absl::StrCat("node ", any, " did not exit 0 on SIGTERM: ",
                              code.ok()
                                  ? absl::StrCat(*code)
                                  : std::string(code.status().message())));
        }
        Sleep(FaultMs());
        (void)h_->Restart(any);
        Note("sigterm", absl::StrCat("restart node ", any));
        break;
      }
      case kIsolate: {
        const raft::NodeId alone = rng_() % 2 == 0 ? leader : any;
        std::set<raft::NodeId> rest;
        for (raft::NodeId id : founders_)
          if (id != alone) rest.insert(id);
        std::string how;
        const LinkFault fault = PickLinkFault(&how);
        const uint64_t ms = PartitionMs();
        Note("partition", absl::StrCat("isolate node ", alone,
                                       alone == leader ? " (leader)" : "",
                                       " for ", ms, " ms (", how, ")"));
        h_->Partition({{alone}, rest}, fault);
        Sleep(ms);
        h_->Heal();
        MeasureRejoin({alone}, "partition", ms);
        break;
      }
      case kOneWay: {
        if (other == raft::kNoNode) break;
        std::string how;
        const LinkFault fault = PickLinkFault(&how);
        Note("one-way",
             absl::StrCat("cut ", leader, " -> ", other,
                          " one way (leader's messages lost, ", how, ")"));
        h_->CutLink(leader, other, fault);
        const uint64_t ms = PartitionMs();
        Sleep(ms);
        h_->Heal();
        MeasureRejoin({other}, "one-way", ms);
        break;
      }
      case kMoveLeader: {
        if (other == raft::kNoNode) break;
        absl::Status moved = h_->client().MoveLeader(other);
        Note("move-leader", absl::StrCat("move-leader ", other, ": ",
                                         moved.ok() ? "ok" : moved.message()));
        break;
      }
      case kReplace:
        Replace(leader);
        break;
      case kSlowLeader:
        StaleLeader(other);
        break;
      case kFastClock:
        FastClock(any);
        break;
      case kDiskFull:
        DiskFull(other);
        break;
      case kReAdd:
        ReAdd(other);
        break;
    }
  }

  // A node whose clock runs at a quarter of real time is made leader, then
  // cut off from its peers while one client writes through the others and
  // another reads from it alone. Its ticks (and so its check-quorum) run
  // slowly, so for a while it still believes it leads after the others
  // elected a new leader: only a ReadIndex round stops it answering those
  // reads with what it holds (thesis §6.4).
  void StaleLeader(raft::NodeId node) {
    if (node == raft::kNoNode || founders_.count(node) == 0) return;
    Note("slow-clock leader",
         absl::StrCat("restart node ", node,
                      " with its clock at 0.25x real time"));
    if (!h_->RestartWithClock(node, 0.25).ok()) return;
    Sleep(300);
    absl::Status moved = h_->client().MoveLeader(node);
    Note("slow-clock leader",
         absl::StrCat("move-leader ", node, ": ",
                      moved.ok() ? "ok" : moved.message()));
    std::set<raft::NodeId> rest;
    std::string majority;
    for (raft::NodeId id : founders_) {
      if (id == node || removed_.count(id) > 0) continue;
      rest.insert(id);
      absl::StrAppend(&majority, majority.empty() ? "" : ",",
                      h_->cluster().address(id));
    }
    std::string how;
    h_->Partition({{node}, rest}, PickLinkFault(&how));
    Note("slow-clock leader",
         absl::StrCat("isolate slow node ", node, " (", how,
                      "); write through the others, read at it"));
    std::atomic<bool> stop{false};
    std::atomic<int> done{0};
    std::thread writer([&] {
      PinnedClient(majority, 2000 + result_.faults, options_.keys, true, stop,
                   done, recorder_);
    });
    std::thread reader([&] {
      PinnedClient(h_->cluster().address(node), 3000 + result_.faults,
                   options_.keys, false, stop, done, recorder_);
    });
    Sleep(1500 + rng_() % 1000);
    stop = true;
    writer.join();
    reader.join();
    h_->Heal();
    (void)h_->RestartWithClock(node, 1.0);
    Note("slow-clock leader",
         absl::StrCat("heal; restart node ", node, " on real time"));
  }

  // A node whose clock runs three times too fast (its elections time out
  // early) for a while.
  void FastClock(raft::NodeId node) {
    Note("fast clock", absl::StrCat("restart node ", node,
                                    " with its clock at 3x real time"));
    if (!h_->RestartWithClock(node, 3.0).ok()) return;
    Sleep(FaultMs() + 1000);
    (void)h_->RestartWithClock(node, 1.0);
    Note("fast clock", absl::StrCat("restart node ", node, " on real time"));
  }

  // Reads every key through a client that asks `id` first: a leader that
  // just woke up from a pause may not know it was deposed, and must not
  // answer from its own state (thesis §6.4). Recorded like any client's.
  void ProbeReads(raft::NodeId id) {
    const std::string address = h_->cluster().address(id);
    const uint64_t client_id = 1000 + result_.faults;
    std::string seen;
    std::thread probe([this, address, client_id, &seen] {
      auto created = kv::Client::Create({address, 1000, true});
      if (!created.ok()) return;
      for (int k = 0; k < options_.keys; ++k) {
        Operation op;
        op.client = client_id;
        op.kind = OpKind::kGet;
        op.key = absl::StrCat("k", k);
        op.invoke = recorder_.Now();
        auto value = (*created)->Get(op.key);
        op.known = value.ok();
        if (value.ok()) op.output = *value;
        absl::StrAppend(&seen, " ", op.key, "=",
                        !value.ok()          ? "?"
                        : value->has_value() ? **value
                                             : "absent");
        op.ret = recorder_.Now();
        recorder_.Add(std::move(op));
      }
    });
    probe.join();
    Note("pause", absl::StrCat("reads at node of ", address, ":", seen));
  }

  // A node's disk fills up while clients write: it must stop by itself with
  // exit code 7 (never crash, never acknowledge what it could not make
  // durable), then come back on a larger disk and catch up.
  void DiskFull(raft::NodeId node) {
    if (node == raft::kNoNode) return;
    auto stopped = h_->cluster().Stop(node);
    if (!stopped.ok() || *stopped != 0) {
      Failed(absl::StrCat("node ", node, " did not exit 0 on SIGTERM"));
      return;
    }
    auto disk = SmallDisk::Mount(h_->cluster().data_dir(node), 128 << 10);
    if (!disk.ok()) {
      Note("disk full", absl::StrCat("skipped (no small disk here: ",
                                     disk.status().message(), ")"));
      (void)h_->Restart(node);
      return;
    }
    Note("disk full",
         absl::StrCat("restart node ", node, " on a disk with 128 KiB free"));
    (void)h_->Restart(node);
    // It stops by itself once the disk is full (while serving, or already
    // while opening its storage): exit code 7.
    auto code = h_->cluster().Wait(node, 8000);
    const bool filled = code.ok();
    if (!filled) code = h_->cluster().Stop(node);
    if (!code.ok() || *code != (filled ? 7 : 0)) {
      Failed(absl::StrCat("node ", node, " on a full disk: ",
                          code.ok()
                              ? absl::StrCat("exit code ", *code, " (expected ",
                                             filled ? 7 : 0, ")")
                              : std::string(code.status().message())));
    }
    Note("disk full",
         filled
             ? absl::StrCat("node ", node, " stopped itself: exit code ", *code)
             : absl::StrCat("node ", node, " never filled its disk"));
    absl::Status moved = (*disk)->Unmount();
    if (!moved.ok())
      Failed(absl::StrCat("moving data back: ", moved.message()));
    (void)h_->Restart(node);
    Note("disk full", absl::StrCat("restart node ", node, " on a large disk"));
  }

  // Removes a follower, then adds it back under the same id and address with
  // an empty data directory (as an operator who rebuilt its disk would): the
  // cluster must not confuse it with what it was.
  void ReAdd(raft::NodeId node) {
    if (node == raft::kNoNode || founders_.count(node) == 0 || readded_ >= 1)
      return;
    absl::Status removed = h_->client().ChangeMembership(
        {{raft::ConfChangeType::kRemoveNode, node, ""}});
    Note("re-add", absl::StrCat("member remove ", node, ": ",
                                removed.ok() ? "ok" : removed.message()));
    if (!removed.ok() && IsMember(node) != false) return;
    ++readded_;
    h_->Kill(node);
    removed_.insert(node);
    if (!h_->RestartAsJoiner(node).ok()) return;
    absl::Status added =
        h_->client().ChangeMembership({{raft::ConfChangeType::kAddLearner, node,
                                        h_->cluster().address(node)}});
    Note("re-add",
         absl::StrCat("node ", node,
                      " wiped, joins again; "
                      "member add-learner ",
                      node, ": ", added.ok() ? "ok" : added.message()));
    if (!added.ok() && IsMember(node) != true) {
      h_->Kill(node);
      return;
    }
    removed_.erase(node);
    for (int i = 0; i < 100; ++i) {
      Sleep(100);
      if (h_->client()
              .ChangeMembership(
                  {{raft::ConfChangeType::kPromoteLearner, node, ""}})
              .ok()) {
        Note("re-add", absl::StrCat("member promote ", node, ": ok"));
        break;
      }
    }
  }

  // Whether `id` is in the configuration once no change is in flight, as
  // the leader sees it; nullopt if that cannot be learned within 5 s.
  std::optional<bool> IsMember(raft::NodeId id) {
    for (int i = 0; i < 50; ++i) {
      auto membership = h_->client().Members();
      if (membership.ok() && !membership->joint) {
        bool found = false;
        for (const kv::MemberInfo& m : membership->members)
          found = found || m.id == id;
        Note("replace",
             absl::StrCat("member list: ", id,
                          found ? " is a member" : " is not a member"));
        return found;
      }
      Sleep(100);
    }
    return std::nullopt;
  }

  // Removes a follower, stops it, and adds a new node in its place (it joins
  // as a learner and is promoted once caught up). At most twice per run.
  void Replace(raft::NodeId leader) {
    if (replaced_ >= 2) return;
    raft::NodeId victim = raft::kNoNode;
    for (raft::NodeId id : Live())
      if (id != leader && founders_.count(id) > 0) victim = id;
    if (victim == raft::kNoNode) return;
    const raft::NodeId fresh = 10 + replaced_++;
    absl::Status removed = h_->client().ChangeMembership(
        {{raft::ConfChangeType::kRemoveNode, victim, ""}});
    Note("replace", absl::StrCat("member remove ", victim, ": ",
                                 removed.ok() ? "ok" : removed.message()));
    // An answer like "may still take effect" is an unknown outcome: ask.
    if (!removed.ok() && IsMember(victim) != false) return;
    removed_.insert(victim);
    h_->Kill(victim);
    if (!h_->StartJoining(fresh).ok()) return;
    const std::string address = h_->cluster().address(fresh);
    absl::Status added = h_->client().ChangeMembership(
        {{raft::ConfChangeType::kAddLearner, fresh, address}});
    Note("replace", absl::StrCat("member add-learner ", fresh, ": ",
                                 added.ok() ? "ok" : added.message()));
    if (!added.ok() && IsMember(fresh) != true) {
      // Never added (or unknown): it would wait to join forever.
      h_->Kill(fresh);
      removed_.insert(fresh);
      return;
    }
    for (int i = 0; i < 100 && added.ok(); ++i) {
      Sleep(100);
      absl::Status promoted = h_->client().ChangeMembership(
          {{raft::ConfChangeType::kPromoteLearner, fresh, ""}});
      if (promoted.ok()) {
        Note("replace", absl::StrCat("member promote ", fresh, ": ok"));
        break;
      }
    }
  }

  // A failed run's node logs outlive it: copied to Bazel's undeclared
  // outputs (bazel-testlogs/.../test.outputs) under a test, else left in the
  // harness's directory, whose path is printed.
  void KeepLogs() {
    const char* outputs = getenv("TEST_UNDECLARED_OUTPUTS_DIR");
    for (raft::NodeId id : h_->ids()) {
      const std::string log = h_->cluster().log_path(id);
      if (outputs == nullptr) {
        result_.timeline.push_back(absl::StrCat("node ", id, "'s log: ", log));
        continue;
      }
      const std::string kept =
          absl::StrCat(outputs, "/seed-", options_.seed, "-node-", id, ".log");
      std::error_code error;
      std::filesystem::copy_file(
          log, kept, std::filesystem::copy_options::overwrite_existing, error);
      result_.timeline.push_back(
          absl::StrCat("node ", id, "'s log kept in ", kept));
    }
  }

  void Finish() {
    h_->Heal();
    for (raft::NodeId id : h_->ids()) {
      if (removed_.count(id) > 0) continue;
      h_->Resume(id);
      if (!h_->cluster().running(id)) (void)h_->Restart(id);
    }
    std::vector<Operation> history = recorder_.History();
    result_.operations = history.size();
    for (const Operation& op : history) result_.unknown += !op.known;
    linearizability::CheckResult checked = linearizability::Check(history);
    if (checked.inconclusive) {
      Failed("linearizability check ran out of its search budget");
    } else if (!checked.linearizable) {
      result_.anomaly = true;
      Failed(absl::StrCat("not linearizable: ", checked.explanation));
    }
    absl::Status converged = h_->WaitForConvergence(20000, removed_);
    if (!converged.ok())
      Failed(absl::StrCat("divergence: ", converged.message()));
    for (raft::NodeId id : h_->ids()) {
      if (!h_->cluster().running(id)) continue;
      auto code = h_->cluster().Stop(id);
      if (!code.ok() || *code != 0) {
        Failed(
            absl::StrCat("node ", id, " did not exit 0 on SIGTERM at the end"));
      }
    }
    if (!result_.ok) {
      result_.timeline.push_back(h_->Logs());
      KeepLogs();
    }
  }

  const NemesisOptions options_;
  std::mt19937_64 rng_;
  NemesisResult result_;
  Recorder recorder_;
  ClusterHarness* h_ = nullptr;
  std::set<raft::NodeId> founders_;
  std::set<raft::NodeId> removed_;
  int replaced_ = 0;
  int readded_ = 0;
  std::vector<uint64_t> kinds_;
};

}  // namespace

NemesisResult RunNemesis(const NemesisOptions& options) {
  return Run(options).Go();
}

}  // namespace raftkv::testing
