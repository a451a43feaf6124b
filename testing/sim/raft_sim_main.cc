// raft_sim: runs many seeded simulations of whole raftkv nodes (the production
// driver, Raft core and KV state machine) and reports safety and
// linearizability violations.
//
//   bazel run //testing:raft_sim -- --seeds=20000 --nodes=5
//
// The last line reads "seeds=N violations=V"; the exit code is 1 when V > 0.
// Every violation prints its seed and the exact command that replays it alone.

#include <algorithm>
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "testing/sim/simulator.h"

ABSL_FLAG(uint64_t, seeds, 1000, "how many seeded runs");
ABSL_FLAG(uint64_t, first_seed, 1,
          "the seed of the first run; run i uses first_seed + i");
ABSL_FLAG(int, nodes, 3, "cluster size (1 to 9)");
ABSL_FLAG(double, drop_rate, 0.05,
          "chance a message is dropped (faulty phase)");
ABSL_FLAG(double, duplicate_rate, 0.02,
          "chance a message is delivered twice (faulty phase)");
ABSL_FLAG(double, partition_rate, 0.002,
          "chance per microtick that the partition changes");
ABSL_FLAG(double, crash_rate, 0.0008,
          "chance per microtick that a node crashes");
ABSL_FLAG(double, disk_fail_rate, 0.0002,
          "chance per microtick that a node's disk starts failing writes");
ABSL_FLAG(double, disk_stall_rate, 0.03,
          "chance that a disk write stalls for 20-60 microticks");
ABSL_FLAG(double, false_peer_down_rate, 0.0005,
          "chance per microtick that a node is told a live peer is down");
ABSL_FLAG(double, pause_rate, 0.0005,
          "chance per step that some node pauses (SIGSTOP) for a while");
ABSL_FLAG(uint64_t, lease_seeds, 4,
          "seeds that are multiples of this run with lease reads (0: none)");
ABSL_FLAG(double, lease_clock_drift, 0.1,
          "the clock drift bound lease reads assume");
ABSL_FLAG(int, clients, 5, "concurrent client sessions");
ABSL_FLAG(double, membership_rate, 0.002,
          "chance per microtick that the operator proposes a membership change "
          "(0: members never change)");
ABSL_FLAG(uint64_t, session_ttl_ms, 2000,
          "client sessions idle this long on the leader's clock expire");
ABSL_FLAG(bool, serializable_as_linearizable, false,
          "check serializable reads as if linearizable (must find violations)");
ABSL_FLAG(uint64_t, fault_microticks, 4000,
          "length of the faulty phase (10 per tick)");
ABSL_FLAG(uint64_t, heal_microticks, 3000,
          "length of the healed phase that checks liveness");
ABSL_FLAG(bool, verbose, false, "print one line per run");
ABSL_FLAG(uint64_t, stop_after, 0,
          "stop after this many violations (0: run every seed)");
ABSL_FLAG(bool, trace, false,
          "print every node's raft log and every fault to stderr");
ABSL_FLAG(
    uint64_t, trace_messages_from, UINT64_MAX,
    "with --trace: also print every message delivered from this microtick on");

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Seeded deterministic simulation of whole raftkv nodes.\n"
      "Example: raft_sim --seeds=20000 --nodes=5");
  absl::ParseCommandLine(argc, argv);
  const int nodes = absl::GetFlag(FLAGS_nodes);
  if (nodes < 1 || nodes > 9) {
    fprintf(stderr, "raft_sim: --nodes must be between 1 and 9, got %d\n",
            nodes);
    return 2;
  }
  raftkv::testing::SimOptions options;
  options.nodes = nodes;
  options.membership_rate = absl::GetFlag(FLAGS_membership_rate);
  options.drop_rate = absl::GetFlag(FLAGS_drop_rate);
  options.duplicate_rate = absl::GetFlag(FLAGS_duplicate_rate);
  options.partition_rate = absl::GetFlag(FLAGS_partition_rate);
  options.crash_rate = absl::GetFlag(FLAGS_crash_rate);
  options.false_peer_down_rate = absl::GetFlag(FLAGS_false_peer_down_rate);
  options.disk_fail_rate = absl::GetFlag(FLAGS_disk_fail_rate);
  options.disk_stall_rate = absl::GetFlag(FLAGS_disk_stall_rate);
  options.clients = absl::GetFlag(FLAGS_clients);
  options.pause_rate = absl::GetFlag(FLAGS_pause_rate);
  options.lease_seeds = absl::GetFlag(FLAGS_lease_seeds);
  options.lease_clock_drift = absl::GetFlag(FLAGS_lease_clock_drift);
  options.session_ttl_ms = absl::GetFlag(FLAGS_session_ttl_ms);
  options.serializable_as_linearizable =
      absl::GetFlag(FLAGS_serializable_as_linearizable);
  options.fault_microticks = absl::GetFlag(FLAGS_fault_microticks);
  options.heal_microticks = absl::GetFlag(FLAGS_heal_microticks);
  options.trace = absl::GetFlag(FLAGS_trace);
  options.trace_messages_from = absl::GetFlag(FLAGS_trace_messages_from);

  const uint64_t seeds = absl::GetFlag(FLAGS_seeds);
  const uint64_t first = absl::GetFlag(FLAGS_first_seed);
  uint64_t violations = 0, committed = 0, crashes = 0, peer_down = 0, ops = 0,
           unknown = 0, leaders = 0, histories = 0, disk_failures = 0,
           expired = 0, pauses = 0, lease_reads = 0;
  raftkv::testing::sim::MembershipStats members;
  size_t fewest_voters = 0;
  uint64_t run = 0;
  for (uint64_t i = 0; i < seeds; ++i) {
    options.seed = first + i;
    ++run;
    raftkv::testing::SimResult result = raftkv::testing::RunSimulation(options);
    committed += result.committed;
    crashes += result.crashes;
    peer_down += result.peer_down_reports;
    ops += result.operations;
    unknown += result.unknown_outcomes;
    histories += result.history_checked ? 1 : 0;
    disk_failures += result.disk_failures;
    expired += result.sessions_expired;
    pauses += result.pauses;
    lease_reads += result.lease_reads;
    leaders += result.leaders_elected;
    members.proposed += result.membership.proposed;
    members.refused += result.membership.refused;
    members.acknowledged += result.membership.acknowledged;
    members.joint += result.membership.joint;
    members.removed_leader += result.membership.removed_leader;
    members.retired += result.membership.retired;
    members.max_members =
        std::max(members.max_members, result.membership.max_members);
    if (result.membership.min_voters > 0 &&
        (fewest_voters == 0 || result.membership.min_voters < fewest_voters))
      fewest_voters = result.membership.min_voters;
    if (absl::GetFlag(FLAGS_verbose)) {
      printf(
          "seed=%llu committed=%llu leaders=%llu crashes=%llu ops=%llu "
          "snapshots=%llu %s\n",
          static_cast<unsigned long long>(options.seed),
          static_cast<unsigned long long>(result.committed),
          static_cast<unsigned long long>(result.leaders_elected),
          static_cast<unsigned long long>(result.crashes),
          static_cast<unsigned long long>(result.operations),
          static_cast<unsigned long long>(result.snapshots_sent),
          result.ok ? "ok" : "VIOLATION");
    }
    if (!result.ok) {
      ++violations;
      printf(
          "VIOLATION seed=%llu: %s\n  replay: bazel run //testing:raft_sim -- "
          "%s\n",
          static_cast<unsigned long long>(options.seed),
          result.violation.c_str(),
          raftkv::testing::ReplayFlags(options).c_str());
      const uint64_t stop_after = absl::GetFlag(FLAGS_stop_after);
      if (stop_after > 0 && violations >= stop_after) break;
    }
  }
  printf(
      "total: committed_entries=%llu leaders_elected=%llu crashes=%llu "
      "peer_down_reports=%llu disk_failures=%llu histories_checked=%llu "
      "operations=%llu unknown_outcomes=%llu sessions_expired=%llu "
      "pauses=%llu lease_reads=%llu\n",
      static_cast<unsigned long long>(committed),
      static_cast<unsigned long long>(leaders),
      static_cast<unsigned long long>(crashes),
      static_cast<unsigned long long>(peer_down),
      static_cast<unsigned long long>(disk_failures),
      static_cast<unsigned long long>(histories),
      static_cast<unsigned long long>(ops),
      static_cast<unsigned long long>(unknown),
      static_cast<unsigned long long>(expired),
      static_cast<unsigned long long>(pauses),
      static_cast<unsigned long long>(lease_reads));
  printf(
      "membership: changes_proposed=%llu (joint=%llu removing_the_leader=%llu) "
      "acknowledged=%llu refused=%llu nodes_retired=%llu members_max=%zu "
      "voters_min=%zu\n",
      static_cast<unsigned long long>(members.proposed),
      static_cast<unsigned long long>(members.joint),
      static_cast<unsigned long long>(members.removed_leader),
      static_cast<unsigned long long>(members.acknowledged),
      static_cast<unsigned long long>(members.refused),
      static_cast<unsigned long long>(members.retired), members.max_members,
      fewest_voters);
  printf("seeds=%llu violations=%llu\n", static_cast<unsigned long long>(run),
         static_cast<unsigned long long>(violations));
  return violations > 0 ? 1 : 0;
}
