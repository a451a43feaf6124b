// Raft scenario tests that read like transcripts, in the manner of
// etcd-io/raft's testdata/.
//
// Each file in testing/scenarios/ is a sequence of commands ("> command args")
// each followed by the output it must print. Every node is the production
// kv::NodeDriver (the Ready loop, the Raft core and the KV state machine) over
// the in-memory storage twins, its disk jobs run in order as the transcript
// stabilizes, and delivery is synchronous and loss-free (except across
// partitions), so a transcript shows exactly one interleaving. Commands:
//   > cluster N [prevote=off] [checkquorum=off] [fastfailover=off]
//     [promotelag=N] [lease]     N voters (lease: lease reads, thesis §6.4.1)
//   > peer-down ID DOWN        ID's transport reports DOWN's process gone
//   > campaign ID | tick ID [COUNT] | tick-all COUNT
//   > stabilize [verbose]     deliver messages and run disk jobs until nothing
//   moves > propose ID DATA         a client's put DATA=DATA, at the index
//   printed > read ID CONTEXT | transfer ID TO > partition 1 2 | 3       cut
//   every link between the groups; > heal > isolate-outbound ID     ID's
//   messages are lost, others still reach it > crash ID | restart ID   (a
//   process crash: restart keeps what was written) > compact ID INDEX compact
//   ID's log through INDEX > status | log ID         "applied" lists the keys
//   each node applied, in order
//   > add-node ID              a new node: empty storage, no configuration
//   > member ID STEP NODE [STEP NODE]   ID proposes a membership change, STEP
//   one of add-voter, add-learner, promote, remove
//   > conf                     each node's configuration in force
// Set SCENARIO_REWRITE=1 to print each file's actual transcript instead of
// checking it.

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "kv/driver.h"
#include "net/kv.capnp.h"
#include "raft/confchange.h"
#include "testing/sim/sim_node.h"

namespace raftkv::testing {
namespace {

using raft::Message;
using raft::NodeId;
using sim::Packet;
using sim::SimNode;

// The key a logged command puts, or "?" for another command.
std::string KeyOf(const std::string& data) {
  if (data.empty() || data.size() % sizeof(capnp::word) != 0)
    return data.empty() ? "" : "?";
  kj::Array<capnp::word> words =
      kj::heapArray<capnp::word>(data.size() / sizeof(capnp::word));
  memcpy(words.begin(), data.data(), data.size());
  capnp::FlatArrayMessageReader reader(words);
  auto command = reader.getRoot<net::wire::Command>();
  if (!command.isPut()) return "?";
  auto key = command.getPut().getKey();
  return std::string(reinterpret_cast<const char*>(key.begin()), key.size());
}

class FixedClock final : public kv::Clock {
 public:
  uint64_t NowMs() override { return 1000; }
  uint64_t MonotonicMicros() override { return 1000000; }
};

struct Node {
  std::unique_ptr<SimNode> parts = std::make_unique<SimNode>();
  std::vector<std::string> applied;
  uint64_t sequence = 0;  // the transcript client's session at this node
};

class Harness {
 public:
  std::string Run(const std::string& line) {
    std::vector<std::string> args =
        absl::StrSplit(line, ' ', absl::SkipEmpty());
    out_.str("");
    const std::string& cmd = args[0];
    if (cmd == "cluster") {
      Cluster(args);
    } else if (cmd == "campaign") {
      Driver(args[1]).Campaign();
    } else if (cmd == "tick") {
      const int count = args.size() > 2 ? Int(args[2]) : 1;
      for (int i = 0; i < count; ++i) Driver(args[1]).Tick();
    } else if (cmd == "tick-all") {
      for (int i = 0; i < Int(args[1]); ++i) {
        for (auto& [id, node] : nodes_) {
          if (node.parts->driver) node.parts->driver->Tick();
        }
        Stabilize(false);
      }
    } else if (cmd == "stabilize") {
      Stabilize(args.size() > 1 && args[1] == "verbose");
    } else if (cmd == "propose") {
      Propose(args[1], args[2]);
    } else if (cmd == "read") {
      Read(args[1], args[2]);
    } else if (cmd == "transfer") {
      absl::Status status = Driver(args[1]).TransferLeader(Int(args[2]));
      if (!status.ok()) out_ << Error(status) << "\n";
    } else if (cmd == "partition") {
      Partition(args);
    } else if (cmd == "heal") {
      cut_.clear();
    } else if (cmd == "isolate-outbound") {
      for (auto& [id, node] : nodes_)
        cut_.insert({static_cast<NodeId>(Int(args[1])), id});
    } else if (cmd == "peer-down") {
      Driver(args[1]).PeerDown(Int(args[2]));
    } else if (cmd == "crash") {
      SimNode& node = *At(args[1]).parts;
      node.driver.reset();
      node.disk.reset();
      node.snapshot_disk.reset();
    } else if (cmd == "restart") {
      Start(Int(args[1]));
    } else if (cmd == "compact") {
      SimNode& node = *At(args[1]).parts;
      absl::Status status = node.kv.Sync();
      if (status.ok())
        status = node.log.Compact(
            Int(args[2]), node.driver->core().ConfStateAt(Int(args[2])));
      if (!status.ok()) out_ << Error(status) << "\n";
    } else if (cmd == "add-node") {
      Init(Int(args[1]));
      Start(Int(args[1]));
    } else if (cmd == "member") {
      Member(args);
    } else if (cmd == "conf") {
      Conf();
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
  Node& At(const std::string& id) {
    return nodes_.at(static_cast<NodeId>(Int(id)));
  }
  kv::NodeDriver& Driver(const std::string& id) {
    return *At(id).parts->driver;
  }

  void Cluster(const std::vector<std::string>& args) {
    const int n = Int(args[1]);
    for (size_t i = 2; i < args.size(); ++i) {
      if (args[i] == "prevote=off") pre_vote_ = false;
      if (args[i] == "checkquorum=off") check_quorum_ = false;
      if (args[i] == "fastfailover=off") fast_failover_ = false;
      if (args[i] == "lease") lease_reads_ = true;
      if (args[i].rfind("promotelag=", 0) == 0)
        promote_lag_ = Int(args[i].substr(11));
    }
    std::vector<NodeId> voters;
    for (int i = 1; i <= n; ++i) voters.push_back(i);
    for (NodeId id : voters) {
      Init(id);
      (void)nodes_[id].parts->log.twin.InstallSnapshot(
          {0, 0, {voters, {}, {}}});
      Start(id);
    }
  }

  void Init(NodeId id) {
    Node& node = nodes_[id];
    node.parts->id = id;
    node.parts->kv.on_apply = [&node](const storage::KvBatch& batch) {
      for (const storage::KvMutation& m : batch.mutations)
        node.applied.push_back(m.key);
    };
    node.parts->kv.on_restore = [&node](raft::LogIndex index) {
      node.applied.assign(1, absl::StrCat("snapshot@", index));
    };
  }

  void Member(const std::vector<std::string>& args) {
    static const std::map<std::string, raft::ConfChangeType> kTypes = {
        {"add-voter", raft::ConfChangeType::kAddVoter},
        {"add-learner", raft::ConfChangeType::kAddLearner},
        {"promote", raft::ConfChangeType::kPromoteLearner},
        {"remove", raft::ConfChangeType::kRemoveNode}};
    std::vector<raft::ConfChangeStep> steps;
    for (size_t i = 2; i + 1 < args.size(); i += 2) {
      steps.push_back(
          {kTypes.at(args[i]), static_cast<NodeId>(Int(args[i + 1]))});
    }
    kv::NodeDriver& driver = Driver(args[1]);
    auto answered = std::make_shared<bool>(false);
    driver.ChangeMembership(steps, {}, [this, answered](kv::Outcome result) {
      if (*answered) {  // later: the change was applied, or failed
        out_ << (result.code == kv::Code::kOk ? std::string("change applied")
                                              : "error: " + result.message)
             << "\n";
        return;
      }
      *answered = true;
      out_ << "error: " << result.message << "\n";
    });
    if (!*answered) {
      *answered = true;
      out_ << "index " << driver.core().log().LastIndex() << "\n";
    }
  }

  void Conf() {
    for (auto& [id, node] : nodes_) {
      if (!node.parts->driver) continue;
      const raft::Core& c = node.parts->driver->core();
      out_ << id << " " << raft::DescribeConf(c.conf_state()) << " (index "
           << c.conf_index()
           << (c.conf_index() <= c.log().committed() ? ", committed" : "")
           << ")\n";
    }
  }

  void Start(NodeId id) {
    raft::Config config;
    config.id = id;
    config.seed =
        id;  // fixed: transcripts do not depend on randomness they do not show
    config.election_ticks = 10;
    config.pre_vote = pre_vote_;
    config.check_quorum = check_quorum_;
    config.fast_failover = fast_failover_ && !lease_reads_;
    config.lease_reads = lease_reads_;
    config.max_promote_lag = promote_lag_;
    SimNode& node = *nodes_[id].parts;
    node.disk = std::make_unique<sim::SimExecutor>([] { return 0; });
    node.snapshot_disk = std::make_unique<sim::SimExecutor>([] { return 0; });
    node.transport = std::make_unique<sim::SimTransport>(
        [this](Packet packet) { mailbox_.push_back(std::move(packet)); });
    kv::DriverOptions options;
    options.id = id;
    options.compact_after_entries = 1'000'000;  // the transcript compacts
    node.driver =
        std::make_unique<kv::NodeDriver>(options, node.Seams(&clock_));
    absl::Status opened = node.driver->Open(config);
    ASSERT_TRUE(opened.ok()) << opened;
  }

  void Propose(const std::string& id, const std::string& data) {
    Node& node = At(id);
    capnp::MallocMessageBuilder message;
    auto command = message.initRoot<net::wire::Command>();
    command.getSession().setClientId(100 + static_cast<uint64_t>(Int(id)));
    command.getSession().setSequence(++node.sequence);
    auto put = command.initPut();
    put.setKey(capnp::Data::Reader(
        reinterpret_cast<const kj::byte*>(data.data()), data.size()));
    put.setValue(capnp::Data::Reader(
        reinterpret_cast<const kj::byte*>(data.data()), data.size()));
    // A write is answered when applied (silently, as "applied" shows it) or
    // fails: at once (not the leader) or later (leadership lost), printed when
    // it happens.
    auto answered = std::make_shared<bool>(false);
    node.parts->driver->Write(command.asReader(),
                              [this, answered](kv::Outcome result) {
                                *answered = true;
                                if (result.code != kv::Code::kOk)
                                  out_ << "error: " << result.message << "\n";
                              });
    if (!*answered)
      out_ << "index " << node.parts->driver->core().log().LastIndex() << "\n";
  }

  void Read(const std::string& id, const std::string& context) {
    const std::string who = id;
    kv::NodeDriver& driver = Driver(id);
    driver.ReadBarrier([this, who, context, &driver](kv::Outcome result) {
      if (result.code != kv::Code::kOk) {
        out_ << "error: " << result.message << "\n";
      } else {
        out_ << who << " read " << context << " at index "
             << driver.machine().applied() << "\n";
      }
    });
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

  void Print(const Packet& packet, bool lost) {
    const NodeId from = sim::FromOf(packet), to = sim::ToOf(packet);
    out_ << from << "->" << to << " ";
    if (const auto* chunk = std::get_if<raft::SnapshotChunk>(&packet)) {
      out_ << "snapshot chunk at " << chunk->offset;
      if (chunk->last)
        out_ << " last: snapshot " << chunk->message.snapshot.index << "/"
             << chunk->message.snapshot.term;
    } else if (const auto* ack = std::get_if<raft::SnapshotAck>(&packet)) {
      out_ << "snapshot ack " << (ack->ok ? "at " : "refused at ")
           << ack->next_offset;
    } else {
      const Message& m = std::get<Message>(packet);
      out_ << raft::MessageTypeName(m.type) << " term " << m.term;
      if (m.type == raft::MessageType::kAppend) {
        out_ << " prev " << m.index << "/" << m.log_term << " entries "
             << m.entries.size() << " commit " << m.commit;
      } else if (m.type == raft::MessageType::kAppendResponse) {
        out_ << (m.reject ? " reject " : " index ") << m.index;
      } else if (m.type == raft::MessageType::kVoteResponse ||
                 m.type == raft::MessageType::kPreVoteResponse) {
        out_ << (m.reject ? " rejected" : " granted");
      }
    }
    out_ << (lost ? " (lost)" : "") << "\n";
  }

  void Stabilize(bool verbose) {
    for (int round = 0; round < 1000; ++round) {
      bool moved = false;
      for (auto& [id, node] : nodes_) {
        SimNode& parts = *node.parts;
        if (!parts.driver) continue;
        if (parts.disk->busy() || parts.snapshot_disk->busy()) moved = true;
        // Two steps complete a job (it runs, then reports), so a round finishes
        // every job queued before it.
        for (int i = 0; i < 2; ++i) {
          parts.disk->Step(step_);
          if (parts.driver) parts.snapshot_disk->Step(step_);
          ++step_;
        }
      }
      // The end of the turn of the deliveries before (and of the commands
      // before the first round).
      for (auto& [id, node] : nodes_) moved |= node.parts->turn_end.Run();
      std::vector<Packet> deliver;
      deliver.swap(mailbox_);
      for (Packet& packet : deliver) {
        moved = true;
        const NodeId from = sim::FromOf(packet), to = sim::ToOf(packet);
        const bool lost = cut_.count({from, to}) > 0 || nodes_.count(to) == 0 ||
                          !nodes_.at(to).parts->driver;
        if (verbose) Print(packet, lost);
        if (lost) continue;
        kv::NodeDriver& driver = *nodes_.at(to).parts->driver;
        if (auto* chunk = std::get_if<raft::SnapshotChunk>(&packet)) {
          driver.DeliverSnapshotChunk(std::move(*chunk));
        } else if (auto* ack = std::get_if<raft::SnapshotAck>(&packet)) {
          driver.DeliverSnapshotAck(*ack);
        } else {
          driver.Deliver({std::get<Message>(packet)});
        }
      }
      for (auto& [id, node] : nodes_) {
        if (node.parts->driver) {
          absl::Status invariants =
              node.parts->driver->core().CheckInvariants();
          ASSERT_TRUE(invariants.ok()) << invariants;
        }
      }
      if (!moved) return;
    }
    out_ << "did not stabilize\n";
  }

  void Status() {
    for (auto& [id, node] : nodes_) {
      if (!node.parts->driver) {
        out_ << id << " down\n";
        continue;
      }
      const raft::Core& c = node.parts->driver->core();
      out_ << id << " " << raft::RoleName(c.role()) << " term " << c.term()
           << " leader " << c.leader() << " last " << c.log().LastIndex()
           << " commit " << c.log().committed() << " applied ["
           << absl::StrJoin(node.applied, " ") << "]\n";
    }
  }

  void Log(Node& node) {
    const raft::RaftLog& log = node.parts->driver->core().log();
    auto entries =
        log.Slice(log.FirstIndex(), log.LastIndex() + 1, raft::kNoByteLimit);
    out_ << "first " << log.FirstIndex() << ":";
    for (const raft::Entry& e : *entries) {
      const std::string key = KeyOf(e.data);
      out_ << " " << e.index << "/" << e.term << (key.empty() ? "" : ":" + key);
    }
    out_ << "\n";
  }

  std::map<NodeId, Node> nodes_;
  std::vector<Packet> mailbox_;
  std::set<std::pair<NodeId, NodeId>> cut_;
  std::ostringstream out_;
  FixedClock clock_;
  uint64_t step_ = 1;
  bool pre_vote_ = true;
  bool check_quorum_ = true;
  bool fast_failover_ = true;
  bool lease_reads_ = false;
  uint64_t promote_lag_ = 1000;
};

std::string ScenarioDir() {
  const char* srcdir = getenv("TEST_SRCDIR");
  const char* workspace = getenv("TEST_WORKSPACE");
  return std::string(srcdir ? srcdir : ".") + "/" +
         (workspace ? workspace : "raftkv") + "/testing/scenarios";
}

std::vector<std::string> ScenarioFiles() {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(ScenarioDir())) {
    if (entry.path().extension() == ".txt")
      files.push_back(entry.path().filename().string());
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
  // A command's expected output is the run of plain lines after it; a blank
  // line, a comment or the next command ends it.
  auto finish = [&] {
    if (command.empty()) return;
    const std::string actual = harness.Run(command);
    transcript += "> " + command + "\n" + actual;
    if (getenv("SCENARIO_REWRITE") == nullptr) {
      EXPECT_EQ(actual, expected)
          << GetParam() << ":" << command_line << ": > " << command;
    }
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
      ASSERT_FALSE(command.empty())
          << GetParam() << ":" << line_number << ": output without a command";
      expected += line + "\n";
    }
  }
  finish();
  if (getenv("SCENARIO_REWRITE") != nullptr)
    printf("=== %s\n%s", GetParam().c_str(), transcript.c_str());
}

INSTANTIATE_TEST_SUITE_P(Scenarios, ScenarioTest,
                         ::testing::ValuesIn(ScenarioFiles()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name =
                               info.param.substr(0, info.param.size() - 4);
                           for (char& c : name) {
                             if (!isalnum(static_cast<unsigned char>(c)))
                               c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace raftkv::testing
