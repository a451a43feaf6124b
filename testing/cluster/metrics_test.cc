// /metrics, /health and /ready of real kvnode processes, checked by the real
// tools: Debian's `promtool check metrics` accepts every node's output, and a
// real `prometheus` server scrapes a 3-node cluster and answers queries over
// its HTTP API (one leader; committed proposals grow after writes).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "testing/cluster/harness.h"
#include "testing/cluster/scrape.h"

extern char** environ;

namespace raftkv::testing {
namespace {

// Runs `argv` and returns its exit code (output to `log`).
int Spawn(const std::vector<std::string>& args, const std::string& log,
          pid_t* background = nullptr) {
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid;
  const int error =
      posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) return -1;
  if (background != nullptr) {
    *background = pid;
    return 0;
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string TempDir() {
  const char* tmp = getenv("TEST_TMPDIR");
  return tmp != nullptr ? tmp : "/tmp";
}

TEST(MetricsTest, EveryNodeServesMetricsThatPromtoolAccepts) {
  auto harness = ClusterHarness::Start({.metrics = true});
  ASSERT_TRUE(harness.ok()) << harness.status();
  ClusterHarness& h = **harness;
  auto leader = h.WaitForLeader();
  ASSERT_TRUE(leader.ok());
  for (int i = 0; i < 50; ++i)
    ASSERT_TRUE(h.client().Put(absl::StrCat("k", i), "v").ok());
  ASSERT_TRUE(h.client().Get("k1").ok());
  ASSERT_TRUE(h.WaitForConvergence().ok());

  double leaders = 0;
  for (raft::NodeId id : h.ids()) {
    HttpReply metrics = HttpGet(h.cluster().metrics_port(id), "/metrics");
    ASSERT_EQ(metrics.status, 200) << "node " << id;
    const std::string file = absl::StrCat(TempDir(), "/metrics-", id, ".txt");
    std::ofstream(file) << metrics.body;
    const std::string log = file + ".promtool";
    EXPECT_EQ(
        Spawn({"/bin/sh", "-c", "/usr/bin/promtool check metrics < " + file},
              log),
        0)
        << "promtool rejected node " << id << "'s /metrics:\n"
        << ReadFile(log);
    const std::string& text = "\n" + metrics.body;
    leaders += Sample(text, "raftkv_raft_is_leader");
    EXPECT_GE(Sample(text, "raftkv_raft_proposals_committed_total"), 51)
        << "node " << id;
    EXPECT_GT(Sample(text, "raftkv_process_resident_memory_bytes"), 0);
    EXPECT_GT(Sample(text, "raftkv_process_open_fds"), 0);
    // Every node applied the writes in batches, each one timed; the store
    // and the log have files on disk.
    EXPECT_GE(Sample(text, "raftkv_storage_apply_duration_seconds_count"), 1)
        << "node " << id;
    EXPECT_GT(Sample(text, "raftkv_kv_store_size_bytes"), 0);
    EXPECT_GT(Sample(text, "raftkv_log_size_bytes"), 0);
    if (id == *leader) {
      EXPECT_GE(
          Sample(text,
                 "raftkv_client_requests_total{op=\"put\",result=\"ok\"}"),
          50)
          << metrics.body;
      EXPECT_GE(
          Sample(text,
                 "raftkv_client_requests_total{op=\"get\",result=\"ok\"}"),
          1);
      for (raft::NodeId peer : h.ids()) {
        if (peer == id) continue;
        EXPECT_GT(
            Sample(text, absl::StrCat("raftkv_peer_messages_sent_total{peer=\"",
                                      peer, "\"}")),
            50)
            << metrics.body;
      }
    }
  }
  EXPECT_EQ(leaders, 1);
}

TEST(MetricsTest, HealthAndReady_AnIsolatedFollowerIsUnhealthyUntilHealed) {
  auto harness = ClusterHarness::Start({.metrics = true});
  ASSERT_TRUE(harness.ok()) << harness.status();
  ClusterHarness& h = **harness;
  auto leader = h.WaitForLeader();
  ASSERT_TRUE(leader.ok());
  ASSERT_TRUE(h.client().Put("a", "1").ok());
  ASSERT_TRUE(h.WaitForConvergence().ok());
  raft::NodeId follower = raft::kNoNode;
  std::set<raft::NodeId> rest;
  for (raft::NodeId id : h.ids()) {
    EXPECT_EQ(HttpGet(h.cluster().metrics_port(id), "/health").status, 200);
    EXPECT_EQ(HttpGet(h.cluster().metrics_port(id), "/ready").status, 200);
    if (id != *leader && follower == raft::kNoNode) {
      follower = id;
    } else {
      rest.insert(id);
    }
  }
  EXPECT_EQ(HttpGet(h.cluster().metrics_port(follower), "/nope").status, 404);

  h.Partition({{follower}, rest});
  HttpReply health;
  for (int i = 0; i < 100; ++i) {
    health = HttpGet(h.cluster().metrics_port(follower), "/health");
    if (health.status == 503) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(health.status, 503) << health.body;
  EXPECT_TRUE(absl::StrContains(health.body, "\"health\":false"))
      << health.body;
  EXPECT_TRUE(absl::StrContains(health.body, "leader")) << health.body;
  // The majority stays healthy.
  EXPECT_EQ(HttpGet(h.cluster().metrics_port(*rest.begin()), "/health").status,
            200);

  h.Heal();
  for (int i = 0; i < 100; ++i) {
    health = HttpGet(h.cluster().metrics_port(follower), "/health");
    if (health.status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(health.status, 200) << health.body;
}

// Prometheus's instant query result, as the number of the first sample
// (-1 if there is none yet).
double Query(int port, const std::string& query) {
  std::string escaped;
  for (char c : query) {
    if (isalnum(static_cast<unsigned char>(c)) || c == '_') {
      escaped.push_back(c);
    } else {
      absl::StrAppend(
          &escaped, "%",
          absl::Hex(static_cast<unsigned char>(c), absl::kZeroPad2));
    }
  }
  HttpReply reply = HttpGet(port, "/api/v1/query?query=" + escaped);
  std::smatch match;
  static const std::regex value(R"re("value":\[[0-9.]+,"([-0-9.e+]+)"\])re");
  if (reply.status != 200 || !std::regex_search(reply.body, match, value))
    return -1;
  double number = -1;
  (void)absl::SimpleAtod(match[1].str(), &number);
  return number;
}

TEST(MetricsTest, ARealPrometheusScrapesTheCluster) {
  auto harness = ClusterHarness::Start({.metrics = true});
  ASSERT_TRUE(harness.ok()) << harness.status();
  ClusterHarness& h = **harness;
  ASSERT_TRUE(h.WaitForLeader().ok());

  const std::string dir = absl::StrCat(TempDir(), "/prometheus");
  std::vector<std::string> targets;
  for (raft::NodeId id : h.ids())
    targets.push_back(
        absl::StrCat("'127.0.0.1:", h.cluster().metrics_port(id), "'"));
  std::ofstream(dir + ".yml") << "global:\n  scrape_interval: 1s\n"
                              << "scrape_configs:\n  - job_name: raftkv\n"
                              << "    static_configs:\n      - targets: ["
                              << absl::StrJoin(targets, ", ") << "]\n";
  auto port = cli::PickFreePort();
  ASSERT_TRUE(port.ok());
  pid_t prometheus = 0;
  ASSERT_EQ(Spawn({"/usr/bin/prometheus", "--config.file=" + dir + ".yml",
                   "--storage.tsdb.path=" + dir,
                   absl::StrCat("--web.listen-address=127.0.0.1:", *port)},
                  dir + ".log", &prometheus),
            0);
  struct Stop {
    pid_t pid;
    ~Stop() {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  } stop{prometheus};

  // Scraped: one leader, three targets up.
  double leaders = -1;
  for (int i = 0; i < 300 && leaders != 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (Query(*port, "count(up{job=\"raftkv\"} == 1)") == 3)
      leaders = Query(*port, "sum(raftkv_raft_is_leader)");
  }
  ASSERT_EQ(leaders, 1) << ReadFile(dir + ".log");
  const double before =
      Query(*port, "max(raftkv_raft_proposals_committed_total)");
  ASSERT_GE(before, 1);
  for (int i = 0; i < 100; ++i)
    ASSERT_TRUE(h.client().Put(absl::StrCat("k", i), "v").ok());
  double after = before;
  for (int i = 0; i < 150 && after < before + 100; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    after = Query(*port, "max(raftkv_raft_proposals_committed_total)");
  }
  EXPECT_GE(after, before + 100);
  printf(
      "prometheus: sum(raftkv_raft_is_leader) = %g, "
      "max(raftkv_raft_proposals_committed_total) %g -> %g\n",
      leaders, before, after);
}

}  // namespace
}  // namespace raftkv::testing
