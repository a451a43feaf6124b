#include "testing/nemesis/nemesis.h"

#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "kv/client.h"
#include "testing/linearizability/checker.h"
#include "testing/nemesis/run.h"

namespace raftkv::testing {
namespace nemesis_internal {

using linearizability::Operation;
using linearizability::OpKind;

NemesisResult Run::Go() {
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
                 options_.seed * 1000 + static_cast<uint64_t>(i), options_.keys,
                 stop, completed, recorder_);
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

void Run::InjectOne(uint64_t kind) {
  ++result_.faults;
  const raft::NodeId leader = Leader();
  const raft::NodeId any = Pick(Live());
  raft::NodeId other = raft::kNoNode;  // a live node that is not the leader
  for (raft::NodeId id : Live()) {
    if (id != leader && (other == raft::kNoNode || rng_() % 2 == 0)) other = id;
  }
  switch (kind) {
    case kKill:
      return Kill(leader, any);
    case kPause:
      return PauseLeader(leader);
    case kSigterm:
      return Sigterm(any);
    case kIsolate:
      return Isolate(leader, any);
    case kOneWay:
      return OneWay(leader, other);
    case kMoveLeader:
      return MoveLeader(other);
    case kReplace:
      return Replace(leader);
    case kSlowLeader:
      return StaleLeader(other);
    case kFastClock:
      return FastClock(any);
    case kDiskFull:
      return DiskFull(other);
    case kReAdd:
      return ReAdd(other);
  }
}

// After a heal: how long until every node in `nodes` knows a leader and has
// applied what was committed at the heal. Recorded per fault.
void Run::MeasureRejoin(const std::set<raft::NodeId>& nodes,
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
  while (!waiting.empty() && Clock::now() - healed < std::chrono::seconds(10)) {
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
  result_.rejoins.push_back({partition_ms, ms});
  Note(kind, waiting.empty()
                 ? absl::StrCat("heal: rejoined in ", ms, " ms")
                 : absl::StrCat("heal: not rejoined after ", ms, " ms"));
}

// Reads every key through a client that asks `id` first: a leader that
// just woke up from a pause may not know it was deposed, and must not
// answer from its own state (thesis §6.4). Recorded like any client's.
void Run::ProbeReads(raft::NodeId id) {
  const std::string address = h_->cluster().client_address(id);
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

// A failed run's node logs outlive it: copied to Bazel's undeclared
// outputs (bazel-testlogs/.../test.outputs) under a test, else left in the
// harness's directory, whose path is printed.
void Run::KeepLogs() {
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

void Run::Finish() {
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

}  // namespace nemesis_internal

NemesisResult RunNemesis(const NemesisOptions& options) {
  return nemesis_internal::Run(options).Go();
}

}  // namespace raftkv::testing
