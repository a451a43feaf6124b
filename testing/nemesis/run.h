// The nemesis's run (nemesis.h), shared by its source files: nemesis.cc
// (the run, the fault schedule, the end checks), faults.cc (process, clock,
// disk and network faults) and membership_faults.cc (replace, remove and
// re-add). Internal to //testing/nemesis.
//
// Thread safety: a Run is driven by one thread (its clients run on their own
// and only touch the Recorder). Invariant: `removed_` holds exactly the nodes
// that are not members (and so are left out of the end checks).
#ifndef RAFTKV_TESTING_NEMESIS_RUN_H_
#define RAFTKV_TESTING_NEMESIS_RUN_H_

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "testing/cluster/harness.h"
#include "testing/cluster/packet_filter.h"
#include "testing/nemesis/clients.h"
#include "testing/nemesis/nemesis.h"

namespace raftkv::testing::nemesis_internal {

using Clock = std::chrono::steady_clock;

// Fault kinds, injected in a seeded order (NemesisOptions::only_kinds).
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

  NemesisResult Go();

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
  // The founders other than `node` (the other side of its partition).
  std::set<raft::NodeId> FoundersBut(raft::NodeId node) const {
    std::set<raft::NodeId> rest = founders_;
    rest.erase(node);
    return rest;
  }
  LinkFault PickLinkFault(std::string* how) {
    if (PacketFilter::Available() && rng_() % 2 == 0) {
      *how = "packets dropped";
      return LinkFault::kDrop;
    }
    *how = "connections reset";
    return LinkFault::kReset;
  }

  // nemesis.cc
  void InjectOne(uint64_t kind);
  void MeasureRejoin(const std::set<raft::NodeId>& nodes,
                     const std::string& kind, uint64_t partition_ms);
  void ProbeReads(raft::NodeId id);
  void KeepLogs();
  void Finish();

  // faults.cc
  void Kill(raft::NodeId leader, raft::NodeId any);
  void PauseLeader(raft::NodeId leader);
  void Sigterm(raft::NodeId node);
  void Isolate(raft::NodeId leader, raft::NodeId any);
  void OneWay(raft::NodeId leader, raft::NodeId other);
  void MoveLeader(raft::NodeId to);
  void StaleLeader(raft::NodeId node);
  void FastClock(raft::NodeId node);
  void DiskFull(raft::NodeId node);

  // membership_faults.cc
  void Replace(raft::NodeId leader);
  void ReAdd(raft::NodeId node);
  std::optional<bool> IsMember(raft::NodeId id);

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

}  // namespace raftkv::testing::nemesis_internal

#endif  // RAFTKV_TESTING_NEMESIS_RUN_H_
