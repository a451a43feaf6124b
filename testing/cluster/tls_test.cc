// Mutual TLS and permissions with real processes and real certificates (made
// by the openssl command line, testing/cluster/make_test_certs.sh): clients
// without a certificate, with one from another CA, with an expired one are
// refused with a clear message and exit code; a read-only client cannot
// write and nothing of its write is applied; a peer whose certificate names
// another node is refused; permissions reload on SIGHUP.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "testing/cluster/harness.h"
#include "testing/temp_dir.h"

namespace raftkv::testing {
namespace {

constexpr char kAuth[] =
    "alice admin\nwriter read-write\ndashboard read-only\nraftkv read-only\n";

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto dir = MakeTempDir("certs");
    ASSERT_TRUE(dir.ok());
    certs_ = std::make_unique<TempDir>(std::move(*dir));
    ASSERT_EQ(std::system(
                  ("bash testing/cluster/make_test_certs.sh " + certs_->path())
                      .c_str()),
              0);
    // "raftkv" is the nodes' client-port certificate: a joining node asks
    // the members as a client with it.
    WriteAuth(kAuth);
    HarnessOptions options;
    options.client_ports = true;
    options.extra_flags = {"--tick-ms=20",
                           Flag("cert-file", "server.pem"),
                           Flag("key-file", "server.key"),
                           Flag("trusted-ca-file", "client-ca.pem"),
                           Flag("peer-trusted-ca-file", "peer-ca.pem"),
                           Flag("auth-file", "auth.txt")};
    for (raft::NodeId id = 1; id <= 3; ++id) options.node_flags[id] = Peer(id);
    options.client_tls = {File("alice.pem"), File("alice.key"),
                          File("client-ca.pem")};
    auto harness = ClusterHarness::Start(options);
    ASSERT_TRUE(harness.ok()) << harness.status();
    h_ = std::move(*harness);
    ASSERT_TRUE(h_->WaitForLeader().ok()) << h_->Logs();
  }

  std::string File(const std::string& name) const {
    return absl::StrCat(certs_->path(), "/", name);
  }
  std::string Flag(const std::string& flag, const std::string& file) const {
    return absl::StrCat("--", flag, "=", File(file));
  }
  // Node `id`'s peer certificate: the one made for `as` (an impostor's).
  std::vector<std::string> Peer(raft::NodeId id, raft::NodeId as = 0) const {
    const std::string name = absl::StrCat("peer-", as == 0 ? id : as);
    return {Flag("peer-cert-file", name + ".pem"),
            Flag("peer-key-file", name + ".key")};
  }
  void WriteAuth(const std::string& text) {
    std::ofstream(File("auth.txt")) << text;
  }
  // The CLI as `who` (a certificate name; "" for none).
  CommandOutput As(const std::string& who, std::vector<std::string> args) {
    std::vector<std::string> all = {
        absl::StrCat("--cluster=", h_->cluster().client_cluster()),
        "--timeout=3s"};
    if (!who.empty()) {
      all.push_back(Flag("cert-file", who + ".pem"));
      all.push_back(Flag("key-file", who + ".key"));
      all.push_back(Flag("ca-file", "client-ca.pem"));
    }
    all.insert(all.end(), args.begin(), args.end());
    return h_->Run(all);
  }

  std::unique_ptr<TempDir> certs_;
  std::unique_ptr<ClusterHarness> h_;
};

TEST_F(TlsTest, OnlyTrustedClientsGetIn) {
  ASSERT_TRUE(h_->client().Put("k", "v").ok());              // alice, over TLS
  ASSERT_TRUE(h_->WaitForConvergence().ok()) << h_->Logs();  // peers too

  CommandOutput alice = As("alice", {"get", "k"});
  EXPECT_EQ(alice.exit_code, 0) << alice.err;
  EXPECT_EQ(alice.out, "v\n");

  CommandOutput plain = As("", {"get", "k"});
  EXPECT_EQ(plain.exit_code, 3) << plain.err;
  EXPECT_TRUE(absl::StrContains(plain.err, "requires TLS")) << plain.err;

  CommandOutput other = As("alice-other", {"get", "k"});
  EXPECT_EQ(other.exit_code, 11) << other.err;
  EXPECT_TRUE(absl::StrContains(other.err, "TLS refused")) << other.err;

  CommandOutput expired = As("alice-expired", {"get", "k"});
  EXPECT_EQ(expired.exit_code, 11) << expired.err;
  EXPECT_TRUE(absl::StrContains(expired.err, "TLS refused")) << expired.err;
  // The node logs why (rate-limited: the first refusal here, plaintext).
  EXPECT_TRUE(absl::StrContains(h_->NodeLog(1), "TLS handshake failed"))
      << h_->NodeLog(1);
}

TEST_F(TlsTest, RolesDecideWhatAClientMayDo) {
  ASSERT_TRUE(h_->client().Put("k", "v").ok());
  CommandOutput read = As("dashboard", {"get", "k"});
  EXPECT_EQ(read.exit_code, 0) << read.err;
  CommandOutput write = As("dashboard", {"put", "k", "changed"});
  EXPECT_EQ(write.exit_code, 10) << write.err;
  EXPECT_EQ(write.err,
            "kvnode: permission denied: a write needs the read-write role; "
            "client \"dashboard\" has read-only\n");
  CommandOutput stranger = As("mallory", {"get", "k"});
  EXPECT_EQ(stranger.exit_code, 10) << stranger.err;
  CommandOutput writer = As("writer", {"put", "k2", "w"});
  EXPECT_EQ(writer.exit_code, 0) << writer.err;
  CommandOutput remove = As("writer", {"member", "remove", "3"});
  EXPECT_EQ(remove.exit_code, 10) << remove.err;
  // Nothing of the refused requests was applied.
  auto value = h_->client().Get("k");
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(*value, std::optional<std::string>("v"));
  auto members = h_->client().Members();
  ASSERT_TRUE(members.ok());
  EXPECT_EQ(members->members.size(), 3u);

  // New permissions on SIGHUP, no restart: the dashboard may write now.
  WriteAuth(
      "alice admin\nwriter read-write\ndashboard read-write\nraftkv "
      "read-only\n");
  for (raft::NodeId id : h_->ids()) h_->cluster().Signal(id, SIGHUP);
  CommandOutput now = As("dashboard", {"put", "k", "changed"});
  for (int i = 0; i < 50 && now.exit_code == 10; ++i) {  // the signal lands
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    now = As("dashboard", {"put", "k", "changed"});
  }
  EXPECT_EQ(now.exit_code, 0) << now.err;
}

// A new member joins a TLS cluster: it asks the members over the client port
// with its client-port certificate, then gets the log over TLS peer links.
TEST_F(TlsTest, ANewMemberJoinsOverTls) {
  ASSERT_TRUE(h_->client().Put("k", "v").ok());
  ASSERT_TRUE(h_->cluster().AddNode(4).ok());
  h_->cluster().set_node_flags(4, Peer(4));
  ASSERT_TRUE(h_->cluster().StartNode(4).ok());
  CommandOutput add =
      As("alice", {"member", "add-learner", "4", h_->cluster().address(4)});
  ASSERT_EQ(add.exit_code, 0) << add.err << h_->Logs();
  absl::StatusOr<kv::NodeInfo> joined = h_->Status(4);
  for (int i = 0; i < 100 && !(joined.ok() && joined->applied >= 2); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    joined = h_->Status(4);
  }
  ASSERT_TRUE(joined.ok()) << joined.status() << h_->Logs();
  EXPECT_GE(joined->applied, 2u) << h_->Logs();
}

// Node 3 comes back with node 5's peer certificate: its messages claim node 3
// and are refused, and the others cannot reach it as node 3; it falls behind.
TEST_F(TlsTest, APeerWithAnotherNodesCertificateIsRefused) {
  ASSERT_TRUE(h_->client().Put("before", "1").ok());
  ASSERT_TRUE(h_->WaitForConvergence().ok()) << h_->Logs();
  ASSERT_EQ(h_->cluster().Stop(3).value_or(-1), 0);
  h_->cluster().set_node_flags(3, Peer(3, 5));
  ASSERT_TRUE(h_->cluster().StartNode(3).ok());
  for (int i = 0; i < 20; ++i)
    ASSERT_TRUE(h_->client().Put(absl::StrCat("after", i), "x").ok());
  std::this_thread::sleep_for(std::chrono::seconds(2));
  auto leader = h_->Status(1);
  auto impostor = h_->Status(3);
  for (int i = 0; i < 20 && !(leader.ok() && impostor.ok()); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    leader = h_->Status(1);
    impostor = h_->Status(3);
  }
  ASSERT_TRUE(leader.ok()) << leader.status();
  ASSERT_TRUE(impostor.ok()) << impostor.status();
  EXPECT_LT(impostor->applied + 20, leader->applied + 1)
      << "node 3 caught up with another node's certificate";
  const std::string logs = h_->NodeLog(1) + h_->NodeLog(2);
  EXPECT_TRUE(absl::StrContains(
      logs, "peer certificate \"node-5\" but sends messages from node 3"))
      << logs;
}

}  // namespace
}  // namespace raftkv::testing
