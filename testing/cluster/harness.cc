#include "testing/cluster/harness.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <system_error>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "testing/cluster/packet_filter.h"

extern char** environ;

namespace raftkv::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::string kvnode_path;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

const std::string& KvnodePath() { return kvnode_path; }
void SetKvnodePath(std::string path) { kvnode_path = std::move(path); }

absl::StatusOr<std::unique_ptr<ClusterHarness>> ClusterHarness::Start(
    HarnessOptions options) {
  if (kvnode_path.empty()) {
    return absl::FailedPreconditionError(
        "no --kvnode=PATH given to the test (use kv_cluster_test)");
  }
  std::unique_ptr<ClusterHarness> harness(new ClusterHarness());
  const char* tmp = getenv("TEST_TMPDIR");
  std::string pattern =
      absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/cluster.XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr)
    return absl::InternalError("mkdtemp failed");
  harness->dir_ = pattern;

  cli::LocalClusterOptions
      cluster_options;  // peers are mapped through proxies below
  cluster_options.binary = kvnode_path;
  cluster_options.dir = harness->dir_;
  cluster_options.nodes = options.nodes;
  cluster_options.extra_flags = options.extra_flags;
  cluster_options.metrics = options.metrics;
  cluster_options.client_ports = options.client_ports;
  cluster_options.node_flags = options.node_flags;
  auto cluster = cli::LocalCluster::Create(cluster_options);
  if (!cluster.ok()) return cluster.status();
  // One proxy per directed peer link: node `from` reaches node `to` through it.
  // A proxy's port must not be one picked for a node (free a moment ago, not
  // yet bound): that node could not listen, and its address would reach a
  // proxy instead. A colliding proxy is kept open until the end, so the next
  // one gets another port.
  std::set<int> node_ports;
  for (raft::NodeId id : (*cluster)->ids()) {
    node_ports.insert((*cluster)->port(id));
    node_ports.insert((*cluster)->metrics_port(id));
    node_ports.insert((*cluster)->client_port(id));
  }
  std::vector<std::unique_ptr<TcpProxy>> rejected;
  for (raft::NodeId from : (*cluster)->ids()) {
    for (raft::NodeId to : (*cluster)->ids()) {
      if (from == to) continue;
      while (true) {
        auto proxy = TcpProxy::Start((*cluster)->port(to));
        if (!proxy.ok()) return proxy.status();
        if (node_ports.count((*proxy)->port()) == 0) {
          harness->proxies_[{from, to}] = std::move(*proxy);
          break;
        }
        rejected.push_back(std::move(*proxy));
      }
    }
  }
  rejected.clear();
  ClusterHarness* h = harness.get();
  harness->cluster_ = std::move(*cluster);
  harness->cluster_->set_peer_address([h](raft::NodeId from, raft::NodeId to) {
    return absl::StrCat("127.0.0.1:", h->proxies_.at({from, to})->port());
  });
  absl::Status started = harness->cluster_->StartAll();
  if (!started.ok()) return started;
  kv::ClientOptions client_options;
  client_options.cluster = harness->cluster_->client_cluster();
  client_options.timeout_ms = options.client_timeout_ms;
  client_options.tls = options.client_tls;
  auto client = kv::Client::Create(client_options);
  if (!client.ok()) return client.status();
  harness->client_ = std::move(*client);
  return harness;
}

ClusterHarness::~ClusterHarness() {
  client_.reset();
  cluster_.reset();  // SIGKILLs and reaps every node still running
  proxies_.clear();
  // Outside `bazel test` (the nemesis under `bazel run`) nothing else removes
  // the nodes' data, and each node's log reserves 64 MiB.
  std::error_code error;
  std::filesystem::remove_all(dir_, error);
}

absl::StatusOr<kv::NodeInfo> ClusterHarness::Status(raft::NodeId id) {
  if (!cluster_->running(id))
    return absl::UnavailableError(absl::StrCat("node ", id, " is down"));
  return client_->Status(cluster_->client_address(id));
}

absl::StatusOr<raft::NodeId> ClusterHarness::WaitForLeader(
    int timeout_ms, const std::set<raft::NodeId>& exclude) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < deadline) {
    for (raft::NodeId id : ids()) {
      if (exclude.count(id) > 0 || !cluster_->running(id)) continue;
      auto info = Status(id);
      if (info.ok() && info->role == "leader") return id;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("no leader within ", timeout_ms, " ms"));
}

absl::StatusOr<std::map<std::string, std::string>> ClusterHarness::Contents(
    raft::NodeId id) {
  // Small pages: values may be 1 MiB each.
  std::map<std::string, std::string> contents;
  std::string start;
  while (true) {
    auto list = client_->ListAt(cluster_->client_address(id), "", 16, start);
    if (!list.ok()) return list.status();
    for (auto& [key, value] : list->items)
      contents.emplace(std::move(key), std::move(value));
    if (!list->more) return contents;
    start = list->next_start;
  }
}

absl::Status ClusterHarness::WaitForConvergence(
    int timeout_ms, const std::set<raft::NodeId>& exclude) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  std::string last = "never checked";
  while (Clock::now() < deadline) {
    raft::LogIndex max_commit = 0;
    bool all_up = true;
    std::map<raft::NodeId, raft::LogIndex> applied;
    for (raft::NodeId id : ids()) {
      if (!cluster_->running(id) || exclude.count(id) > 0) continue;
      auto info = Status(id);
      if (!info.ok()) {
        all_up = false;
        break;
      }
      max_commit = std::max(max_commit, info->commit);
      applied[id] = info->applied;
    }
    bool caught_up = all_up;
    for (const auto& [id, a] : applied)
      caught_up = caught_up && a >= max_commit;
    if (caught_up) {
      std::optional<std::map<std::string, std::string>> first;
      bool same = true;
      for (const auto& [id, a] : applied) {
        auto contents = Contents(id);
        if (!contents.ok()) {
          same = false;
          last = absl::StrCat("node ", id, ": ", contents.status().message());
          break;
        }
        if (first.has_value() && *first != *contents) {
          same = false;
          last = absl::StrCat("node ", id, " holds different contents");
        }
        first = *contents;
      }
      // The same applied index and the same digest of the whole state
      // (client sessions included), asked of each node itself.
      std::map<std::pair<raft::LogIndex, uint64_t>, std::set<raft::NodeId>>
          states;
      for (const auto& [id, a] : applied) {
        if (!same) break;
        auto info = client_->Status(cluster_->client_address(id), true);
        if (!info.ok()) {
          same = false;
          last = absl::StrCat("node ", id, ": ", info.status().message());
          break;
        }
        states[{info->applied, info->digest}].insert(id);
      }
      if (same && states.size() > 1) {
        same = false;
        last = "nodes differ in (applied index, state digest):";
        for (const auto& [state, ids] : states) {
          absl::StrAppend(&last, " {", absl::StrJoin(ids, ","), "}=(",
                          state.first, ", ", absl::Hex(state.second), ")");
        }
      }
      if (same) return absl::OkStatus();
    } else {
      last = absl::StrCat("applied indexes behind commit ", max_commit);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("no convergence within ", timeout_ms, " ms: ", last));
}

void ClusterHarness::Kill(raft::NodeId id) { cluster_->Signal(id, SIGKILL); }
void ClusterHarness::Pause(raft::NodeId id) { cluster_->Signal(id, SIGSTOP); }
void ClusterHarness::Resume(raft::NodeId id) { cluster_->Signal(id, SIGCONT); }
absl::Status ClusterHarness::Restart(raft::NodeId id) {
  return cluster_->StartNode(id);
}

namespace {
constexpr char kFaketime[] =
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";
}  // namespace

std::string ClusterHarness::ClockSkewUnavailable() {
  if (access(kFaketime, R_OK) == 0) return "";
  return absl::StrCat(kFaketime, " is missing (Debian's faketime package)");
}

absl::Status ClusterHarness::RestartWithClock(raft::NodeId id, double rate) {
  if (rate != 1.0) {
    std::string why_not = ClockSkewUnavailable();
    if (!why_not.empty()) return absl::FailedPreconditionError(why_not);
  }
  if (cluster_->running(id)) {
    auto code = cluster_->Stop(id);
    if (!code.ok()) return code.status();
    if (*code != 0) {
      return absl::InternalError(
          absl::StrCat("node ", id, " exited ", *code, " on SIGTERM"));
    }
  }
  if (rate == 1.0) {
    cluster_->set_environment(id, {});
  } else {
    // "+0 xR": no offset, time runs at R times real time.
    cluster_->set_environment(
        id, {absl::StrCat("LD_PRELOAD=", kFaketime),
             absl::StrCat("FAKETIME=+0 x", rate), "FAKETIME_NO_CACHE=1"});
  }
  return cluster_->StartNode(id);
}

absl::Status ClusterHarness::RestartAsJoiner(raft::NodeId id) {
  absl::Status reset = cluster_->ResetToJoin(id);
  if (!reset.ok()) return reset;
  return cluster_->StartNode(id);
}

absl::Status ClusterHarness::StartJoining(raft::NodeId id) {
  absl::Status added = cluster_->AddNode(id);
  if (!added.ok()) return added;
  return cluster_->StartNode(id);
}

namespace {

void CutProxy(TcpProxy& proxy, LinkFault fault) {
  if (fault == LinkFault::kDrop && PacketFilter::Available()) {
    PacketFilter::Drop(proxy.port());
  } else {
    proxy.Cut();
  }
}

void RestoreProxy(TcpProxy& proxy) {
  PacketFilter::Restore(proxy.port());
  proxy.Restore();
}

}  // namespace

void ClusterHarness::Partition(
    const std::vector<std::set<raft::NodeId>>& groups, LinkFault fault) {
  auto group_of = [&](raft::NodeId id) {
    for (size_t g = 0; g < groups.size(); ++g) {
      if (groups[g].count(id) > 0) return static_cast<int>(g);
    }
    return -1;
  };
  for (auto& [link, proxy] : proxies_) {
    if (group_of(link.first) != group_of(link.second)) {
      CutProxy(*proxy, fault);
    } else {
      RestoreProxy(*proxy);
    }
  }
}

void ClusterHarness::CutLink(raft::NodeId from, raft::NodeId to,
                             LinkFault fault) {
  auto it = proxies_.find({from, to});
  if (it != proxies_.end()) CutProxy(*it->second, fault);
}

void ClusterHarness::Heal() {
  for (auto& [link, proxy] : proxies_) RestoreProxy(*proxy);
}

CommandOutput ClusterHarness::Run(const std::vector<std::string>& args,
                                  int timeout_ms, const std::string& input) {
  CommandOutput output;
  // Unique per call: commands may run at once from several threads.
  static std::atomic<int> next{0};
  const std::string stem = absl::StrCat(dir_, "/command-", next++);
  const std::string in_path = stem + ".in";
  {
    std::ofstream in(in_path, std::ios::trunc);
    in << input;
  }
  const std::string out_path = stem + ".out";
  const std::string err_path = stem + ".err";
  std::vector<std::string> full = {kvnode_path};
  full.insert(full.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : full) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, in_path.c_str(),
                                   O_RDONLY, 0);
  pid_t pid = 0;
  if (posix_spawn(&pid, kvnode_path.c_str(), &actions, nullptr, argv.data(),
                  environ) != 0) {
    posix_spawn_file_actions_destroy(&actions);
    return output;
  }
  posix_spawn_file_actions_destroy(&actions);
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) != pid) {
    if (Clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  output.exit_code =
      WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  output.out = ReadFile(out_path);
  output.err = ReadFile(err_path);
  return output;
}

std::string ClusterHarness::NodeLog(raft::NodeId id) const {
  return ReadFile(cluster_->log_path(id));
}

std::string ClusterHarness::Logs() const {
  std::string logs;
  for (raft::NodeId id : cluster_->ids()) {
    absl::StrAppend(&logs, "----- node ", id, " (", cluster_->log_path(id),
                    ")\n", NodeLog(id));
  }
  return logs;
}

}  // namespace raftkv::testing
