#include "testing/sim/sim_safety.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "raft/confchange.h"

namespace raftkv::testing::sim {

using raft::Core;
using raft::Role;

SimSafety::SimSafety(std::function<SimNode&(NodeId)> node,
                     std::function<size_t()> slots,
                     std::function<void(const std::string&)> fail)
    : node_(std::move(node)),
      slots_(std::move(slots)),
      fail_(std::move(fail)) {}

void SimSafety::Fail(const std::string& what) {
  if (failed_) return;
  failed_ = true;
  fail_(what);
}

// Log matching (§5.3): the same index and term means the same log up to
// there, checked on every node's durable log as it is written.
void SimSafety::OnDurableAppend(SimNode& node,
                                absl::Span<const Entry> entries) {
  if (entries.empty()) return;
  const LogIndex first = entries.front().index;
  if (first - 1 >= node.chain.size()) {
    return Fail(absl::StrCat("node ", node.id, " appended at ", first,
                             " past its chain"));
  }
  node.chain.resize(first);
  for (const Entry& e : entries) {
    node.chain.push_back(HashEntry(node.chain.back(), e.term, e.data));
    auto [it, inserted] =
        chains_.emplace(std::make_pair(e.index, e.term), node.chain.back());
    if (!inserted && it->second != node.chain.back()) {
      return Fail(absl::StrCat("log matching: node ", node.id,
                               " holds a different log up to index ", e.index,
                               " term ", e.term));
    }
  }
}

void SimSafety::OnDurableSnapshot(SimNode& node,
                                  const raft::SnapshotMetadata& meta) {
  auto it = committed_.find(meta.index);
  if (meta.index > 0 && it == committed_.end()) {
    return Fail(absl::StrCat("node ", node.id, " installs a snapshot at ",
                             meta.index, ", which is not committed"));
  }
  node.chain.resize(meta.index + 1);
  node.chain[meta.index] = meta.index == 0 ? 0 : it->second.chain;
  node.durable_snapshot = meta.index;
}

// State machine safety (§5.4.3): every node applies the same change at each
// index, and only committed entries.
void SimSafety::OnApply(SimNode& node, const storage::KvBatch& batch) {
  const LogIndex commit = node.driver->core().log().committed();
  if (batch.applied_index > commit) {
    return Fail(absl::StrCat("node ", node.id, " applies index ",
                             batch.applied_index, " beyond its commit index ",
                             commit));
  }
  uint64_t h = Mix(0, batch.applied_index);
  for (const storage::KvMutation& m : batch.mutations) {
    h = HashBytes(Mix(h, static_cast<uint64_t>(m.kind)), m.key);
    h = HashBytes(h, m.value);
  }
  for (const storage::SessionRecord& s : batch.session_puts) {
    // Client id 0 is the session clock, written once per group of entries
    // applied together, and groups differ between nodes; the expiries the
    // clock decides are hashed below.
    if (s.client_id != 0) h = HashBytes(Mix(h, s.client_id), s.state);
  }
  for (uint64_t id : batch.session_deletes) h = Mix(h, id);
  auto [it, inserted] = applied_.emplace(batch.applied_index, h);
  if (!inserted && it->second != h) {
    Fail(absl::StrCat("state machine safety: node ", node.id,
                      " applies a different change at index ",
                      batch.applied_index, " than another node did"));
  }
}

// Cluster-wide checks after anything happened on `node`.
void SimSafety::Observe(SimNode& node) {
  if (node.driver == nullptr || failed_) return;
  const Core& core = node.driver->core();
  absl::Status local = core.CheckInvariants();
  if (!local.ok()) return Fail(std::string(local.message()));
  const LogIndex commit = core.log().committed();
  if (core.lease_reads_served() > node.lease_reads_seen) {
    node.lease_reads_seen = core.lease_reads_served();
    CheckLeaseRead(node);
    if (failed_) return;
  }
  // §5.4.2: a leader commits by counting replicas only an entry of its
  // current term (earlier entries commit with it).
  if (core.role() == Role::kLeader && commit > node.last_commit_seen &&
      core.log().TermOrZero(commit) != core.term()) {
    return Fail(absl::StrCat("leader ", node.id, " of term ", core.term(),
                             " committed index ", commit, " of term ",
                             core.log().TermOrZero(commit),
                             " by counting replicas (§5.4.2)"));
  }
  if (core.role() == Role::kLeader && commit > node.last_commit_seen) {
    CheckCommitQuorum(node);
    if (failed_) return;
  }
  if (commit > node.last_commit_seen) {
    const LogIndex from =
        std::max(node.last_commit_seen + 1, core.log().FirstIndex());
    auto entries = core.log().Slice(from, commit + 1, raft::kNoByteLimit);
    if (!entries.ok())
      return Fail(
          absl::StrCat("node ", node.id, ": ", entries.status().ToString()));
    for (const Entry& e : *entries) RecordCommitted(node, e);
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
      ++leaders_elected_;
      CheckLeaderCompleteness(node);
    }
  }
}

// Counted here, not by raft/quorum.h: the checker must not share the code it
// checks.
std::optional<SimSafety::ShortHalf> SimSafety::HalfWithoutAMajority(
    const raft::ConfState& conf, const std::function<bool(NodeId)>& holds) {
  for (const auto* half : {&conf.voters, &conf.voters_outgoing}) {
    if (half->empty()) continue;
    ShortHalf result{half, {}};
    for (NodeId id : *half) {
      if (holds(id)) result.holding.push_back(id);
    }
    if (result.holding.size() < half->size() / 2 + 1) return result;
  }
  return std::nullopt;
}

// Commitment with changing members (thesis §4.1, §4.3): the entry a leader
// just committed is durable on a majority of the configuration in force in
// its log (of both halves of a joint one).
void SimSafety::CheckCommitQuorum(SimNode& leader) {
  const Core& core = leader.driver->core();
  const LogIndex commit = core.log().committed();
  const Term term = core.log().TermOrZero(commit);
  auto chain = chains_.find({commit, term});
  const raft::ConfState conf = core.ConfStateAt(core.log().LastIndex());
  auto holds = [&](NodeId id) {
    if (id == 0 || id > slots_()) return false;
    const SimNode& node = node_(id);
    if (node.durable_snapshot >= commit) return true;
    return chain != chains_.end() && node.chain.size() > commit &&
           node.chain[commit] == chain->second;
  };
  if (auto short_half = HalfWithoutAMajority(conf, holds)) {
    return Fail(absl::StrCat("leader ", leader.id, " of term ", core.term(),
                             " committed index ", commit, " held durably by ",
                             short_half->holding.size(), " of voters ",
                             absl::StrJoin(*short_half->half, ","), " (",
                             raft::DescribeConf(conf), ")"));
  }
}

// A committed entry may never change.
void SimSafety::RecordCommitted(SimNode& node, const Entry& e) {
  auto it = committed_.find(e.index);
  if (it != committed_.end()) {
    if (it->second.term != e.term || it->second.data != e.data) {
      Fail(absl::StrCat("committed entry lost: index ", e.index, " was term ",
                        it->second.term, ", node ", node.id, " commits term ",
                        e.term));
    }
    return;
  }
  auto prev = committed_.find(e.index - 1);
  if (e.index > 1 && prev == committed_.end()) {
    return Fail(absl::StrCat("node ", node.id, " committed ", e.index,
                             " before ", e.index - 1));
  }
  const uint64_t prev_chain = e.index == 1 ? 0 : prev->second.chain;
  committed_.emplace(
      e.index, Committed{e.term, e.data, HashEntry(prev_chain, e.term, e.data),
                         node.driver->core().term()});
}

// Thesis §6.4.1. A read served from the leader's lease (at once, at the
// leader's commit index) is stale if anything beyond that index was already
// committed: by another leader, elected while this one trusted its lease. And
// the reason it cannot be, checked at every lease read whether or not another
// election happened: a quorum of the configuration still promises not to
// vote (raft::Core::promise: for this leader, or for anyone after a start),
// by the ticks their clocks say are due; a node that is down cannot vote.
void SimSafety::CheckLeaseRead(SimNode& leader) {
  const Core& core = leader.driver->core();
  if (core.last_lease_read_index() < max_committed_) {
    return Fail(absl::StrCat(
        "stale lease read: leader ", leader.id, " of term ", core.term(),
        " served a read at index ", core.last_lease_read_index(),
        " from its lease, but ", max_committed_, " was committed"));
  }
  auto promises = [&](NodeId id) {
    if (id == leader.id) return true;
    if (id == 0 || id > slots_()) return false;
    SimNode& node = node_(id);
    if (node.driver == nullptr) return !node.retired;  // down: cannot vote
    const raft::Core::Promise promise = node.driver->core().promise();
    const bool to_leader =
        promise.to == raft::kNoNode ||
        (promise.to == leader.id && node.driver->core().term() == core.term());
    return to_leader && promise.ticks > node.driver->TicksDue();
  };
  if (auto short_half = HalfWithoutAMajority(core.conf_state(), promises)) {
    return Fail(absl::StrCat(
        "lease read by leader ", leader.id, " of term ", core.term(),
        " while only nodes ", absl::StrJoin(short_half->holding, ","),
        " of voters ", absl::StrJoin(*short_half->half, ","),
        " still promise not to vote"));
  }
}

// Leader completeness (§5.4): a leader's log holds every entry committed in
// an earlier term. (A candidate paused with the votes of its term in its
// socket may win that term after later terms committed more: that is not a
// violation, and its entries will never commit.)
void SimSafety::CheckLeaderCompleteness(SimNode& node) {
  const Core& core = node.driver->core();
  LogIndex bound = max_committed_;
  while (bound > 0) {
    auto it = committed_.find(bound);
    if (it == committed_.end() || it->second.seen_in_term < core.term()) break;
    --bound;
  }
  if (core.log().LastIndex() < bound) {
    return Fail(absl::StrCat(
        "leader completeness: leader ", node.id, " of term ", core.term(),
        " ends at ", core.log().LastIndex(), " but ", bound, " is committed"));
  }
  const LogIndex from = std::max<LogIndex>(1, core.log().FirstIndex());
  if (from > bound) return;
  auto entries = core.log().Slice(from, bound + 1, raft::kNoByteLimit);
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

}  // namespace raftkv::testing::sim
