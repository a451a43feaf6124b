// Nemesis: a Jepsen-style run against real kvnode processes. From one seed it
// starts a cluster (testing/cluster/harness.h: real `kvnode serve` processes on
// loopback, a TCP proxy on every peer link), runs concurrent clients (each its
// own kv::Client, thread and session) that mix put, linearizable get, delete
// and cas over a few keys and record every operation's invoke and return time
// and outcome (a timeout or lost connection is an unknown outcome), while a
// fault schedule kills, pauses, stops and restarts nodes (the leader among
// them), partitions the network (the leader isolated, a minority, one-way
// links; connections reset by the proxies or packets silently dropped),
// runs nodes on a fast or slow clock (libfaketime; a slow one made leader and
// cut off while clients write around it and read at it), fills a node's
// disk (a small tmpfs: it must stop with exit code 7 and catch up later), moves
// leadership, and removes and re-adds a node. At the end it heals everything,
// waits until every node holds the same state, checks the history with
// testing/linearizability, and stops every node with SIGTERM, which must exit
// 0.
//
// Thread safety: RunNemesis owns its threads; one run at a time per process.
#ifndef RAFTKV_TESTING_NEMESIS_NEMESIS_H_
#define RAFTKV_TESTING_NEMESIS_NEMESIS_H_

#include <cstdint>
#include <string>
#include <vector>

namespace raftkv::testing {

struct NemesisOptions {
  uint64_t seed = 1;
  int nodes = 3;
  int clients = 4;
  int keys = 3;
  // The run ends when the clients have completed this many operations or
  // `duration_ms` has passed, whichever comes first.
  int operations = 500;
  uint64_t duration_ms = 20000;
  // ... and at least this many faults were injected (the kinds come in a
  // seeded order, so the first ones differ).
  uint64_t min_faults = 6;
  // Replace nodes (remove one, add a new one through --join). A joined node
  // is reached without the harness's proxies, so partitions then cut only the
  // founders' links.
  bool replace_nodes = true;
  // Only these fault kinds (nemesis.cc's Kind: 0 kill, 1 pause, 2 sigterm,
  // 3 isolate, 4 one-way, 5 move-leader, 6 replace, 7 slow-clock leader, 8
  // fast clock, 9 disk full, 10 remove and re-add); all if empty.
  std::vector<uint64_t> only_kinds;
  // Each fault lasts 200 ms to this, then heals, then the next one comes.
  uint64_t max_fault_ms = 1200;
  // A third of the partitions last one of these instead (the long mode asks
  // for 3 s and 20 s ones: links stall, are given up and must come back).
  std::vector<uint64_t> long_partition_ms;
  // Flags for every node (fast elections: 20 ms ticks).
  std::vector<std::string> node_flags = {"--tick-ms=20"};
};

struct NemesisResult {
  bool ok = true;
  std::string failure;   // the first problem: an anomaly, divergence, exit
  bool anomaly = false;  // the history is not linearizable
  uint64_t operations = 0;
  uint64_t unknown = 0;  // operations with an unknown outcome
  uint64_t faults = 0;
  std::vector<std::string> timeline;     // "+1234 ms kill -9 node 2 (leader)"
  std::vector<std::string> fault_kinds;  // distinct kinds injected
  // Per healed partition: from the heal until the cut-off node knew a leader
  // and had applied what was committed at the heal (10 s if never).
  struct Rejoin {
    uint64_t partition_ms = 0;  // how long the partition lasted
    uint64_t rejoin_ms = 0;
  };
  std::vector<Rejoin> rejoins;
};

NemesisResult RunNemesis(const NemesisOptions& options);

}  // namespace raftkv::testing

#endif  // RAFTKV_TESTING_NEMESIS_NEMESIS_H_
