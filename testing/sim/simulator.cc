#include "testing/sim/simulator.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "kv/driver.h"
#include "raft/confchange.h"
#include "raft/core.h"
#include "testing/linearizability/checker.h"
#include "testing/sim/sim_clients.h"
#include "testing/sim/sim_membership.h"
#include "testing/sim/sim_node.h"
#include "testing/sim/sim_safety.h"

namespace raftkv::testing {
namespace {

using raft::Core;
using raft::Entry;
using raft::LogIndex;
using raft::Message;
using raft::MessageType;
using raft::NodeId;
using raft::Role;
using raft::Term;
using sim::HashBytes;
using sim::HashEntry;
using sim::InFlight;
using sim::Mix;
using sim::SimNode;

class Simulation {
 public:
  explicit Simulation(const SimOptions& options)
      : options_(options),
        lease_reads_(options.lease_seeds > 0 &&
                     options.seed % options.lease_seeds == 0),
        rng_(options.seed),
        safety_([this](NodeId id) -> SimNode& { return Node(id); },
                [this] { return nodes_.size(); },
                [this](const std::string& what) { Fail(what); }),
        clients_(
            sim::ClientOptions{options.clients, 4, options.op_rate},
            Mix(options.seed, 0xc11e47),
            [this](NodeId id) -> SimNode& { return Node(id); },
            [this] { return static_cast<int>(nodes_.size()); },
            [this](const std::string& what) { Fail(what); }),
        membership_(
            Mix(options.seed, 0x3e3b), options.membership_rate,
            options.max_members,
            sim::SimMembership::Hooks{
                [this] { return Leader(); }, [this] { return NewNode(); },
                [this](NodeId id) { Node(id).retired = true; },
                [this](NodeId id) { Retire(id); },
                [this](const std::string& line) { Trace(line); }}) {}

  SimResult Run() {
    std::vector<NodeId> voters;
    for (int i = 1; i <= options_.nodes; ++i)
      voters.push_back(static_cast<NodeId>(i));
    kv::MemberAddresses founders;
    for (NodeId id : voters) founders[id] = absl::StrCat("sim:", id);
    for (NodeId id : voters) {
      SimNode& node = AddSlot(id);
      (void)node.log.twin.InstallSnapshot({0, 0, {voters, {}, {}}});
      node.initial_members = founders;
    }
    for (auto& node : nodes_) Start(*node);

    const uint64_t end = options_.fault_microticks + options_.heal_microticks;
    for (now_ = 0; now_ < end && result_.ok; ++now_) {
      if (now_ == options_.fault_microticks) Heal();
      const bool faulty = now_ < options_.fault_microticks;
      // A node that resumes reads its clients' requests first, before the
      // messages that waited for it and before its timer fires: a read served
      // then must not trust ticks from before the pause.
      for (auto& node : nodes_) {
        if (now_ >= node->paused_until && !node->held.empty()) Resume(*node);
      }
      DeliverMessages();
      for (size_t i = 0; i < nodes_.size(); ++i) {
        SimNode* node = nodes_[i].get();
        if (!result_.ok) break;
        if (node->retired) continue;
        if (node->driver == nullptr) {
          if (now_ >= node->restart_at) Start(*node);
          continue;
        }
        if (node->storage_failed) {
          Stop(*node, 50 + rng_() % 200);  // the supervisor restarts it
          continue;
        }
        if (now_ < node->paused_until) {
          node->disk->Step(now_, /*report=*/false);
          continue;
        }
        // The node's timer: the ticks its monotonic clock says are due.
        if (node->driver != nullptr && node->driver->CatchUpTicks() > 0)
          safety_.Observe(*node);
        if (node->driver == nullptr) continue;
        node->disk->Step(now_);
        if (node->driver != nullptr) node->snapshot_disk->Step(now_);
        safety_.Observe(*node);
      }
      if (faulty) {
        InjectFaults();
        membership_.Step(now_);
      }
      clients_.Step(now_);
      // The end of every node's turn: what this step's deliveries and
      // requests deferred (one Ready for all of them).
      for (auto& node : nodes_) node->turn_end.Run();
    }
    if (result_.ok &&
        clients_.last_write_acknowledged() < options_.fault_microticks) {
      TraceNodes();
      Fail(absl::StrCat("liveness: no write acknowledged within ",
                        options_.heal_microticks / 10,
                        " ticks after the network healed"));
    }
    result_.committed = safety_.max_committed();
    result_.leaders_elected = safety_.leaders_elected();
    result_.writes_acknowledged = clients_.stats().writes_acknowledged;
    result_.sessions_expired = clients_.stats().sessions_expired;
    result_.membership = membership_.stats();
    for (auto& node : nodes_) {
      if (node->driver != nullptr)
        result_.lease_reads += node->driver->core().lease_reads_served();
    }
    if (result_.ok) CheckHistory();
    return result_;
  }

 private:
  void Fail(const std::string& what) {
    if (!result_.ok) return;
    result_.ok = false;
    result_.violation = absl::StrCat("at microtick ", now_, ": ", what);
  }

  SimNode& Node(NodeId id) { return *nodes_[id - 1]; }

  SimNode& AddSlot(NodeId id) {
    auto node = std::make_unique<SimNode>();
    node->id = id;
    // Tick rates differ: a tick lasts 8-12 microticks, or, with lease reads,
    // 10 / (1 + up to the drift bound), so that no node's ticks run more than
    // lease_clock_drift faster than another's.
    const uint64_t tick_period = 8 + rng_() % 5;
    const uint64_t draw = rng_() % 1001;
    node->mono_rate = lease_reads_
                          ? 1.0 + options_.lease_clock_drift *
                                      static_cast<double>(draw) / 1000.0
                          : 10.0 / static_cast<double>(tick_period);
    // Wall clocks disagree in offset and rate.
    node->clock_rate = 0.9 + static_cast<double>(rng_() % 201) / 1000.0;
    node->clock_offset_ms = 1'000'000 + rng_() % 3000;
    SimNode* raw = node.get();
    node->log.on_save = [this, raw](absl::Span<const Entry> entries) {
      safety_.OnDurableAppend(*raw, entries);
    };
    node->log.on_install = [this, raw](const raft::SnapshotMetadata& meta) {
      safety_.OnDurableSnapshot(*raw, meta);
    };
    node->kv.on_apply = [this, raw](const storage::KvBatch& batch) {
      safety_.OnApply(*raw, batch);
    };
    nodes_.push_back(std::move(node));
    return *raw;
  }

  // A node for the membership operator: empty storage, no configuration;
  // the main loop starts it at the next microtick.
  NodeId NewNode() {
    if (nodes_.size() >= kMaxNodeIds) return 0;
    SimNode& node = AddSlot(static_cast<NodeId>(nodes_.size() + 1));
    node.restart_at = now_ + 1;
    // What the join handshake tells it: the members a member knows of.
    if (SimNode* leader = Leader()) {
      node.initial_members = leader->driver->members();
    }
    node.initial_members[node.id] = absl::StrCat("sim:", node.id);
    return node.id;
  }

  void Retire(NodeId id) {
    SimNode& node = Node(id);
    Trace(absl::StrCat("retire node ", id));
    if (node.driver != nullptr) Stop(node, 0);
    node.retired = true;
  }

  // The leader of the highest term among running nodes.
  SimNode* Leader() {
    SimNode* best = nullptr;
    for (auto& node : nodes_) {
      if (node->driver == nullptr || node->storage_failed ||
          now_ < node->paused_until || node->driver->role() != Role::kLeader)
        continue;
      if (best == nullptr ||
          node->driver->core().term() > best->driver->core().term())
        best = node.get();
    }
    return best;
  }

  void Trace(const std::string& line) {
    if (options_.trace) {
      fprintf(stderr, "%6llu sim: %s\n", static_cast<unsigned long long>(now_),
              line.c_str());
    }
  }

  void Start(SimNode& node) {
    raft::Config config;
    config.id = node.id;
    config.seed = Mix(options_.seed, node.id * 1000 + node.incarnation);
    config.election_ticks = 10;
    config.heartbeat_ticks = 1;
    config.pre_vote = options_.pre_vote;
    config.check_quorum = options_.check_quorum;
    // Lease reads turn fast failover off, as production does.
    config.fast_failover = options_.fast_failover && !lease_reads_;
    config.lease_reads = lease_reads_;
    config.lease_clock_drift = options_.lease_clock_drift;
    config.max_entries_bytes_per_message = 2048;  // small: exercise pipelining
    config.max_inflight_messages = 8;
    // Often small, so that applying a backlog takes several Readies and a
    // read can be confirmed before the state machine has reached its index.
    config.max_committed_bytes_per_ready = rng_() % 2 == 0 ? 1 : 8 << 20;
    if (options_.trace) {
      config.log_sink = [this](absl::string_view line) {
        fprintf(stderr, "%6llu %s\n", static_cast<unsigned long long>(now_),
                std::string(line).c_str());
      };
    }
    // A disk write takes 1-4 microticks, and now and then stalls for 20-60,
    // as fsyncs do: the followers then commit without the leader, whose
    // backlog of committed entries grows while reads keep being confirmed.
    node.disk = std::make_unique<sim::SimExecutor>([this]() -> uint64_t {
      if (Chance(options_.disk_stall_rate)) return 20 + rng_() % 41;
      return 1 + rng_() % 4;
    });
    node.snapshot_disk =
        std::make_unique<sim::SimExecutor>([this] { return 1 + rng_() % 6; });
    NodeId from = node.id;
    node.transport = std::make_unique<sim::SimTransport>(
        [this, from](sim::Packet packet) { Send(from, std::move(packet)); });
    node.clock = std::make_unique<sim::SimClock>(
        &now_, node.clock_rate, node.clock_offset_ms, node.mono_rate);
    kv::DriverOptions driver_options;
    driver_options.id = node.id;
    driver_options.tick_us = 10'000;
    driver_options.request_timeout_ticks = 30;
    driver_options.compact_after_entries = options_.compact_every;
    driver_options.snapshot_chunk_bytes = 64 + rng_() % 512;  // many chunks
    driver_options.snapshot_timeout_ticks = 20;
    driver_options.snapshot_bytes_per_tick = rng_() % 2 == 0 ? 0 : 300;
    // Half the nodes send compressed chunks (no draw of its own, so that a
    // seed keeps its schedule).
    driver_options.snapshot_gzip = driver_options.snapshot_chunk_bytes % 2 == 0;
    // Short enough that a leader whose clock runs ahead expires sessions.
    driver_options.session_ttl_ms = options_.session_ttl_ms;
    SimNode* raw = &node;
    driver_options.initial_members = node.initial_members;
    driver_options.on_members_changed =
        [raw](const kv::MemberAddresses& peers) {
          raw->dialable.clear();
          for (const auto& [id, address] : peers) raw->dialable.insert(id);
        };
    driver_options.on_failure = [this, raw](const absl::Status& status) {
      Trace(absl::StrCat("node ", raw->id,
                         " stops on storage failure: ", status.message()));
      raw->storage_failed = true;
    };
    node.driver = std::make_unique<kv::NodeDriver>(
        std::move(driver_options), node.Seams(node.clock.get()));
    absl::Status opened = node.driver->Open(config);
    if (!opened.ok()) {
      return Fail(absl::StrCat("node ", node.id,
                               " cannot restart: ", opened.ToString()));
    }
    ++node.incarnation;
    node.storage_failed = false;
    node.last_commit_seen = node.driver->core().log().committed();
    node.lease_reads_seen = 0;
    Trace(absl::StrCat("start node ", node.id, " incarnation ",
                       node.incarnation, " last index ",
                       node.driver->core().log().LastIndex(), " applied ",
                       node.kv.AppliedIndex()));
  }

  // A crash (or a stop after a storage failure): the process is gone with
  // everything not durable.
  void Stop(SimNode& node, uint64_t restart_after) {
    Trace(absl::StrCat("stop node ", node.id));
    if (node.driver != nullptr)
      result_.lease_reads += node.driver->core().lease_reads_served();
    node.driver.reset();
    node.paused_until = 0;
    node.held.clear();  // the clients' connections drop with the process
    node.disk.reset();  // writes not yet on disk are lost
    node.snapshot_disk.reset();
    node.staging.Clear();
    node.transport.reset();
    node.clock.reset();
    node.kv.twin.LoseUnsyncedWrites();
    node.log.twin.InjectWriteError(absl::OkStatus());  // a repaired disk
    node.kv.twin.InjectWriteError(absl::OkStatus());
    node.restart_at = now_ + restart_after;
  }

  void ReportPeerDown(SimNode& node, raft::NodeId down) {
    if (!options_.fast_failover || node.driver == nullptr || node.id == down ||
        now_ < node.paused_until)
      return;
    ++result_.peer_down_reports;
    Trace(absl::StrCat("node ", node.id, " told node ", down, " is down"));
    node.driver->PeerDown(down);
    safety_.Observe(node);
  }

  void Heal() {
    Trace("heal: no more faults");
    TraceNodes();
    cut_.clear();
    for (auto& node : nodes_) {
      if (node->driver == nullptr && !node->retired) node->restart_at = now_;
    }
  }

  void TraceNodes() {
    for (auto& node : nodes_) {
      if (node->driver == nullptr) continue;
      const Core& core = node->driver->core();
      Trace(absl::StrCat(
          "  node ", node->id, " ", raft::RoleName(core.role()), " term ",
          core.term(), " last ", core.log().LastIndex(), " commit ",
          core.log().committed(), " applied ", node->kv.AppliedIndex(), " ",
          raft::DescribeConf(core.conf_state())));
    }
  }

  bool Chance(double p) {
    return static_cast<double>(rng_() % 1000000) < p * 1000000.0;
  }

  void Send(NodeId from, sim::Packet packet) {
    const bool faulty = now_ < options_.fault_microticks;
    if (sim::FromOf(packet) != from) {
      return Fail(
          absl::StrCat("node ", from, " sends as ", sim::FromOf(packet)));
    }
    if (const auto* chunk = std::get_if<raft::SnapshotChunk>(&packet);
        chunk != nullptr && chunk->last) {
      ++result_.snapshots_sent;
    }
    // A node reaches only the peers its driver told it to dial (production
    // dials exactly those).
    if (Node(from).dialable.count(sim::ToOf(packet)) == 0) return;
    if (faulty && Chance(options_.drop_rate)) return;
    const int copies = faulty && Chance(options_.duplicate_rate) ? 2 : 1;
    for (int i = 0; i < copies; ++i) {
      const uint64_t delay =
          1 + rng_() % std::max<uint64_t>(1, options_.max_delay);
      network_.push(InFlight{now_ + delay, seq_++, packet});
    }
  }

  void DeliverMessages() {
    while (!network_.empty() && network_.top().deliver_at <= now_ &&
           result_.ok) {
      InFlight flight = network_.top();
      network_.pop();
      const NodeId from = sim::FromOf(flight.packet);
      const NodeId to_id = sim::ToOf(flight.packet);
      if (cut_.count({from, to_id}) > 0) continue;
      if (to_id == 0 || to_id > nodes_.size()) continue;  // no such node
      SimNode& to = Node(to_id);
      if (to.driver == nullptr || to.storage_failed) continue;
      if (now_ < to.paused_until) {
        // A paused process reads nothing: the message waits in its socket,
        // and is read some time after the clients' requests.
        network_.push(
            InFlight{to.paused_until + 1 +
                         rng_() % std::max<uint64_t>(1, options_.max_delay),
                     seq_++, flight.packet});
        continue;
      }
      if (auto* chunk = std::get_if<raft::SnapshotChunk>(&flight.packet)) {
        to.driver->DeliverSnapshotChunk(std::move(*chunk));
      } else if (auto* ack = std::get_if<raft::SnapshotAck>(&flight.packet)) {
        to.driver->DeliverSnapshotAck(*ack);
      } else {
        const Message& m = std::get<Message>(flight.packet);
        // Where the sender listens, as production's peer stream hello says.
        to.driver->LearnPeerAddress(from, absl::StrCat("sim:", from));
        if (options_.trace && now_ >= options_.trace_messages_from) {
          Trace(absl::StrCat(raft::MessageTypeName(m.type), " ", m.from, "->",
                             m.to, " t", m.term, " i", m.index, " lt",
                             m.log_term, " n", m.entries.size(), " c", m.commit,
                             m.reject ? " reject" : "", " hint",
                             m.reject_hint));
        }
        to.driver->Deliver({m});
      }
      safety_.Observe(to);
    }
  }

  // A pause (SIGSTOP, a long GC, a VM descheduled): the node does nothing
  // for a while and then goes on as if no time had passed, except that its
  // clocks moved.
  void Pause() {
    // The leader half the time: its pause is the one that tests leases.
    SimNode* leader = Leader();
    SimNode& victim = leader != nullptr && rng_() % 2 == 0
                          ? *leader
                          : *nodes_[rng_() % nodes_.size()];
    if (victim.driver == nullptr || victim.retired ||
        now_ < victim.paused_until)
      return;
    ++result_.pauses;
    victim.paused_until = now_ + 20 + rng_() % 600;
    Trace(
        absl::StrCat("pause node ", victim.id, " until ", victim.paused_until));
  }

  // The end of a pause: the client requests that waited reach the node.
  void Resume(SimNode& node) {
    // The write that finished during the pause is reported first.
    node.disk->Step(now_);
    if (node.driver == nullptr) return;
    std::vector<std::function<void()>> held;
    held.swap(node.held);
    Trace(absl::StrCat("node ", node.id, " resumes as ",
                       raft::RoleName(node.driver->core().role()), " of term ",
                       node.driver->core().term(), ", ", held.size(),
                       " client requests waiting"));
    // Each on its own connection, so each in a turn of its own, all before
    // the timer's.
    for (auto& request : held) {
      if (node.driver == nullptr) break;
      request();
      node.turn_end.Run();
      if (node.driver != nullptr) safety_.Observe(node);
    }
  }

  void InjectFaults() {
    if (Chance(options_.partition_rate)) Partition();
    if (Chance(options_.pause_rate)) Pause();
    if (Chance(options_.crash_rate)) {
      SimNode& victim = *nodes_[rng_() % nodes_.size()];
      if (victim.driver != nullptr && !victim.retired) {
        ++result_.crashes;
        Stop(victim, 20 + rng_() % 300);
        // The kernel closed its sockets: the others see the reset and a
        // refused redial.
        for (auto& node : nodes_) ReportPeerDown(*node, victim.id);
      }
    }
    if (Chance(options_.false_peer_down_rate)) {
      // Wrong evidence: a live peer, most often the node's own leader.
      SimNode& told = *nodes_[rng_() % nodes_.size()];
      if (told.driver != nullptr) {
        const raft::NodeId leader = told.driver->core().leader();
        const raft::NodeId peer = leader != raft::kNoNode && rng_() % 4 != 0
                                      ? leader
                                      : nodes_[rng_() % nodes_.size()]->id;
        ReportPeerDown(told, peer);
      }
    }
    if (Chance(options_.disk_fail_rate)) {
      SimNode& victim = *nodes_[rng_() % nodes_.size()];
      if (victim.driver != nullptr) {
        ++result_.disk_failures;
        const absl::Status full =
            absl::ResourceExhaustedError("simulated disk full");
        Trace(absl::StrCat("disk of node ", victim.id, " fails"));
        if (rng_() % 2 == 0) {
          victim.log.twin.InjectWriteError(full);
        } else {
          victim.kv.twin.InjectWriteError(full);
        }
      }
    }
  }

  void Partition() {
    cut_.clear();
    const int kind = static_cast<int>(rng_() % 3);
    if (kind == 1) {  // symmetric: split into two sides
      std::vector<bool> side(nodes_.size());
      for (size_t i = 0; i < side.size(); ++i) side[i] = rng_() % 2;
      for (NodeId a = 1; a <= nodes_.size(); ++a) {
        for (NodeId b = 1; b <= nodes_.size(); ++b) {
          if (side[a - 1] != side[b - 1]) cut_.insert({a, b});
        }
      }
    } else if (kind == 2) {  // asymmetric: some links fail one way only
      for (size_t i = 0; i < nodes_.size(); ++i) {
        NodeId a = 1 + rng_() % nodes_.size(), b = 1 + rng_() % nodes_.size();
        if (a != b) cut_.insert({a, b});
      }
    }  // kind 0: heal
    std::string cuts;
    for (const auto& [a, b] : cut_) absl::StrAppend(&cuts, " ", a, "->", b);
    Trace(absl::StrCat("partition:", cuts.empty() ? " none" : cuts));
  }

  void CheckHistory() {
    std::vector<linearizability::Operation> history = clients_.History();
    if (options_.serializable_as_linearizable) {
      const auto& reads = clients_.serializable_reads();
      history.insert(history.end(), reads.begin(), reads.end());
    }
    linearizability::CheckResult checked = linearizability::Check(history);
    result_.history_checked = true;
    result_.operations = checked.operations;
    for (const auto& op : history) result_.unknown_outcomes += !op.known;
    if (checked.inconclusive) {
      Fail("linearizability check ran out of its search budget");
    } else if (!checked.linearizable) {
      Fail(absl::StrCat("linearizability: ", checked.explanation));
    }
  }

  const SimOptions options_;
  const bool lease_reads_;  // this run's leaders serve reads from a lease
  std::mt19937_64 rng_;
  SimResult result_;
  uint64_t now_ = 0;
  uint64_t seq_ = 0;
  // Node ids ever used in one run (members are at most max_members).
  static constexpr size_t kMaxNodeIds = 16;
  std::vector<std::unique_ptr<SimNode>> nodes_;
  std::priority_queue<InFlight, std::vector<InFlight>, std::greater<>> network_;
  std::set<std::pair<NodeId, NodeId>> cut_;
  sim::SimSafety safety_;
  sim::SimClients clients_;
  sim::SimMembership membership_;
};

}  // namespace

SimResult RunSimulation(const SimOptions& options) {
  return Simulation(options).Run();
}

std::string ReplayFlags(const SimOptions& o) {
  return absl::StrCat(
      "--seeds=1 --first_seed=", o.seed, " --nodes=", o.nodes,
      " --drop_rate=", o.drop_rate, " --duplicate_rate=", o.duplicate_rate,
      " --partition_rate=", o.partition_rate, " --crash_rate=", o.crash_rate,
      " --false_peer_down_rate=", o.false_peer_down_rate,
      " --disk_fail_rate=", o.disk_fail_rate,
      " --disk_stall_rate=", o.disk_stall_rate,
      " --membership_rate=", o.membership_rate,
      " --session_ttl_ms=", o.session_ttl_ms,
      " --fault_microticks=", o.fault_microticks,
      " --heal_microticks=", o.heal_microticks, " --pause_rate=", o.pause_rate,
      " --lease_seeds=", o.lease_seeds,
      " --lease_clock_drift=", o.lease_clock_drift,
      o.serializable_as_linearizable ? " --serializable_as_linearizable" : "");
}

}  // namespace raftkv::testing
