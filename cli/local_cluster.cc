#include "cli/local_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

extern char** environ;

namespace raftkv::cli {

absl::StatusOr<int> PickFreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return absl::InternalError(
        absl::StrCat("cannot find a free port: ", strerror(errno)));
  }
  close(fd);
  return ntohs(addr.sin_port);
}

absl::StatusOr<std::unique_ptr<LocalCluster>> LocalCluster::Create(
    LocalClusterOptions options) {
  std::unique_ptr<LocalCluster> cluster(new LocalCluster(std::move(options)));
  for (int i = 1; i <= cluster->options_.nodes; ++i) {
    absl::StatusOr<int> port = PickFreePort();
    if (!port.ok()) return port.status();
    cluster->ports_[static_cast<raft::NodeId>(i)] = *port;
    if (cluster->options_.metrics) {
      absl::StatusOr<int> metrics = PickFreePort();
      if (!metrics.ok()) return metrics.status();
      cluster->metrics_ports_[static_cast<raft::NodeId>(i)] = *metrics;
    }
    if (cluster->options_.client_ports) {
      absl::StatusOr<int> client = PickFreePort();
      if (!client.ok()) return client.status();
      cluster->client_ports_[static_cast<raft::NodeId>(i)] = *client;
    }
  }
  std::error_code error;
  std::filesystem::create_directories(cluster->options_.dir, error);
  if (error) {
    return absl::InternalError(absl::StrCat(
        "cannot create ", cluster->options_.dir, ": ", error.message()));
  }
  return cluster;
}

LocalCluster::~LocalCluster() {
  for (auto& [id, pid] : pids_) {
    kill(pid, SIGCONT);  // a paused process cannot die until it runs
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
}

std::vector<raft::NodeId> LocalCluster::ids() const {
  std::vector<raft::NodeId> ids;
  for (const auto& [id, port] : ports_) ids.push_back(id);
  return ids;
}

std::string LocalCluster::address(raft::NodeId id) const {
  return absl::StrCat("127.0.0.1:", ports_.at(id));
}

std::string LocalCluster::client_address(raft::NodeId id) const {
  return absl::StrCat("127.0.0.1:", client_port(id));
}

std::string LocalCluster::client_cluster() const {
  std::vector<std::string> parts;
  for (const auto& [id, port] : ports_)
    parts.push_back(absl::StrCat(id, "=", client_address(id)));
  return absl::StrJoin(parts, ",");
}

std::string LocalCluster::ServerCluster(raft::NodeId self) const {
  std::vector<std::string> parts;
  for (const auto& [id, port] : ports_) {
    if (joiners_.count(id) > 0) continue;
    const std::string peer = (id == self || !options_.peer_address)
                                 ? address(id)
                                 : options_.peer_address(self, id);
    parts.push_back(absl::StrCat(id, "=", peer));
  }
  return absl::StrJoin(parts, ",");
}

std::string LocalCluster::log_path(raft::NodeId id) const {
  return absl::StrCat(options_.dir, "/node-", id, ".log");
}

std::string LocalCluster::data_dir(raft::NodeId id) const {
  return absl::StrCat(options_.dir, "/node-", id);
}

bool LocalCluster::running(raft::NodeId id) const {
  return pids_.count(id) > 0;
}

absl::Status LocalCluster::StartAll() {
  for (raft::NodeId id : ids()) {
    absl::Status started = StartNode(id);
    if (!started.ok()) return started;
  }
  return absl::OkStatus();
}

absl::Status LocalCluster::StartNode(raft::NodeId id) {
  if (running(id))
    return absl::FailedPreconditionError(
        absl::StrCat("node ", id, " is running"));
  std::vector<std::string> args = {options_.binary, "serve",
                                   absl::StrCat("--node-id=", id),
                                   absl::StrCat("--bind=", address(id)),
                                   absl::StrCat("--data-dir=", data_dir(id))};
  if (joiners_.count(id) > 0 || rejoining_.count(id) > 0) {
    std::vector<std::string> others;
    for (const auto& [other, port] : ports_) {
      if (other != id) others.push_back(client_address(other));
    }
    args.push_back(absl::StrCat("--join=", absl::StrJoin(others, ",")));
  } else {
    args.push_back(absl::StrCat("--cluster=", ServerCluster(id)));
  }
  if (metrics_port(id) != 0) {
    args.push_back(absl::StrCat("--metrics-bind=127.0.0.1:", metrics_port(id)));
  }
  if (client_ports_.count(id) > 0)
    args.push_back(absl::StrCat("--client-bind=", client_address(id)));
  for (const std::string& flag : options_.extra_flags) args.push_back(flag);
  if (auto own = options_.node_flags.find(id); own != options_.node_flags.end())
    args.insert(args.end(), own->second.begin(), own->second.end());
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  const std::string log = log_path(id);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null",
                                   O_RDONLY, 0);
  std::vector<char*> env;
  auto extra = environment_.find(id);
  if (extra != environment_.end()) {
    for (std::string& e : extra->second) env.push_back(e.data());
  }
  for (char** e = environ; *e != nullptr; ++e) env.push_back(*e);
  env.push_back(nullptr);
  pid_t pid = 0;
  const int error = posix_spawn(&pid, options_.binary.c_str(), &actions,
                                nullptr, argv.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) {
    return absl::InternalError(
        absl::StrCat("cannot start ", options_.binary, ": ", strerror(error)));
  }
  pids_[id] = pid;
  return absl::OkStatus();
}

void LocalCluster::set_environment(raft::NodeId id,
                                   std::vector<std::string> environment) {
  environment_[id] = std::move(environment);
}

absl::Status LocalCluster::AddNode(raft::NodeId id) {
  if (ports_.count(id) > 0)
    return absl::AlreadyExistsError(absl::StrCat("node ", id, " exists"));
  absl::StatusOr<int> port = PickFreePort();
  if (!port.ok()) return port.status();
  ports_[id] = *port;
  if (options_.client_ports) {
    absl::StatusOr<int> client = PickFreePort();
    if (!client.ok()) return client.status();
    client_ports_[id] = *client;
  }
  joiners_.insert(id);
  return absl::OkStatus();
}

absl::Status LocalCluster::ResetToJoin(raft::NodeId id) {
  if (ports_.count(id) == 0)
    return absl::NotFoundError(absl::StrCat("no node ", id));
  if (running(id))
    return absl::FailedPreconditionError(
        absl::StrCat("node ", id, " is running"));
  std::error_code error;
  std::filesystem::remove_all(data_dir(id), error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("emptying ", data_dir(id), ": ", error.message()));
  }
  rejoining_.insert(id);  // still a founder in the others' --cluster
  return absl::OkStatus();
}

void LocalCluster::Signal(raft::NodeId id, int signal) {
  auto it = pids_.find(id);
  if (it == pids_.end()) return;
  if (signal == SIGKILL) kill(it->second, SIGCONT);
  kill(it->second, signal);
  if (signal == SIGKILL) {
    waitpid(it->second, nullptr, 0);
    pids_.erase(it);
  }
}

absl::StatusOr<int> LocalCluster::Wait(raft::NodeId id, int timeout_ms) {
  auto it = pids_.find(id);
  if (it == pids_.end())
    return absl::FailedPreconditionError(
        absl::StrCat("node ", id, " is not running"));
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  int status = 0;
  do {
    if (waitpid(it->second, &status, WNOHANG) == it->second) {
      pids_.erase(it);
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      return absl::InternalError(
          absl::StrCat("node ", id, " died from signal ", WTERMSIG(status)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  } while (std::chrono::steady_clock::now() < deadline);
  return absl::DeadlineExceededError(
      absl::StrCat("node ", id, " still runs after ", timeout_ms, " ms"));
}

absl::StatusOr<int> LocalCluster::Stop(raft::NodeId id, int timeout_ms) {
  auto it = pids_.find(id);
  if (it == pids_.end())
    return absl::FailedPreconditionError(
        absl::StrCat("node ", id, " is not running"));
  const pid_t pid = it->second;
  kill(pid, SIGCONT);
  kill(pid, SIGTERM);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      pids_.erase(it);
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      return absl::InternalError(
          absl::StrCat("node ", id, " died from signal ", WTERMSIG(status)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  pids_.erase(it);
  return absl::DeadlineExceededError(
      absl::StrCat("node ", id, " did not stop within ", timeout_ms,
                   " ms of SIGTERM and was killed"));
}

}  // namespace raftkv::cli
