// Raft scenario tests that read like transcripts, in the manner of etcd-io/raft's testdata/.
//
// Each file in testing/scenarios/ is a sequence of commands ("> command args") each followed
// by the output it must print. The harness drives real raft::Core instances over in-memory
// storage with synchronous, loss-free delivery (except across partitions), so a transcript
// shows exactly one interleaving. Commands:
//   > cluster N [prevote=off] [checkquorum=off]   N voters, ids 1..N
//   > campaign ID | tick ID [COUNT] | tick-all COUNT
//   > stabilize [verbose]     deliver messages and handle Readies until nothing moves
//   > propose ID DATA | read ID CONTEXT | transfer ID TO
//   > partition 1 2 | 3       cut every link between the groups; > heal
//   > isolate-outbound ID     ID's messages are lost, others still reach it
//   > crash ID | restart ID   (restart keeps what was persisted)
//   > compact ID INDEX        compact ID's log through INDEX
//   > status | log ID
// Set SCENARIO_REWRITE=1 to print each file's actual transcript instead of checking it.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "raft/core.h"
#include "storage/memory_log_storage.h"

namespace raftkv::testing {
namespace {

using raft::Core;
using raft::Message;
using raft::NodeId;

struct Node {
  std::unique_ptr<storage::MemoryLogStorage> storage =
      std::make_unique<storage::MemoryLogStorage>();
  std::unique_ptr<Core> core;
  std::vector<std::string> applied;
  std::vector<std::string> reads;
};

class Harness {
 public:
  std::string Run(const std::string& line) {
    std::vector<std::string> args = absl::StrSplit(line, ' ', absl::SkipEmpty());
    out_.str("");
    const std::string& cmd = args[0];
    if (cmd == "cluster") {
      Cluster(args);
    } else if (cmd == "campaign") {
      At(args[1]).core->Campaign();
    } else if (cmd == "tick") {
      const int count = args.size() > 2 ? Int(args[2]) : 1;
      for (int i = 0; i < count; ++i) At(args[1]).core->Tick();
    } else if (cmd == "tick-all") {
      for (int i = 0; i < Int(args[1]); ++i) {
        for (auto& [id, node] : nodes_) {
          if (node.core) node.core->Tick();
        }
        Stabilize(false);
      }
    } else if (cmd == "stabilize") {
      Stabilize(args.size() > 1 && args[1] == "verbose");
    } else if (cmd == "propose") {
      auto index = At(args[1]).core->Propose(args[2]);
      out_ << (index.ok() ? absl::StrCat("index ", *index) : Error(index.status())) << "\n";
    } else if (cmd == "read") {
      absl::Status status = At(args[1]).core->ReadIndex(args[2]);
      if (!status.ok()) out_ << Error(status) << "\n";
    } else if (cmd == "transfer") {
      absl::Status status = At(args[1]).core->TransferLeader(Int(args[2]));
      if (!status.ok()) out_ << Error(status) << "\n";
    } else if (cmd == "partition") {
      Partition(args);
    } else if (cmd == "heal") {
      cut_.clear();
    } else if (cmd == "isolate-outbound") {
      for (auto& [id, node] : nodes_) cut_.insert({static_cast<NodeId>(Int(args[1])), id});
    } else if (cmd == "crash") {
      At(args[1]).core.reset();
    } else if (cmd == "restart") {
      Start(Int(args[1]));
    } else if (cmd == "compact") {
      Node& node = At(args[1]);
      absl::Status status = node.storage->Compact(Int(args[2]), node.core->conf_state());
      if (!status.ok()) out_ << Error(status) << "\n";
    } else if (cmd == "status") {
      Status();
    } else if (cmd == "log") {
      Log(At(args[1]));
    } else {
      out_ << "unknown command " << cmd << "\n";
    }
    return out_.str();
  }

 private:
  static int Int(const std::string& s) {
    int v = 0;
    EXPECT_TRUE(absl::SimpleAtoi(s, &v)) << s;
    return v;
  }
  static std::string Error(const absl::Status& status) {
    return absl::StrCat("error: ", status.message());
  }
  Node& At(const std::string& id) { return nodes_.at(static_cast<NodeId>(Int(id))); }

  void Cluster(const std::vector<std::string>& args) {
    const int n = Int(args[1]);
    for (size_t i = 2; i < args.size(); ++i) {
      if (args[i] == "prevote=off") pre_vote_ = false;
      if (args[i] == "checkquorum=off") check_quorum_ = false;
    }
    std::vector<NodeId> voters;
    for (int i = 1; i <= n; ++i) voters.push_back(i);
    for (NodeId id : voters) {
      (void)nodes_[id].storage->InstallSnapshot({0, 0, {voters, {}}});
      Start(id);
    }
  }

  void Start(NodeId id) {
    raft::Config config;
    config.id = id;
    config.seed = id;  // fixed: transcripts do not depend on randomness they do not show
    config.election_ticks = 10;
    config.pre_vote = pre_vote_;
    config.check_quorum = check_quorum_;
    Node& node = nodes_[id];
    auto core = Core::Create(config, node.storage.get());
    ASSERT_TRUE(core.ok()) << core.status();
    node.core = std::move(*core);
  }

  void Partition(const std::vector<std::string>& args) {
    std::set<NodeId> left;
    size_t i = 1;
    for (; i < args.size() && args[i] != "|"; ++i) left.insert(Int(args[i]));
    for (auto& [a, na] : nodes_) {
      for (auto& [b, nb] : nodes_) {
        if ((left.count(a) > 0) != (left.count(b) > 0)) cut_.insert({a, b});
      }
    }
  }

  void Stabilize(bool verbose) {
    for (int round = 0; round < 1000; ++round) {
      bool moved = false;
      for (auto& [id, node] : nodes_) {
        if (!node.core || !node.core->HasReady()) continue;
        moved = true;
        raft::Ready ready = node.core->GetReady();
        if (ready.snapshot.has_value()) {
          (void)node.storage->InstallSnapshot(ready.snapshot->metadata);
          node.applied.assign(1, "snapshot@" + std::to_string(ready.snapshot->metadata.index));
        }
        absl::Status saved = node.storage->Save(ready.hard_state, ready.entries);
        ASSERT_TRUE(saved.ok()) << saved;
        for (Message& m : ready.early_messages) mailbox_.push_back(std::move(m));
        for (Message& m : ready.messages) mailbox_.push_back(std::move(m));
        for (const raft::Entry& e : ready.committed_entries) {
          if (!e.data.empty()) node.applied.push_back(e.data);
        }
        for (const raft::ReadState& rs : ready.read_states) {
          out_ << id << " read " << rs.context << " at index " << rs.index << "\n";
        }
        node.core->Advance(ready);
      }
      std::vector<Message> deliver;
      deliver.swap(mailbox_);
      for (const Message& m : deliver) {
        moved = true;
        const bool lost = cut_.count({m.from, m.to}) > 0 || !nodes_.at(m.to).core;
        if (verbose) {
          out_ << m.from << "->" << m.to << " " << raft::MessageTypeName(m.type) << " term "
               << m.term;
          if (m.type == raft::MessageType::kAppend) {
            out_ << " prev " << m.index << "/" << m.log_term << " entries " << m.entries.size()
                 << " commit " << m.commit;
          } else if (m.type == raft::MessageType::kAppendResponse) {
            out_ << (m.reject ? " reject " : " index ") << m.index;
          } else if (m.type == raft::MessageType::kVoteResponse ||
                     m.type == raft::MessageType::kPreVoteResponse) {
            out_ << (m.reject ? " rejected" : " granted");
          } else if (m.type == raft::MessageType::kSnapshot) {
            out_ << " snapshot " << m.snapshot.index << "/" << m.snapshot.term;
          }
          out_ << (lost ? " (lost)" : "") << "\n";
        }
        if (lost) continue;
        Message copy = m;
        if (copy.type == raft::MessageType::kSnapshot) copy.snapshot_data = "state";
        (void)nodes_.at(m.to).core->Step(copy);
      }
      for (auto& [id, node] : nodes_) {
        if (node.core) {
          absl::Status invariants = node.core->CheckInvariants();
          ASSERT_TRUE(invariants.ok()) << invariants;
        }
      }
      if (!moved) return;
    }
    out_ << "did not stabilize\n";
  }

  void Status() {
    for (auto& [id, node] : nodes_) {
      if (!node.core) {
        out_ << id << " down\n";
        continue;
      }
      const Core& c = *node.core;
      out_ << id << " " << raft::RoleName(c.role()) << " term " << c.term() << " leader "
           << c.leader() << " last " << c.log().LastIndex() << " commit " << c.log().committed()
           << " applied [" << absl::StrJoin(node.applied, " ") << "]\n";
    }
  }

  void Log(Node& node) {
    const raft::RaftLog& log = node.core->log();
    auto entries = log.Slice(log.FirstIndex(), log.LastIndex() + 1, raft::kNoByteLimit);
    out_ << "first " << log.FirstIndex() << ":";
    for (const raft::Entry& e : *entries) {
      out_ << " " << e.index << "/" << e.term << (e.data.empty() ? "" : ":" + e.data);
    }
    out_ << "\n";
  }

  std::map<NodeId, Node> nodes_;
  std::vector<Message> mailbox_;
  std::set<std::pair<NodeId, NodeId>> cut_;
  std::ostringstream out_;
  bool pre_vote_ = true;
  bool check_quorum_ = true;
};

std::string ScenarioDir() {
  const char* srcdir = getenv("TEST_SRCDIR");
  const char* workspace = getenv("TEST_WORKSPACE");
  return std::string(srcdir ? srcdir : ".") + "/" + (workspace ? workspace : "raftkv") +
         "/testing/scenarios";
}

std::vector<std::string> ScenarioFiles() {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(ScenarioDir())) {
    if (entry.path().extension() == ".txt") files.push_back(entry.path().filename().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

class ScenarioTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ScenarioTest, TranscriptMatches) {
  std::ifstream in(ScenarioDir() + "/" + GetParam());
  ASSERT_TRUE(in.good()) << GetParam();
  Harness harness;
  std::string line, expected, transcript, command;
  int command_line = 0, line_number = 0;
  // A command's expected output is the run of plain lines after it; a blank line, a
  // comment or the next command ends it.
  auto finish = [&] {
    if (command.empty()) return;
    const std::string actual = harness.Run(command);
    transcript += "> " + command + "\n" + actual;
    EXPECT_EQ(actual, expected) << GetParam() << ":" << command_line << ": > " << command;
    command.clear();
    expected.clear();
  };
  while (std::getline(in, line)) {
    ++line_number;
    if (line.rfind("> ", 0) == 0) {
      finish();
      command = line.substr(2);
      command_line = line_number;
    } else if (line.empty() || line[0] == '#') {
      finish();
      transcript += line + "\n";
    } else {
      ASSERT_FALSE(command.empty()) << GetParam() << ":" << line_number << ": output without a command";
      expected += line + "\n";
    }
  }
  finish();
  if (getenv("SCENARIO_REWRITE") != nullptr) printf("=== %s\n%s", GetParam().c_str(), transcript.c_str());
}

INSTANTIATE_TEST_SUITE_P(Scenarios, ScenarioTest, ::testing::ValuesIn(ScenarioFiles()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param.substr(0, info.param.size() - 4);
                           for (char& c : name) {
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace raftkv::testing
