// Separate listeners (--client-bind): clients and peers on ports of their
// own, each refusing what is too large for it before decoding it; a bounded
// number of connections per listener; idle connections closed. All against
// real kvnode processes over TCP on 127.0.0.1.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "kv/client.h"
#include "testing/cluster/harness.h"
#include "testing/cluster/scrape.h"

namespace raftkv::testing {
namespace {

// True once the node closed the connection (EOF or reset) within `ms`; what
// it sent first (an RPC abort message saying why) is read and skipped.
bool ClosedWithin(int fd, int ms) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (poll(&p, 1, static_cast<int>(left.count()) + 1) <= 0) return false;
    char buffer[4096];
    if (recv(fd, buffer, sizeof(buffer), MSG_DONTWAIT) <= 0) return true;
  }
  return false;
}

// The node's peak resident memory (VmHWM), in KiB.
uint64_t PeakKiB(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      std::istringstream fields(line.substr(6));
      uint64_t kib = 0;
      fields >> kib;
      return kib;
    }
  }
  return 0;
}

// Sends one Cap'n Proto frame announcing a single segment of `bytes`, then
// that many bytes, until the node stops reading.
void SendHugeFrame(int fd, uint64_t bytes) {
  const uint32_t header[2] = {0, static_cast<uint32_t>(bytes / 8)};
  ASSERT_EQ(send(fd, header, sizeof(header), MSG_NOSIGNAL),
            static_cast<ssize_t>(sizeof(header)));
  const std::string block(1 << 20, '\x01');
  for (uint64_t sent = 0; sent < bytes; sent += block.size()) {
    if (send(fd, block.data(), block.size(), MSG_NOSIGNAL) < 0) return;
  }
}

TEST(ListenersTest, ClientsAndPeersOnTheirOwnPorts) {
  auto harness = ClusterHarness::Start({.client_ports = true});
  ASSERT_TRUE(harness.ok()) << harness.status();
  ClusterHarness& h = **harness;
  ASSERT_TRUE(h.WaitForLeader().ok()) << h.Logs();
  ASSERT_TRUE(h.client().Put("k", "v").ok());
  ASSERT_TRUE(h.WaitForConvergence().ok()) << h.Logs();  // peers replicate
  // The peer port serves no client API.
  CommandOutput wrong =
      h.Run({absl::StrCat("--cluster=", h.cluster().address(1)),
             "--timeout=1500ms", "get", "k"});
  EXPECT_EQ(wrong.exit_code, 3) << wrong.out << wrong.err;
  auto value = h.client().Get("k");
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(*value, std::optional<std::string>("v"));
}

// Runs `hostile` against one node of a fresh cluster (clients on ports of
// their own), then checks the node's peak resident memory grew by less than
// 8 MiB and that the cluster still takes a write.
void ExpectNoMemoryCost(
    const std::function<void(ClusterHarness&, raft::NodeId)>& hostile) {
  auto harness = ClusterHarness::Start({.client_ports = true});
  ASSERT_TRUE(harness.ok()) << harness.status();
  ClusterHarness& h = **harness;
  ASSERT_TRUE(h.WaitForLeader().ok()) << h.Logs();
  const raft::NodeId target = h.ids()[0];
  const pid_t pid = h.cluster().pid(target);
  const uint64_t before = PeakKiB(pid);
  ASSERT_GT(before, 0u);
  hostile(h, target);
  const uint64_t after = PeakKiB(pid);
  EXPECT_LT(after, before + 8 * 1024)
      << "peak resident memory grew from " << before << " KiB to " << after
      << " KiB";
  ASSERT_TRUE(h.client().Put("still", "serving").ok());  // the node is fine
}

// A frame past the client limit is refused from its segment table: the
// node never allocates it. 40 MiB is under the peer port's limit (64 MiB),
// so only the client port's own limit refuses it.
TEST(ListenersTest, HugeFramesToTheClientPortCostNoMemory) {
  ExpectNoMemoryCost([](ClusterHarness& h, raft::NodeId target) {
    for (uint64_t mib : {100, 40}) {
      const int fd = ConnectLoopback(h.cluster().client_port(target));
      ASSERT_GE(fd, 0);
      SendHugeFrame(fd, mib << 20);
      EXPECT_TRUE(ClosedWithin(fd, 5000)) << mib << " MiB frame not refused";
      close(fd);
    }
  });
}

// The same on the peer port, past a peer stream's preamble: a frame past the
// peer limit (64 MiB) is refused from its segment table, and a connection
// that is neither a peer stream nor (with --client-bind) the client API is
// closed at once.
TEST(ListenersTest, HugeFramesOnAPeerStreamCostNoMemory) {
  ExpectNoMemoryCost([](ClusterHarness& h, raft::NodeId target) {
    const unsigned char preamble[8] = {0xff, 0xff, 0xff, 0xff,
                                       'R',  'K',  'P',  '1'};
    const int stream = ConnectLoopback(h.cluster().port(target));
    ASSERT_GE(stream, 0);
    ASSERT_EQ(send(stream, preamble, sizeof(preamble), MSG_NOSIGNAL), 8);
    SendHugeFrame(stream, 100ull << 20);
    EXPECT_TRUE(ClosedWithin(stream, 5000)) << "100 MiB frame not refused";
    close(stream);
    const int rpc = ConnectLoopback(h.cluster().port(target));
    ASSERT_GE(rpc, 0);
    SendHugeFrame(rpc, 1 << 10);  // an RPC frame, to the peer port
    EXPECT_TRUE(ClosedWithin(rpc, 5000)) << "RPC on the peer port not closed";
    close(rpc);
  });
}

TEST(ListenersTest, ConnectionFloodIsBoundedAndIdleOnesClose) {
  auto harness = ClusterHarness::Start(
      {.extra_flags = {"--tick-ms=20", "--max-connections=8",
                       "--idle-timeout-ms=1500"},
       .client_ports = true});
  ASSERT_TRUE(harness.ok()) << harness.status();
  ClusterHarness& h = **harness;
  ASSERT_TRUE(h.WaitForLeader().ok()) << h.Logs();
  const int port = h.cluster().client_port(h.ids()[0]);
  std::vector<int> fds;
  for (int i = 0; i < 20; ++i) {
    const int fd = ConnectLoopback(port);
    ASSERT_GE(fd, 0);
    fds.push_back(fd);
  }
  // At most 8 are served: the rest are closed at once.
  int refused = 0;
  for (int fd : fds) refused += ClosedWithin(fd, 300) ? 1 : 0;
  EXPECT_GE(refused, 12);
  // The ones served send nothing: each is closed after the idle timeout.
  int idle_closed = 0;
  for (int fd : fds) idle_closed += ClosedWithin(fd, 4000) ? 1 : 0;
  EXPECT_EQ(idle_closed, 20);
  for (int fd : fds) close(fd);
  // Room again: a client is served.
  ASSERT_TRUE(h.client().Put("after", "flood").ok()) << h.Logs();
}

}  // namespace
}  // namespace raftkv::testing
