// `kvnode shell` reads commands from a pipe like from a terminal, with clear
// messages for wrong usage; `kvnode` alone prints the usage.
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "testing/cluster/harness.h"

namespace raftkv::testing {
namespace {

TEST(ClusterShellTest, PipedCommands_RunInOrderWithClearErrors) {
  auto harness = ClusterHarness::Start();
  ASSERT_TRUE(harness.ok()) << harness.status();
  ClusterHarness& h = **harness;
  ASSERT_TRUE(h.WaitForLeader().ok());
  const std::string cluster =
      absl::StrCat("--cluster=", h.cluster().client_cluster());
  CommandOutput shell = h.Run({cluster, "shell"}, 30000,
                              "put greeting hello world\n"
                              "get greeting\n"
                              "put lonely\n"
                              "list\n"
                              "delete greeting\n"
                              "get greeting\n"
                              "quit\n"
                              "get never-run\n");
  EXPECT_EQ(shell.out, "OK\nhello world\ngreeting=hello world\nOK\n");
  EXPECT_EQ(shell.err,
            "kvnode: usage: kvnode put KEY VALUE\n"
            "kvnode: key \"greeting\" not found\n");
  EXPECT_EQ(shell.exit_code, 1);  // the last command's outcome: not found
}

// `put KEY` without a value reads it from standard input (values past the
// 128 KiB argument limit, binary ones); JSON output is always valid: bytes
// that are not UTF-8 come as base64 in a *_base64 field.
TEST(ClusterShellTest, PutFromStdin_BinaryValuesAreBase64InJson) {
  auto harness = ClusterHarness::Start();
  ASSERT_TRUE(harness.ok()) << harness.status();
  ClusterHarness& h = **harness;
  ASSERT_TRUE(h.WaitForLeader().ok());
  const std::string cluster =
      absl::StrCat("--cluster=", h.cluster().client_cluster());
  std::string big(600 << 10, 'x');  // past one argument's 128 KiB
  for (size_t i = 0; i < big.size(); i += 4096) big[i] = 'y';
  CommandOutput put = h.Run({cluster, "put", "big"}, 30000, big);
  ASSERT_EQ(put.exit_code, 0) << put.err;
  auto value = h.client().Get("big");
  ASSERT_TRUE(value.ok() && value->has_value());
  EXPECT_EQ(**value, big);

  ASSERT_EQ(
      h.Run({cluster, "put", "bin"}, 30000, std::string("\xff\x00\xfe", 3))
          .exit_code,
      0);
  ASSERT_EQ(h.Run({cluster, "put", "utf", "caf\xc3\xa9"}).exit_code, 0);
  CommandOutput bin = h.Run({cluster, "--output=json", "get", "bin"});
  EXPECT_EQ(bin.out,
            "{\"key\":\"bin\",\"found\":true,\"value_base64\":\"/wD+\"}\n");
  CommandOutput utf = h.Run({cluster, "--output=json", "get", "utf"});
  EXPECT_EQ(utf.out,
            "{\"key\":\"utf\",\"found\":true,\"value\":\"caf\xc3\xa9\"}\n");
  CommandOutput too_big =
      h.Run({cluster, "put", "huge"}, 30000, std::string(2 << 20, 'z'));
  EXPECT_EQ(too_big.exit_code, 4) << too_big.err;
  EXPECT_TRUE(absl::StrContains(too_big.err, "exceeds the limit"))
      << too_big.err;
}

TEST(ClusterShellTest, Flagfile_IsTheConfigFileWithDashedNames) {
  auto harness = ClusterHarness::Start();
  ASSERT_TRUE(harness.ok()) << harness.status();
  ClusterHarness& h = **harness;
  ASSERT_TRUE(h.WaitForLeader().ok());
  ASSERT_TRUE(h.client().Put("from", "flagfile").ok());
  const std::string path = h.cluster().data_dir(1) + ".flags";
  {
    std::ofstream flags(path);
    flags << "# a client's config\n--cluster=" << h.cluster().client_cluster()
          << "\n--output=json\n--consistency=serializable\n";
  }
  CommandOutput get = h.Run({absl::StrCat("--flagfile=", path), "get", "from"});
  EXPECT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(get.out,
            "{\"key\":\"from\",\"found\":true,\"value\":\"flagfile\"}\n");
  CommandOutput missing =
      h.Run({"--flagfile=/nonexistent/kv.flags", "get", "from"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_EQ(missing.err,
            "kvnode: cannot read --flagfile=/nonexistent/kv.flags\n");
}

TEST(ClusterShellTest, NoArguments_PrintsUsageWithExamples) {
  auto harness = ClusterHarness::Start({.nodes = 1});
  ASSERT_TRUE(harness.ok()) << harness.status();
  CommandOutput bare = (*harness)->Run({});
  EXPECT_EQ(bare.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(bare.err, "Examples:")) << bare.err;
  CommandOutput help = (*harness)->Run({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(help.out, "kvnode serve --node-id=1"))
      << help.out;
}

TEST(ClusterShellTest, HelpCommand_PrintsThatCommandsUsage) {
  auto harness = ClusterHarness::Start({.nodes = 1});
  ASSERT_TRUE(harness.ok()) << harness.status();
  ClusterHarness& h = **harness;
  CommandOutput put = h.Run({"help", "put"});
  EXPECT_EQ(put.exit_code, 0);
  EXPECT_TRUE(absl::StartsWith(put.out, "  put KEY [VALUE]")) << put.out;
  EXPECT_EQ(std::count(put.out.begin(), put.out.end(), '\n'), 1) << put.out;
  CommandOutput snapshot = h.Run({"help", "snapshot"});
  EXPECT_TRUE(absl::StrContains(snapshot.out, "snapshot restore FILE"))
      << snapshot.out;
  EXPECT_FALSE(absl::StrContains(snapshot.out, "member add")) << snapshot.out;
  CommandOutput unknown = h.Run({"help", "nope"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_EQ(unknown.err,
            "kvnode: no command \"nope\"; run kvnode --help for the list\n");
}

// A terminal session in a pseudo-terminal: what a user types, what they see.
class Terminal {
 public:
  Terminal(const std::vector<std::string>& args, const std::string& history) {
    pid_ = forkpty(&fd_, nullptr, nullptr, nullptr);
    if (pid_ == 0) {
      setenv("KVNODE_HISTORY", history.c_str(), 1);
      std::vector<char*> argv;
      for (const std::string& a : args)
        argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~Terminal() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    close(fd_);
  }
  void Type(const std::string& keys) {
    ASSERT_EQ(write(fd_, keys.data(), keys.size()),
              static_cast<ssize_t>(keys.size()));
  }
  // Reads until `text` has appeared `count` times in all output (or 10 s).
  bool WaitFor(const std::string& text, int count = 1) {
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      int seen = 0;
      for (size_t at = seen_.find(text); at != std::string::npos;
           at = seen_.find(text, at + 1))
        ++seen;
      if (seen >= count) return true;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 100) > 0) {
        char buffer[4096];
        const ssize_t n = read(fd_, buffer, sizeof(buffer));
        if (n <= 0) return false;
        seen_.append(buffer, static_cast<size_t>(n));
      }
    }
    return false;
  }
  int Wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  const std::string& seen() const { return seen_; }

 private:
  int fd_ = -1;
  pid_t pid_ = -1;
  std::string seen_;
};

// In a terminal the shell edits lines: Up recalls the last command (it used
// to print ^[[A and "unknown command"), Tab completes a command, and the
// history outlives the session.
TEST(ClusterShellTest, Terminal_UpRecalls_TabCompletes_HistoryKept) {
  auto harness = ClusterHarness::Start();
  ASSERT_TRUE(harness.ok()) << harness.status();
  ClusterHarness& h = **harness;
  ASSERT_TRUE(h.WaitForLeader().ok());
  const char* tmp = getenv("TEST_TMPDIR");
  const std::string history =
      std::string(tmp != nullptr ? tmp : "/tmp") + "/kvnode_history";
  const std::vector<std::string> args = {
      KvnodePath(), absl::StrCat("--cluster=", h.cluster().client_cluster()),
      "shell"};
  {
    Terminal t(args, history);
    ASSERT_TRUE(t.WaitFor("kvnode> ")) << t.seen();
    t.Type("put a 1\r");
    ASSERT_TRUE(t.WaitFor("OK")) << t.seen();
    t.Type("\x1b[A\r");  // Up, Enter: put a 1 again
    ASSERT_TRUE(t.WaitFor("OK", 2)) << t.seen();
    t.Type("sta\t\r");  // Tab completes "status"
    ASSERT_TRUE(t.WaitFor("ADDRESS")) << t.seen();
    t.Type("quit\r");
    EXPECT_EQ(t.Wait(), 0);
    EXPECT_EQ(t.seen().find("unknown command"), std::string::npos) << t.seen();
  }
  std::ifstream saved(history);
  const std::string kept((std::istreambuf_iterator<char>(saved)), {});
  // libedit's format: one entry per line, spaces as \040.
  EXPECT_NE(kept.find("put\\040a\\0401"), std::string::npos) << kept;
  {
    // A new session: Up twice is the earlier session's "status".
    Terminal t(args, history);
    ASSERT_TRUE(t.WaitFor("kvnode> ")) << t.seen();
    t.Type("\x1b[A\x1b[A\r");
    EXPECT_TRUE(t.WaitFor("ADDRESS")) << t.seen();
    t.Type("quit\r");
    EXPECT_EQ(t.Wait(), 0);
  }
}

}  // namespace
}  // namespace raftkv::testing
