#include "testing/sim/simulator.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <set>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "raft/core.h"
#include "storage/memory_log_storage.h"
#include "testing/sim/sim_state.h"

namespace raftkv::testing {
namespace {

using raft::Core;
using raft::Entry;
using raft::LogIndex;
using raft::Message;
using raft::MessageType;
using raft::NodeId;
using raft::Ready;
using raft::Role;
using raft::Term;
using sim::DecodeState;
using sim::EncodeState;
using sim::HashEntry;
using sim::InFlight;
using sim::Mix;
using sim::PendingRead;
using sim::SimNode;

class Simulation {
 public:
  explicit Simulation(const SimOptions& options)
      : options_(options), rng_(options.seed) {}

  SimResult Run() {
    for (int i = 1; i <= options_.nodes; ++i)
      voters_.push_back(static_cast<NodeId>(i));
    for (NodeId id : voters_) {
      auto node = std::make_unique<SimNode>();
      node->id = id;
      node->tick_period = 8 + rng_() % 5;  // clocks run at different rates
      node->next_tick_at = rng_() % node->tick_period;
      (void)node->storage.InstallSnapshot({0, 0, {voters_, {}}});
      nodes_.push_back(std::move(node));
    }
    for (auto& node : nodes_) Start(*node);

    const uint64_t end = options_.fault_microticks + options_.heal_microticks;
    for (now_ = 0; now_ < end && result_.ok; ++now_) {
      if (now_ == options_.fault_microticks) Heal();
      const bool faulty = now_ < options_.fault_microticks;
      DeliverMessages(faulty);
      for (auto& node : nodes_) {
        if (!result_.ok) break;
        if (node->core == nullptr) {
          if (now_ >= node->restart_at) Start(*node);
          continue;
        }
        if (now_ >= node->next_tick_at) {
          node->next_tick_at += node->tick_period;
          node->core->Tick();
          Observe(*node);
        }
        FinishWrite(*node);
        StartWrite(*node);
      }
      if (faulty) InjectFaults();
      Clients();
    }
    if (result_.ok && !live_) {
      Fail(absl::StrCat("liveness: no write committed within ",
                        options_.heal_microticks / 10,
                        " ticks after the network healed"));
    }
    result_.committed = max_committed_;
    return result_;
  }

 private:
  void Fail(const std::string& what) {
    if (!result_.ok) return;
    result_.ok = false;
    result_.violation = absl::StrCat("at microtick ", now_, ": ", what);
  }

  SimNode& Node(NodeId id) { return *nodes_[id - 1]; }

  void Start(SimNode& node) {
    raft::Config config;
    config.id = node.id;
    config.seed = Mix(options_.seed, node.id * 1000 + node.incarnation);
    config.election_ticks = 10;
    config.heartbeat_ticks = 1;
    config.pre_vote = options_.pre_vote;
    config.check_quorum = options_.check_quorum;
    config.max_entries_bytes_per_message =
        512;  // small, to exercise pipelining
    config.max_inflight_messages = 8;
    if (options_.trace) {
      config.log_sink = [this](absl::string_view line) {
        fprintf(stderr, "%6llu %s\n", static_cast<unsigned long long>(now_),
                std::string(line).c_str());
      };
    }
    auto core = Core::Create(config, &node.storage);
    if (!core.ok())
      return Fail(absl::StrCat("node ", node.id,
                               " cannot restart: ", core.status().ToString()));
    node.core = std::move(*core);
    ++node.incarnation;
    Trace(absl::StrCat("start node ", node.id, " incarnation ",
                       node.incarnation, " last index ",
                       node.core->log().LastIndex(), " commit ",
                       node.core->log().committed()));
    node.commands = DecodeState(node.snap_data);
    node.applied = node.snap_index;
    node.acked_verified = 0;
    node.last_commit_seen = node.core->log().committed();
    node.proposals.clear();
    node.pending_write.reset();
  }

  void Trace(const std::string& line) {
    if (options_.trace) {
      fprintf(stderr, "%6llu sim: %s\n", static_cast<unsigned long long>(now_),
              line.c_str());
    }
  }

  void Crash(SimNode& node) {
    Trace(absl::StrCat("crash node ", node.id));
    ++result_.crashes;
    node.core.reset();
    node.pending_write.reset();  // the unsynced write is lost
    node.restart_at = now_ + 20 + rng_() % 300;
  }

  void Heal() {
    Trace("heal: no more faults");
    cut_.clear();
    for (auto& node : nodes_) {
      if (node->core == nullptr) node->restart_at = now_;
    }
    heal_acked_mark_ = acked_.size();
  }

  bool Chance(double p) {
    return static_cast<double>(rng_() % 1000000) < p * 1000000.0;
  }

  void Send(const Message& m, bool faulty) {
    if (faulty && Chance(options_.drop_rate)) return;
    const int copies = faulty && Chance(options_.duplicate_rate) ? 2 : 1;
    for (int i = 0; i < copies; ++i) {
      const uint64_t delay =
          1 + rng_() % std::max<uint64_t>(1, options_.max_delay);
      network_.push(InFlight{now_ + delay, seq_++, m});
    }
  }

  void SendAll(SimNode& from, std::vector<Message>& messages) {
    const bool faulty = now_ < options_.fault_microticks;
    for (Message& m : messages) {
      if (m.type == MessageType::kSnapshot) {
        // The core asked for the snapshot it knew of; like a real driver, send
        // the newest one (the node may have compacted again since), metadata
        // and data together.
        m.snapshot = from.storage.Snapshot();
        if (m.snapshot.index != from.snap_index) {
          return Fail(absl::StrCat(
              "node ", from.id, " storage snapshot ", m.snapshot.index,
              " disagrees with its state machine snapshot ", from.snap_index));
        }
        m.snapshot_data = from.snap_data;
        ++result_.snapshots_sent;
      }
      Send(m, faulty);
    }
  }

  void DeliverMessages(bool faulty) {
    (void)faulty;
    while (!network_.empty() && network_.top().deliver_at <= now_ &&
           result_.ok) {
      InFlight flight = network_.top();
      network_.pop();
      const Message& m = flight.message;
      if (cut_.count({m.from, m.to}) > 0) continue;
      SimNode& to = Node(m.to);
      if (to.core == nullptr) continue;
      if (options_.trace && now_ >= options_.trace_messages_from) {
        Trace(absl::StrCat(raft::MessageTypeName(m.type), " ", m.from, "->",
                           m.to, " t", m.term, " i", m.index, " lt", m.log_term,
                           " n", m.entries.size(), " c", m.commit,
                           m.reject ? " reject" : "", " hint", m.reject_hint));
      }
      (void)to.core->Step(m);
      Observe(to);
    }
  }

  // The durable part of handling a Ready, then what follows it (message.h's
  // order).
  void FinishWrite(SimNode& node) {
    if (!node.pending_write.has_value() || now_ < node.write_done_at) return;
    Ready ready = std::move(*node.pending_write);
    node.pending_write.reset();
    HandleReady(node, ready);
  }

  void StartWrite(SimNode& node) {
    if (node.core == nullptr || node.pending_write.has_value() ||
        !node.core->HasReady())
      return;
    Ready ready = node.core->GetReady();
    SendAll(node, ready.early_messages);
    Observe(node);
    if (ready.must_sync || !ready.entries.empty() ||
        ready.hard_state.has_value()) {
      node.pending_write = std::move(ready);
      node.write_done_at = now_ + 1 + rng_() % 4;
    } else {
      HandleReady(node, ready);
    }
  }

  void HandleReady(SimNode& node, Ready& ready) {
    if (ready.snapshot.has_value()) {
      const raft::SnapshotMetadata& meta = ready.snapshot->metadata;
      absl::Status installed = node.storage.InstallSnapshot(meta);
      if (!installed.ok())
        return Fail(absl::StrCat("node ", node.id, ": ", installed.ToString()));
      node.snap_index = meta.index;
      node.snap_data = ready.snapshot->data;
      node.commands = DecodeState(node.snap_data);
      node.applied = meta.index;
      auto it = committed_.find(meta.index);
      if (meta.index > 0 && it == committed_.end()) {
        return Fail(absl::StrCat("snapshot at ", meta.index,
                                 " of an uncommitted index"));
      }
      node.chain.resize(meta.index + 1);
      node.chain[meta.index] = meta.index == 0 ? 0 : it->second.chain;
    }
    absl::Status saved = node.storage.Save(ready.hard_state, ready.entries);
    if (!saved.ok())
      return Fail(absl::StrCat("node ", node.id, " save: ", saved.ToString()));
    if (!ready.entries.empty()) {
      const LogIndex first = ready.entries.front().index;
      if (first - 1 >= node.chain.size()) {
        return Fail(absl::StrCat("node ", node.id, " appended at ", first,
                                 " past its chain"));
      }
      node.chain.resize(first);
      for (const Entry& e : ready.entries) {
        node.chain.push_back(HashEntry(node.chain.back(), e.term, e.data));
        // Log matching (§5.3): same index and term means the same log up to
        // there.
        auto [it, inserted] =
            chains_.emplace(std::make_pair(e.index, e.term), node.chain.back());
        if (!inserted && it->second != node.chain.back()) {
          return Fail(absl::StrCat("log matching: node ", node.id,
                                   " holds a different log up to "
                                   "index ",
                                   e.index, " term ", e.term));
        }
      }
    }
    SendAll(node, ready.messages);
    for (const Entry& e : ready.committed_entries) {
      Apply(node, e);
      if (!result_.ok) return;
    }
    for (const raft::ReadState& rs : ready.read_states) {
      auto it = reads_.find(rs.context);
      if (it != reads_.end() && it->second.node == node.id)
        it->second.index = rs.index;
    }
    CompleteReads(node);
    node.core->Advance(ready);
    Observe(node);
    MaybeCompact(node);
  }

  void Apply(SimNode& node, const Entry& e) {
    if (e.index != node.applied + 1) {
      return Fail(absl::StrCat("node ", node.id, " applies ", e.index,
                               " after ", node.applied));
    }
    auto it = committed_.find(e.index);
    // State machine safety (§5.4.3): every node applies the same entry at each
    // index.
    if (it == committed_.end() || it->second.term != e.term ||
        it->second.data != e.data) {
      return Fail(absl::StrCat("state machine safety: node ", node.id,
                               " applies index ", e.index, " term ", e.term,
                               " which is not the committed entry"));
    }
    node.applied = e.index;
    uint64_t id = 0;
    if (!e.data.empty() && absl::SimpleAtoi(e.data, &id)) {
      node.commands.insert(id);
      auto proposed = node.proposals.find(e.index);
      if (proposed != node.proposals.end()) {
        if (proposed->second == id && acked_set_.insert(id).second) {
          acked_.push_back(id);
          ++result_.writes_acknowledged;
          if (acked_.size() > heal_acked_mark_ &&
              now_ >= options_.fault_microticks)
            live_ = true;
        }
        node.proposals.erase(proposed);
      }
    }
  }

  void CompleteReads(SimNode& node) {
    for (auto it = reads_.begin(); it != reads_.end();) {
      PendingRead& read = it->second;
      if (read.node != node.id || !read.index.has_value() ||
          *read.index > node.applied) {
        ++it;
        continue;
      }
      for (size_t i = node.acked_verified; i < read.acked_before; ++i) {
        if (node.commands.count(acked_[i]) == 0) {
          return Fail(absl::StrCat("linearizability: read ", it->first,
                                   " on node ", node.id, " at index ",
                                   *read.index, " misses write ", acked_[i],
                                   " acknowledged before the read began"));
        }
      }
      node.acked_verified = std::max(node.acked_verified, read.acked_before);
      ++result_.reads_checked;
      it = reads_.erase(it);
    }
  }

  void MaybeCompact(SimNode& node) {
    if (node.core == nullptr ||
        node.applied < node.snap_index + options_.compact_every)
      return;
    const LogIndex index = node.applied;
    node.snap_data = EncodeState(node.commands);
    node.snap_index = index;
    absl::Status compacted =
        node.storage.Compact(index, node.core->conf_state());
    if (!compacted.ok())
      Fail(absl::StrCat("node ", node.id, " compact: ", compacted.ToString()));
  }

  // Cluster-wide checks after anything happened on `node`.
  void Observe(SimNode& node) {
    if (node.core == nullptr || !result_.ok) return;
    const Core& core = *node.core;
    absl::Status local = core.CheckInvariants();
    if (!local.ok()) return Fail(std::string(local.message()));
    // Record newly committed entries; a committed entry may never change.
    const LogIndex commit = core.log().committed();
    // §5.4.2: a leader commits by counting replicas only an entry of its
    // current term (earlier entries commit with it); so when a leader's commit
    // index moves, it lands on an entry of the leader's term.
    if (core.role() == Role::kLeader && commit > node.last_commit_seen &&
        core.log().TermOrZero(commit) != core.term()) {
      return Fail(absl::StrCat("leader ", node.id, " of term ", core.term(),
                               " committed index ", commit, " of term ",
                               core.log().TermOrZero(commit),
                               " by counting replicas (§5.4.2)"));
    }
    if (commit > node.last_commit_seen) {
      const LogIndex from =
          std::max(node.last_commit_seen + 1, core.log().FirstIndex());
      auto entries = core.log().Slice(from, commit + 1, raft::kNoByteLimit);
      if (!entries.ok())
        return Fail(
            absl::StrCat("node ", node.id, ": ", entries.status().ToString()));
      for (const Entry& e : *entries) {
        auto it = committed_.find(e.index);
        if (it == committed_.end()) {
          auto prev = committed_.find(e.index - 1);
          const uint64_t prev_chain =
              e.index == 1
                  ? 0
                  : (prev == committed_.end() ? 0 : prev->second.chain);
          if (e.index > 1 && prev == committed_.end()) {
            return Fail(absl::StrCat("node ", node.id, " committed ", e.index,
                                     " before ", e.index - 1));
          }
          committed_.emplace(
              e.index,
              Committed{e.term, e.data, HashEntry(prev_chain, e.term, e.data)});
        } else if (it->second.term != e.term || it->second.data != e.data) {
          return Fail(absl::StrCat("committed entry lost: index ", e.index,
                                   " was term ", it->second.term, ", node ",
                                   node.id, " commits term ", e.term));
        }
      }
      node.last_commit_seen = commit;
      max_committed_ = std::max(max_committed_, commit);
    }
    if (core.role() == Role::kLeader) {
      // Election safety (§5.2): at most one leader per term.
      auto [it, inserted] = leaders_.emplace(core.term(), node.id);
      if (!inserted && it->second != node.id) {
        return Fail(absl::StrCat("election safety: nodes ", it->second, " and ",
                                 node.id, " both lead term ", core.term()));
      }
      if (inserted) {
        ++result_.leaders_elected;
        CheckLeaderCompleteness(node);
      }
    }
  }

  // Leader completeness (§5.4): a leader's log holds every committed entry.
  void CheckLeaderCompleteness(SimNode& node) {
    const Core& core = *node.core;
    if (core.log().LastIndex() < max_committed_) {
      return Fail(absl::StrCat("leader completeness: leader ", node.id,
                               " of term ", core.term(), " ends at ",
                               core.log().LastIndex(), " but ", max_committed_,
                               " is committed"));
    }
    const LogIndex from = std::max<LogIndex>(1, core.log().FirstIndex());
    if (from > max_committed_) return;
    auto entries =
        core.log().Slice(from, max_committed_ + 1, raft::kNoByteLimit);
    if (!entries.ok()) return Fail(entries.status().ToString());
    for (const Entry& e : *entries) {
      const Committed& c = committed_.at(e.index);
      if (c.term != e.term || c.data != e.data) {
        return Fail(absl::StrCat("leader completeness: leader ", node.id,
                                 " of term ", core.term(),
                                 " lacks committed entry ", e.index));
      }
    }
  }

  void InjectFaults() {
    if (Chance(options_.partition_rate)) {
      cut_.clear();
      const int kind = static_cast<int>(rng_() % 3);
      if (kind == 1) {  // symmetric: split into two sides
        std::vector<bool> side(nodes_.size());
        for (size_t i = 0; i < side.size(); ++i) side[i] = rng_() % 2;
        for (NodeId a : voters_) {
          for (NodeId b : voters_) {
            if (side[a - 1] != side[b - 1]) cut_.insert({a, b});
          }
        }
      } else if (kind == 2) {  // asymmetric: some links fail one way only
        for (int i = 0; i < options_.nodes; ++i) {
          NodeId a = voters_[rng_() % voters_.size()],
                 b = voters_[rng_() % voters_.size()];
          if (a != b) cut_.insert({a, b});
        }
      }  // kind 0: heal
      std::string cuts;
      for (const auto& [a, b] : cut_) absl::StrAppend(&cuts, " ", a, "->", b);
      Trace(absl::StrCat("partition:", cuts.empty() ? " none" : cuts));
    }
    if (Chance(options_.crash_rate)) {
      SimNode& victim = *nodes_[rng_() % nodes_.size()];
      if (victim.core != nullptr) Crash(victim);
    }
  }

  void Clients() {
    if (Chance(options_.propose_rate)) {
      SimNode& target = ClientTarget();
      if (target.core != nullptr) {
        const uint64_t id = next_command_++;
        auto index = target.core->Propose(absl::StrCat(id));
        if (index.ok()) {
          target.proposals[*index] = id;
        } else if (target.core->leader() != raft::kNoNode) {
          believed_leader_ = target.core->leader();
        }
      }
    }
    if (Chance(options_.read_rate)) {
      SimNode& target = ClientTarget();
      if (target.core != nullptr) {
        const std::string context = absl::StrCat("read-", next_read_++);
        if (target.core->ReadIndex(context).ok()) {
          reads_[context] = PendingRead{target.id, target.incarnation,
                                        acked_.size(), std::nullopt};
        } else if (target.core->leader() != raft::kNoNode) {
          believed_leader_ = target.core->leader();
        }
      }
    }
    // Reads on a node that crashed are abandoned, as a client would time out.
    for (auto it = reads_.begin(); it != reads_.end();) {
      const SimNode& node = Node(it->second.node);
      if (node.core == nullptr || node.incarnation != it->second.incarnation) {
        it = reads_.erase(it);
      } else {
        ++it;
      }
    }
  }

  SimNode& ClientTarget() {
    if (believed_leader_ != raft::kNoNode && rng_() % 4 != 0)
      return Node(believed_leader_);
    return *nodes_[rng_() % nodes_.size()];
  }

  struct Committed {
    Term term;
    std::string data;
    uint64_t chain;
  };

  const SimOptions options_;
  std::mt19937_64 rng_;
  SimResult result_;
  uint64_t now_ = 0;
  uint64_t seq_ = 0;
  std::vector<NodeId> voters_;
  std::vector<std::unique_ptr<SimNode>> nodes_;
  std::priority_queue<InFlight, std::vector<InFlight>, std::greater<>> network_;
  std::set<std::pair<NodeId, NodeId>> cut_;
  std::map<Term, NodeId> leaders_;
  std::map<LogIndex, Committed> committed_;
  std::map<std::pair<LogIndex, Term>, uint64_t> chains_;
  LogIndex max_committed_ = 0;
  std::vector<uint64_t> acked_;
  absl::flat_hash_set<uint64_t> acked_set_;
  size_t heal_acked_mark_ = 0;
  bool live_ = false;
  std::map<std::string, PendingRead> reads_;
  uint64_t next_command_ = 1;
  uint64_t next_read_ = 1;
  NodeId believed_leader_ = raft::kNoNode;
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
      " --fault_microticks=", o.fault_microticks,
      " --heal_microticks=", o.heal_microticks);
}

}  // namespace raftkv::testing
