// Every client command prints through one printer (cli/printer.h): its
// --output=json is valid JSON (parsed here by a real parser) with stable
// field names, and --output=table is an aligned table with a header.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "testing/cluster/harness.h"

namespace raftkv::testing {
namespace {

using nlohmann::json;

class OutputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto harness = ClusterHarness::Start();
    ASSERT_TRUE(harness.ok()) << harness.status();
    h_ = std::move(*harness);
    ASSERT_TRUE(h_->WaitForLeader().ok());
  }

  // Runs a command with --output=json: exit code `code`, one JSON object.
  json Json(std::vector<std::string> args, int code = 0) {
    args.insert(args.begin(), "--output=json");
    args.insert(args.begin(),
                absl::StrCat("--cluster=", h_->cluster().client_cluster()));
    CommandOutput out = h_->Run(args);
    EXPECT_EQ(out.exit_code, code) << args.back() << ": " << out.err;
    json parsed = json::parse(out.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(parsed.is_discarded()) << "not JSON: " << out.out;
    EXPECT_TRUE(parsed.is_object()) << out.out;
    return parsed;
  }
  std::string Table(std::vector<std::string> args) {
    args.insert(args.begin(), "--output=table");
    args.insert(args.begin(),
                absl::StrCat("--cluster=", h_->cluster().client_cluster()));
    CommandOutput out = h_->Run(args);
    EXPECT_EQ(out.exit_code, 0) << out.err;
    return out.out;
  }

  std::unique_ptr<ClusterHarness> h_;
};

TEST_F(OutputTest, EveryCommandsJsonIsValidWithStableNames) {
  json put = Json({"put", "k1", "v1"});
  EXPECT_EQ(put["key"], "k1");
  EXPECT_EQ(put["ok"], true);
  ASSERT_TRUE(h_->client().Put("bin", std::string("\xff\x00\x01", 3)).ok());

  json get = Json({"get", "k1"});
  EXPECT_EQ(get["found"], true);
  EXPECT_EQ(get["value"], "v1");
  json bin = Json({"get", "bin"});
  EXPECT_EQ(bin["value_base64"], "/wAB");  // not UTF-8: base64, as etcd
  EXPECT_EQ(Json({"get", "absent"}, 1)["found"], false);

  json cas = Json({"cas", "k1", "wrong", "v2"}, 5);
  EXPECT_EQ(cas["swapped"], false);
  EXPECT_EQ(cas["current"], "v1");
  EXPECT_EQ(Json({"cas", "k1", "v1", "v2"})["swapped"], true);

  json list = Json({"list"});
  ASSERT_EQ(list["items"].size(), 2u);
  EXPECT_EQ(list["items"][0]["key"], "bin");
  EXPECT_EQ(list["items"][1]["value"], "v2");
  EXPECT_EQ(list["more"], false);

  json status = Json({"status"});
  ASSERT_EQ(status["nodes"].size(), 3u);
  for (const json& node : status["nodes"]) {
    EXPECT_EQ(node["reachable"], true);
    for (const char* field :
         {"address", "id", "role", "term", "leader", "commit", "applied"})
      EXPECT_TRUE(node.contains(field)) << field << " in " << node;
  }
  EXPECT_EQ(status["members"].size(), 3u);

  json members = Json({"member", "list"});
  EXPECT_EQ(members["cluster_id"].get<std::string>().size(), 16u);
  EXPECT_EQ(members["members"].size(), 3u);
  int leaders = 0;
  for (const json& m : members["members"]) leaders += m["leader"] == true;
  EXPECT_EQ(leaders, 1);

  json del = Json({"del", "k1"});
  EXPECT_EQ(del["deleted"], true);
  EXPECT_EQ(Json({"del", "k1"}, 1)["deleted"], false);
}

TEST_F(OutputTest, TablesHaveAHeaderAndAlignedColumns) {
  ASSERT_TRUE(h_->client().Put("a", "1").ok());
  ASSERT_TRUE(h_->client().Put("longer-key", "2").ok());
  const std::string list = Table({"list"});
  EXPECT_EQ(list, "KEY         VALUE\na           1\nlonger-key  2\n");
  const std::string status = Table({"status"});
  std::vector<std::string> lines = absl::StrSplit(status, '\n');
  ASSERT_GE(lines.size(), 4u) << status;
  EXPECT_TRUE(absl::StartsWith(lines[0], "ADDRESS")) << status;
  // Every row's ROLE column starts where the header's does.
  const size_t role = lines[0].find("ROLE");
  ASSERT_NE(role, std::string::npos);
  for (int i = 1; i <= 3; ++i) {
    EXPECT_TRUE(absl::StartsWith(lines[i].substr(role), "leader") ||
                absl::StartsWith(lines[i].substr(role), "follower"))
        << status;
  }
  EXPECT_NE(status.find("SUFFRAGE"), std::string::npos) << status;
}

}  // namespace
}  // namespace raftkv::testing
