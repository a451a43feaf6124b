// The Raft core alone, in memory: how fast it agrees when nothing else is in
// the way.
//
// BM_ProposeThroughCluster/B: a 3-node cluster of real cores over in-memory
// storage with
//   synchronous, fault-free delivery (a simulator without faults); each
//   iteration proposes B commands of 64 bytes on the leader and runs until the
//   leader has committed them.
// BM_StepAppend64: one follower Step() for an AppendEntries carrying 64 entries
// of 256
//   bytes (the Ready handling between steps is not timed).

#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "raft/core.h"
#include "storage/memory_log_storage.h"

namespace raftkv::benchmarks {
namespace {

using raft::Core;
using raft::Message;
using raft::NodeId;

struct Cluster {
  explicit Cluster(int n) {
    std::vector<NodeId> voters;
    for (int i = 1; i <= n; ++i) voters.push_back(i);
    for (NodeId id : voters) {
      auto& node = nodes[id];
      node.storage = std::make_unique<storage::MemoryLogStorage>();
      (void)node.storage->InstallSnapshot({0, 0, {voters, {}}});
      raft::Config config;
      config.id = id;
      config.seed = id;
      node.core = std::move(*Core::Create(config, node.storage.get()));
    }
    nodes[1].core->Campaign();
    Stabilize();
  }

  // Handles every Ready and delivers every message until the cluster is quiet.
  void Stabilize() {
    bool moved = true;
    while (moved) {
      moved = false;
      for (auto& [id, node] : nodes) {
        if (!node.core->HasReady()) continue;
        moved = true;
        raft::Ready ready = node.core->GetReady();
        (void)node.storage->Save(ready.hard_state, ready.entries);
        for (Message& m : ready.early_messages) mailbox.push_back(std::move(m));
        for (Message& m : ready.messages) mailbox.push_back(std::move(m));
        node.core->Advance(ready);
      }
      std::vector<Message> deliver;
      deliver.swap(mailbox);
      for (const Message& m : deliver) {
        moved = true;
        (void)nodes[m.to].core->Step(m);
      }
    }
  }

  struct Node {
    std::unique_ptr<storage::MemoryLogStorage> storage;
    std::unique_ptr<Core> core;
  };
  std::map<NodeId, Node> nodes;
  std::vector<Message> mailbox;
};

void BM_ProposeThroughCluster(benchmark::State& state) {
  Cluster cluster(3);
  Core& leader = *cluster.nodes[1].core;
  if (leader.role() != raft::Role::kLeader)
    return state.SkipWithError("no leader");
  const std::string command(64, 'c');
  const int64_t batch = state.range(0);
  for (auto _ : state) {
    raft::LogIndex last = 0;
    for (int64_t i = 0; i < batch; ++i) last = *leader.Propose(command);
    cluster.Stabilize();
    if (leader.log().committed() < last)
      return state.SkipWithError("not committed");
    // Keep memory flat: compact what every node has applied.
    if (last > 100000) {
      for (auto& [id, node] : cluster.nodes) {
        (void)node.storage->Compact(node.core->log().applied(),
                                    node.core->conf_state());
      }
    }
  }
  const int64_t proposals = static_cast<int64_t>(state.iterations()) * batch;
  state.SetItemsProcessed(proposals);
  state.counters["proposals_per_s"] = benchmark::Counter(
      static_cast<double>(proposals), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ProposeThroughCluster)->Arg(1)->Arg(16)->Arg(256);

void BM_StepAppend64(benchmark::State& state) {
  storage::MemoryLogStorage storage;
  (void)storage.InstallSnapshot({0, 0, {{1, 2, 3}, {}}});
  raft::Config config;
  config.id = 2;
  auto core = std::move(*Core::Create(config, &storage));
  Message m;
  m.type = raft::MessageType::kAppend;
  m.from = 1;
  m.to = 2;
  m.term = 1;
  m.entries.resize(64);
  raft::LogIndex last = 0;
  for (auto _ : state) {
    state.PauseTiming();
    m.index = last;
    m.log_term = last == 0 ? 0 : 1;
    m.commit = last;
    for (int i = 0; i < 64; ++i) {
      m.entries[i] = raft::Entry{1, last + 1 + i, raft::EntryType::kNormal,
                                 std::string(256, 'e')};
    }
    state.ResumeTiming();
    (void)core->Step(m);
    state.PauseTiming();
    raft::Ready ready = core->GetReady();
    (void)storage.Save(ready.hard_state, ready.entries);
    core->Advance(ready);
    last += 64;
    if (last % 65536 == 0)
      (void)storage.Compact(core->log().applied(), core->conf_state());
    state.ResumeTiming();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 64);
}
BENCHMARK(BM_StepAppend64);

}  // namespace
}  // namespace raftkv::benchmarks
