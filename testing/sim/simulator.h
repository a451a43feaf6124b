// Simulator: many seeded runs of whole raftkv nodes over a simulated network,
// disk and clock, checking the Raft safety properties after every step and
// every client history for linearizability.
//
// One run: N nodes, each the production kv::NodeDriver (the Ready loop, the
// Raft core, the KV state machine with client sessions) over the in-memory
// storage twins (sim_node.h). Time is in microticks (1 ms of a node's clock);
// each node ticks every 8-12 microticks, following a monotonic clock
// (kv::NodeDriver::CatchUpTicks), and its wall clock runs at its own rate and
// offset. Messages take 1-15 microticks and may be dropped,
// duplicated and so reordered; the network is cut by symmetric and
// asymmetric partitions that change over time. A disk write completes after a
// random latency, and sometimes stalls; a crash loses every write not yet
// completed and the KV
// store's unsynced writes, and the node restarts from its storage. A disk may
// fail: the node must stop without acknowledging anything, and is restarted
// on a repaired disk. A node may pause (SIGSTOP) and resume. Every fourth
// run serves reads from the leader's lease (thesis §6.4.1), its clocks
// drifting within the lease's bound. Clients (sim_clients.h) issue put, get,
// delete, cas and list with session retries through leader changes.
//
// Meanwhile an operator changes the members (sim_membership.h): new empty
// nodes join as learners or voters, learners are promoted, voters and leaders
// are removed, a voter is replaced in one joint change.
//
// After every step: election safety (one leader per term, §5.2), log matching
// (§5.3, on a hash chain of every durable log), leader completeness (§5.4),
// state machine safety (every node applies the same change at each index,
// §5.4.3), committed entries never lost, §5.4.2's commit rule, every newly
// committed entry durable on a quorum of the configuration(s) in force
// (thesis §4.1, §4.3), and each
// core's CheckInvariants(). At the end: the client history is linearizable
// (testing/linearizability), and after the faults stop a write is
// acknowledged within the healed phase (liveness).
//
// Thread safety: a Simulator runs on one thread; separate instances are
// independent. Invariant: the same SimOptions (seed included) produce the same
// run, step for step.
#ifndef RAFTKV_TESTING_SIM_SIMULATOR_H_
#define RAFTKV_TESTING_SIM_SIMULATOR_H_

#include <cstdint>
#include <string>

#include "testing/sim/sim_membership.h"

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
  double partition_rate = 0.002;   // chance per step that the partition changes
  double crash_rate = 0.0008;      // chance per step that some node crashes
  double disk_fail_rate = 0.0002;  // chance per step that some disk fails
  double disk_stall_rate = 0.03;   // chance that a disk write stalls
  // Chance per step that the operator proposes a membership change
  // (sim_membership.h); members stay between 1 and max_members.
  double membership_rate = 0.002;
  size_t max_members = 7;
  uint64_t max_delay = 15;  // message delay in microticks, at least 1
  // Client load.
  int clients = 5;
  double op_rate = 0.08;  // chance per microtick that an idle client starts
  // Client sessions idle this long (on the leaders' skewed clocks) expire;
  // short enough that a leader whose clock runs ahead expires some.
  uint64_t session_ttl_ms = 2000;
  // Compact a node's log once it has applied this many entries past it.
  uint64_t compact_every = 64;
  bool pre_vote = true;
  bool check_quorum = true;
  // Transport evidence (raft::Core::PeerDown): when a node crashes, every
  // live node is told, as a real node learns from a reset connection and a
  // refused redial. Wrong evidence too: chance per step that one live node is
  // told a live peer (usually its leader) is down.
  bool fast_failover = true;
  double false_peer_down_rate = 0.0005;
  // Chance per step that some node (often the leader) pauses (SIGSTOP) for
  // 20-620 microticks:
  // messages and client requests to it wait, and it resumes with its clocks
  // moved on.
  double pause_rate = 0.0005;
  // Runs whose seed is a multiple of this serve reads from the leader's lease
  // (raft::Config::lease_reads, fast failover off; 0: none, 1: every run).
  // Their nodes' ticks then differ in rate by at most lease_clock_drift, and
  // every lease read is checked against what was committed (never stale).
  uint64_t lease_seeds = 4;
  double lease_clock_drift = 0.1;
  // Checks serializable reads as if they were linearizable: a run must then
  // report a violation (the checker's own test).
  bool serializable_as_linearizable = false;
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
  uint64_t peer_down_reports = 0;  // evidence delivered, right or wrong
  uint64_t disk_failures = 0;
  uint64_t operations = 0;        // client operations checked
  uint64_t unknown_outcomes = 0;  // of which with unknown outcome
  uint64_t writes_acknowledged = 0;
  uint64_t sessions_expired = 0;  // writes answered "session expired"
  uint64_t snapshots_sent = 0;
  uint64_t pauses = 0;
  uint64_t lease_reads = 0;  // reads leaders answered from their lease
  sim::MembershipStats membership;
  bool history_checked = false;
};

SimResult RunSimulation(const SimOptions& options);

// The flags that replay `options` with //testing:raft_sim.
std::string ReplayFlags(const SimOptions& options);

}  // namespace raftkv::testing

#endif  // RAFTKV_TESTING_SIM_SIMULATOR_H_
