#include "testing/cluster/packet_filter.h"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"

extern char** environ;

namespace raftkv::testing {
namespace {

constexpr char kIptables[] = "/usr/sbin/iptables";

std::mutex mu;
std::set<int> dropped;
std::string unavailable = "EnterPrivateNetwork() was not called";

// Runs iptables with `args` (output discarded); returns its exit code.
int Iptables(const std::vector<std::string>& args) {
  std::vector<std::string> all = {kIptables, "-w"};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  const int spawned =
      posix_spawn(&pid, kIptables, &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) return -1;
  int status = 0;
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) return -1;
  return WEXITSTATUS(status);
}

void Rules(const char* action, int port) {
  for (const char* direction : {"--dport", "--sport"}) {
    Iptables({action, "OUTPUT", "-p", "tcp", direction, absl::StrCat(port),
              "-j", "DROP"});
  }
}

std::string BringLoopbackUp() {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) return absl::StrCat("socket: ", strerror(errno));
  ifreq request{};
  strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
  std::string error;
  if (ioctl(fd, SIOCGIFFLAGS, &request) != 0) {
    error = absl::StrCat("reading lo's flags: ", strerror(errno));
  } else {
    request.ifr_flags |= IFF_UP;
    if (ioctl(fd, SIOCSIFFLAGS, &request) != 0)
      error = absl::StrCat("bringing lo up: ", strerror(errno));
  }
  close(fd);
  return error;
}

std::string Enter() {
  if (access(kIptables, X_OK) != 0)
    return absl::StrCat(kIptables, " is not installed (Debian's iptables)");
  const int original = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (original < 0) return "cannot open /proc/self/ns/net";
  if (unshare(CLONE_NEWNET) != 0) {
    close(original);
    return absl::StrCat("unshare(CLONE_NEWNET): ", strerror(errno),
                        " (needs root or CAP_SYS_ADMIN)");
  }
  std::string error = BringLoopbackUp();
  if (error.empty() && Iptables({"-L", "OUTPUT", "-n"}) != 0)
    error = "iptables does not work here (no nf_tables in this kernel?)";
  if (!error.empty()) setns(original, CLONE_NEWNET);
  close(original);
  return error;
}

}  // namespace

std::string EnterPrivateNetwork() {
  std::lock_guard<std::mutex> lock(mu);
  unavailable = Enter();
  return unavailable;
}

bool PacketFilter::Available() {
  std::lock_guard<std::mutex> lock(mu);
  return unavailable.empty();
}

const std::string& PacketFilter::Unavailable() { return unavailable; }

void PacketFilter::Drop(int port) {
  std::lock_guard<std::mutex> lock(mu);
  if (!unavailable.empty() || dropped.count(port) > 0) return;
  Rules("-A", port);
  dropped.insert(port);
}

void PacketFilter::Restore(int port) {
  std::lock_guard<std::mutex> lock(mu);
  if (dropped.erase(port) > 0) Rules("-D", port);
}

void PacketFilter::Clear() {
  std::lock_guard<std::mutex> lock(mu);
  for (int port : dropped) Rules("-D", port);
  dropped.clear();
}

}  // namespace raftkv::testing
