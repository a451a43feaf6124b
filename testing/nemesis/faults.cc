// Process, network, clock and disk faults of the nemesis (run.h).
#include <signal.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "kv/client.h"
#include "testing/cluster/small_disk.h"
#include "testing/nemesis/run.h"

namespace raftkv::testing::nemesis_internal {

// kill -9 the leader or any node, then restart it.
void Run::Kill(raft::NodeId leader, raft::NodeId any) {
  const raft::NodeId victim = rng_() % 2 == 0 ? leader : any;
  Note("kill -9", absl::StrCat("kill -9 node ", victim,
                               victim == leader ? " (leader)" : ""));
  h_->Kill(victim);
  Sleep(FaultMs());
  (void)h_->Restart(victim);
  Note("kill -9", absl::StrCat("restart node ", victim));
}

// SIGSTOP the leader; half of the time also cut it off from its peers, so
// that it wakes up knowing nothing of the leader elected meanwhile; then
// reads are sent to it at once.
void Run::PauseLeader(raft::NodeId leader) {
  Note("pause", absl::StrCat("SIGSTOP node ", leader, " (leader)"));
  h_->Pause(leader);
  if (rng_() % 2 == 0) {
    std::string how;
    h_->Partition({{leader}, FoundersBut(leader)}, PickLinkFault(&how));
    Note("pause", absl::StrCat("isolate paused node ", leader, " (", how, ")"));
    // Longer than a client's attempt: the clients that waited on it move on
    // and write through the new leader meanwhile.
    Sleep(1000 + rng_() % 800);
  }
  Sleep(FaultMs());
  h_->Resume(leader);
  Note("pause",
       absl::StrCat("SIGCONT node ", leader, "; reads sent to it at once"));
  ProbeReads(leader);
  h_->Heal();
}

// SIGTERM must stop a node with exit code 0; then it restarts.
void Run::Sigterm(raft::NodeId node) {
  Note("sigterm", absl::StrCat("SIGTERM node ", node));
  auto code = h_->cluster().Stop(node);
  if (!code.ok() || *code != 0) {
    Failed(absl::StrCat("node ", node, " did not exit 0 on SIGTERM: ",
                        code.ok() ? absl::StrCat(*code)
                                  : std::string(code.status().message())));
  }
  Sleep(FaultMs());
  (void)h_->Restart(node);
  Note("sigterm", absl::StrCat("restart node ", node));
}

// Cuts the leader or any node off from the others, then heals.
void Run::Isolate(raft::NodeId leader, raft::NodeId any) {
  const raft::NodeId alone = rng_() % 2 == 0 ? leader : any;
  std::string how;
  const LinkFault fault = PickLinkFault(&how);
  const uint64_t ms = PartitionMs();
  Note("partition",
       absl::StrCat("isolate node ", alone, alone == leader ? " (leader)" : "",
                    " for ", ms, " ms (", how, ")"));
  h_->Partition({{alone}, FoundersBut(alone)}, fault);
  Sleep(ms);
  h_->Heal();
  MeasureRejoin({alone}, "partition", ms);
}

// The leader's messages to `other` are lost; the other way still works.
void Run::OneWay(raft::NodeId leader, raft::NodeId other) {
  if (other == raft::kNoNode) return;
  std::string how;
  const LinkFault fault = PickLinkFault(&how);
  Note("one-way", absl::StrCat("cut ", leader, " -> ", other,
                               " one way (leader's messages lost, ", how, ")"));
  h_->CutLink(leader, other, fault);
  const uint64_t ms = PartitionMs();
  Sleep(ms);
  h_->Heal();
  MeasureRejoin({other}, "one-way", ms);
}

void Run::MoveLeader(raft::NodeId to) {
  if (to == raft::kNoNode) return;
  absl::Status moved = h_->client().MoveLeader(to);
  Note("move-leader", absl::StrCat("move-leader ", to, ": ",
                                   moved.ok() ? "ok" : moved.message()));
}

// A node whose clock runs at a quarter of real time is made leader, then
// cut off from its peers while one client writes through the others and
// another reads from it alone. Its ticks (and so its check-quorum) run
// slowly, so for a while it still believes it leads after the others
// elected a new leader: only a ReadIndex round stops it answering those
// reads with what it holds (thesis §6.4).
void Run::StaleLeader(raft::NodeId node) {
  if (node == raft::kNoNode || founders_.count(node) == 0) return;
  Note("slow-clock leader", absl::StrCat("restart node ", node,
                                         " with its clock at 0.25x real time"));
  if (!h_->RestartWithClock(node, 0.25).ok()) return;
  Sleep(300);
  absl::Status moved = h_->client().MoveLeader(node);
  Note("slow-clock leader", absl::StrCat("move-leader ", node, ": ",
                                         moved.ok() ? "ok" : moved.message()));
  std::set<raft::NodeId> rest;
  std::string majority;
  for (raft::NodeId id : founders_) {
    if (id == node || removed_.count(id) > 0) continue;
    rest.insert(id);
    absl::StrAppend(&majority, majority.empty() ? "" : ",",
                    h_->cluster().client_address(id));
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
    PinnedClient(h_->cluster().client_address(node), 3000 + result_.faults,
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
void Run::FastClock(raft::NodeId node) {
  Note("fast clock",
       absl::StrCat("restart node ", node, " with its clock at 3x real time"));
  if (!h_->RestartWithClock(node, 3.0).ok()) return;
  Sleep(FaultMs() + 1000);
  (void)h_->RestartWithClock(node, 1.0);
  Note("fast clock", absl::StrCat("restart node ", node, " on real time"));
}

// A node's disk fills up while clients write: it must stop by itself with
// exit code 7 (never crash, never acknowledge what it could not make
// durable), then come back on a larger disk and catch up.
void Run::DiskFull(raft::NodeId node) {
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
  if (!moved.ok()) Failed(absl::StrCat("moving data back: ", moved.message()));
  (void)h_->Restart(node);
  Note("disk full", absl::StrCat("restart node ", node, " on a large disk"));
}

}  // namespace raftkv::testing::nemesis_internal
