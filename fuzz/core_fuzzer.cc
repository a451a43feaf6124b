// A structure-aware target for the consensus core: the input is a script for
// a live 3-node cluster of raft::Core (memory log storage): ticks, message
// deliveries (in order, reordered, dropped), proposals, campaigns, reads, and
// hostile messages: random types, wrong terms, indexes and commit points past
// the end, unknown senders, entries that do not fit.
//
// After every step each core must pass its own invariants (CheckInvariants),
// its term and commit index never go down, and, until the first hostile
// message (a Byzantine fault Raft does not claim to survive), the cluster
// must keep Raft's safety: one leader per term, and committed entries that
// agree at every index two nodes have both committed (Raft §5.4).
// //fuzz:core_lease_fuzzer runs the same scripts with lease reads on.
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <map>
#include <memory>

#include "absl/strings/str_cat.h"
#include "raft/core.h"
#include "storage/memory_log_storage.h"

namespace {

using namespace raftkv::raft;  // NOLINT: a fuzz target's local vocabulary

[[noreturn]] void Fail(const std::string& why) {
  fprintf(stderr, "core_fuzzer: %s\n", why.c_str());
  abort();
}

class Script {
 public:
  Script(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool done() const { return at_ >= size_; }
  uint8_t Byte() { return at_ < size_ ? data_[at_++] : 0; }
  uint64_t Number() {  // small numbers often, large ones sometimes
    const uint8_t b = Byte();
    if (b < 200) return b % 16;
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | Byte();
    return v;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

struct Node {
  std::unique_ptr<raftkv::storage::MemoryLogStorage> storage;
  std::unique_ptr<Core> core;
  Term last_term = 0;
  LogIndex last_commit = 0;
};

class Cluster {
 public:
  Cluster() {
    for (NodeId id = 1; id <= 3; ++id) {
      Node& node = nodes_[id];
      node.storage = std::make_unique<raftkv::storage::MemoryLogStorage>();
      (void)node.storage->InstallSnapshot({0, 0, {{1, 2, 3}, {}}});
      Config config;
      config.id = id;
      config.seed = id;
      config.election_ticks = 4;
#ifdef CORE_FUZZER_LEASE_READS     // //fuzz:core_lease_fuzzer
      config.election_ticks = 12;  // long enough for a lease of 9 ticks
      config.lease_reads = true;
      config.fast_failover = false;
#endif
      auto core = Core::Create(config, node.storage.get());
      if (!core.ok()) Fail(std::string(core.status().message()));
      node.core = std::move(*core);
    }
  }

  void Run(Script& script) {
    while (!script.done()) {
      Step(script);
      Settle();
      Check();
    }
  }

 private:
  Core& Pick(Script& script) { return *nodes_[1 + script.Byte() % 3].core; }

  void Step(Script& script) {
    switch (script.Byte() % 9) {
      case 0:
      case 1:
        Pick(script).Tick();
        break;
      case 2:
        if (!mailbox_.empty()) {
          Deliver(mailbox_.front());
          mailbox_.pop_front();
        }
        break;
      case 3:  // lost
        if (!mailbox_.empty()) mailbox_.pop_front();
        break;
      case 4: {  // out of order, maybe twice
        if (mailbox_.empty()) break;
        const size_t i = script.Byte() % mailbox_.size();
        Deliver(mailbox_[i]);
        if (script.Byte() % 2) mailbox_.erase(mailbox_.begin() + i);
        break;
      }
      case 5:
        (void)Pick(script).Propose(std::string(script.Byte() % 8, 'x'));
        break;
      case 6:
        Pick(script).Campaign();
        break;
      case 7:
        (void)Pick(script).ReadIndex(std::to_string(script.Byte()));
        break;
      default:
        Hostile(script);
    }
  }

  void Hostile(Script& script) {
    Message m;
    // Bytes below 240 draw among the first ten types, as they did before the
    // read messages existed (so the committed inputs still mean what they
    // did); the top sixteen draw ReadIndex and ReadIndexResponse, with a
    // context that may match a read the script started (case 7).
    const uint8_t type = script.Byte();
    m.type = static_cast<MessageType>(type < 240 ? type % 10 : 10 + type % 2);
    if (type >= 240) m.context = std::to_string(script.Byte());
    // Unknown senders (0, 4..7) often, members' names sometimes. Either
    // way the cluster-wide checks stop here: Raft lets a node follow a
    // leader it does not know yet (a member its log has not added, thesis
    // §4.1), so a stranger claiming a higher term is as Byzantine as a forged
    // member. Each node's own invariants are still checked after every step.
    m.from = script.Byte() % 8;
    forged_ = true;
    m.to = 1 + script.Byte() % 3;
    m.term = script.Number();
    m.log_term = script.Number();
    m.index = script.Number();
    m.commit = script.Number();
    m.reject = script.Byte() % 2;
    m.reject_hint = script.Number();
    m.hint_term = script.Number();
    const size_t entries = script.Byte() % 4;
    for (size_t i = 0; i < entries; ++i) {
      Entry e;
      e.term = script.Number();
      e.index = script.Number();
      e.type = static_cast<EntryType>(script.Byte() % 2);
      e.data = std::string(script.Byte() % 4, 'h');
      m.entries.push_back(std::move(e));
    }
    if (m.type == MessageType::kSnapshot)
      m.snapshot = {m.index, m.log_term, {}};
    Deliver(m);
  }

  void Deliver(const Message& m) {
    if (getenv("CORE_FUZZER_TRACE") != nullptr) {
      fprintf(stderr,
              "deliver %s %llu->%llu term %llu log_term %llu index %llu commit "
              "%llu entries %zu%s\n",
              MessageTypeName(m.type), (unsigned long long)m.from,
              (unsigned long long)m.to, (unsigned long long)m.term,
              (unsigned long long)m.log_term, (unsigned long long)m.index,
              (unsigned long long)m.commit, m.entries.size(),
              m.entries.empty() ? ""
                                : absl::StrCat(" first ", m.entries[0].index,
                                               "/t", m.entries[0].term)
                                      .c_str());
    }
    auto it = nodes_.find(m.to);
    if (it != nodes_.end()) (void)it->second.core->Step(m);
  }

  void Settle() {
    for (auto& [id, node] : nodes_) {
      if (!node.core->HasReady()) continue;
      Ready ready = node.core->GetReady();
      if (ready.snapshot.has_value()) {
        if (absl::Status ok =
                node.storage->InstallSnapshot(ready.snapshot->metadata);
            !ok.ok())
          Fail(absl::StrCat("node ", id,
                            ": installing a snapshot: ", ok.message()));
      }
      if (absl::Status ok = node.storage->Save(ready.hard_state, ready.entries);
          !ok.ok())
        Fail(absl::StrCat("node ", id, ": saving a Ready: ", ok.message()));
      for (Message& m : ready.early_messages) Queue(std::move(m));
      for (Message& m : ready.messages) Queue(std::move(m));
      node.core->Advance(ready);
    }
  }

  void Queue(Message m) {
    if (mailbox_.size() < 256) mailbox_.push_back(std::move(m));
  }

  void Check() {
    for (auto& [id, node] : nodes_) {
      const Core& core = *node.core;
      if (absl::Status ok = core.CheckInvariants(); !ok.ok())
        Fail(absl::StrCat("node ", id, ": ", ok.message()));
      if (core.term() < node.last_term)
        Fail(absl::StrCat("node ", id, ": term went down to ", core.term()));
      if (core.log().committed() < node.last_commit)
        Fail(absl::StrCat("node ", id, ": commit went down to ",
                          core.log().committed(), " from ", node.last_commit));
      node.last_term = core.term();
      node.last_commit = core.log().committed();
      if (forged_) continue;
      if (core.role() == Role::kLeader) {
        auto [at, fresh] = leaders_.emplace(core.term(), id);
        if (!fresh && at->second != id)
          Fail(absl::StrCat("nodes ", at->second, " and ", id,
                            " both led term ", core.term()));
      }
    }
    if (forged_) return;
    for (NodeId a = 1; a <= 3; ++a) {
      for (NodeId b = a + 1; b <= 3; ++b) {
        const RaftLog& la = nodes_[a].core->log();
        const RaftLog& lb = nodes_[b].core->log();
        const LogIndex both = std::min(la.committed(), lb.committed());
        for (LogIndex i = 1; i <= both; ++i) {
          const Term ta = la.TermOrZero(i), tb = lb.TermOrZero(i);
          if (ta != 0 && tb != 0 && ta != tb)
            Fail(absl::StrCat("committed entry ", i, " has term ", ta,
                              " on node ", a, " and ", tb, " on node ", b));
        }
      }
    }
  }

  std::map<NodeId, Node> nodes_;
  std::deque<Message> mailbox_;
  std::map<Term, NodeId> leaders_;
  bool forged_ = false;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;  // long scripts add time, not coverage
  Script script(data, size);
  Cluster cluster;
  cluster.Run(script);
  return 0;
}
