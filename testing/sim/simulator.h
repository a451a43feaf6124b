// Simulator: many seeded runs of real raft::Core instances over simulated
// network, disk and clock, checking the Raft safety properties after every
// step.
//
// One run: N nodes, each a raft::Core over a MemoryLogStorage (what it has
// synced) and a set-of-commands state machine. Time is in microticks; each
// node's clock ticks every 8-12 microticks (clocks run at different rates).
// Messages take 1-15 microticks and may be dropped, duplicated and so
// reordered; the network is cut by symmetric and asymmetric partitions that
// change over time. A node's Ready is written to "disk" after a random latency;
// a crash loses any Ready not yet written, then the node restarts from its
// storage and its last snapshot. Clients propose commands and issue ReadIndex
// reads.
//
// After every step: election safety (one leader per term, §5.2), log matching
// (§5.3, on a hash chain of every durable log), leader completeness and state
// machine safety (§5.4: every committed entry is in every later leader's log,
// and every node applies the same entry at each index), committed entries never
// lost, each core's CheckInvariants(), and every completed read containing
// every write acknowledged before it began (the real-time order linearizability
// requires of ReadIndex). After the faults stop, a leader must be elected and
// commit within a bounded number of ticks (liveness).
//
// Thread safety: a Simulator runs on one thread; separate instances are
// independent. Invariant: the same SimOptions (seed included) produce the same
// run, step for step.
#ifndef RAFTKV_TESTING_SIM_SIMULATOR_H_
#define RAFTKV_TESTING_SIM_SIMULATOR_H_

#include <cstdint>
#include <string>

namespace raftkv::testing {

struct SimOptions {
  uint64_t seed = 1;
  int nodes = 3;
  // Length of the faulty phase and of the healed phase, in microticks (~10 per
  // tick).
  uint64_t fault_microticks = 4000;
  uint64_t heal_microticks = 3000;
  // Fault mix; probabilities are per message or per step.
  double drop_rate = 0.05;
  double duplicate_rate = 0.02;
  double partition_rate = 0.002;  // chance per step that the partition changes
  double crash_rate = 0.0008;     // chance per step that some node crashes
  uint64_t max_delay = 15;        // message delay in microticks, at least 1
  // Client load.
  double propose_rate = 0.15;
  double read_rate = 0.05;
  // Compact a node's log once it has applied this many entries past its
  // snapshot.
  uint64_t compact_every = 64;
  bool pre_vote = true;
  bool check_quorum = true;
  // Print every core's log lines and the simulator's faults to stderr, and
  // every message delivered from this microtick on.
  bool trace = false;
  uint64_t trace_messages_from = UINT64_MAX;
};

struct SimResult {
  bool ok = true;
  std::string violation;   // the first one, with the step it happened at
  uint64_t committed = 0;  // highest commit index reached
  uint64_t leaders_elected = 0;
  uint64_t crashes = 0;
  uint64_t reads_checked = 0;
  uint64_t writes_acknowledged = 0;
  uint64_t snapshots_sent = 0;
};

SimResult RunSimulation(const SimOptions& options);

// The flags that replay `options` with //testing:raft_sim.
std::string ReplayFlags(const SimOptions& options);

}  // namespace raftkv::testing

#endif  // RAFTKV_TESTING_SIM_SIMULATOR_H_
