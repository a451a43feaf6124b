// kvnode member list | add-learner | add | promote | remove, and move-leader.
#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cli/commands.h"

namespace raftkv::cli {
namespace {

constexpr char kMemberUsage[] =
    "kvnode member list | add-learner ID HOST:PORT | add ID HOST:PORT | "
    "promote ID | remove ID";

bool ParseId(const std::string& text, raft::NodeId* id) {
  if (!absl::SimpleAtoi(text, id) || *id == 0) {
    fprintf(stderr, "kvnode: node id must be a positive number, got \"%s\"\n",
            text.c_str());
    return false;
  }
  return true;
}

}  // namespace

std::vector<Record> MemberRecords(const kv::Membership& membership) {
  std::vector<Record> members;
  for (const kv::MemberInfo& m : membership.members) {
    Record member;
    member.Number("id", m.id)
        .Bytes("address", m.address)
        .Bytes("suffrage", m.suffrage)
        .Bool("leader", m.id == membership.leader);
    if (m.has_progress) member.Number("match", m.match).Number("lag", m.lag);
    members.push_back(std::move(member));
  }
  return members;
}

int RunMemberCommand(const std::vector<std::string>& args,
                     const CommandContext& ctx) {
  kv::Client& client = *ctx.client;
  if (args[0] == "move-leader") {
    raft::NodeId id = 0;
    if (args.size() != 2) {
      fprintf(stderr, "kvnode: usage: kvnode move-leader ID\n");
      return kExitUsage;
    }
    if (!ParseId(args[1], &id)) return kExitUsage;
    absl::Status moved = client.MoveLeader(id);
    if (!moved.ok()) return ReportError(moved);
    Report report;
    report.record.Number("leader", id);
    report.simple = absl::StrCat("leadership moved to node ", id, "\n");
    Print(report, ctx.output);
    return kExitOk;
  }
  const std::string sub = args.size() > 1 ? args[1] : "";
  if (sub == "list" && args.size() == 2) {
    absl::StatusOr<kv::Membership> membership = client.Members();
    if (!membership.ok()) return ReportError(membership.status());
    Report report;
    report.record.Hex("cluster_id", membership->cluster_id)
        .Number("leader", membership->leader)
        .Bool("joint", membership->joint)
        .List("members", MemberRecords(*membership));
    Print(report, ctx.output);
    if (membership->joint && ctx.output != Output::kJson) {
      printf(
          "(joint configuration: the leader is leaving it for the new "
          "voters)\n");
    }
    return kExitOk;
  }
  kv::MemberStep step;
  std::string done;
  if ((sub == "add-learner" || sub == "add") && args.size() == 4) {
    step.type = sub == "add" ? raft::ConfChangeType::kAddVoter
                             : raft::ConfChangeType::kAddLearner;
    step.address = args[3];
    done = sub == "add" ? "added as a voter" : "added as a learner";
  } else if (sub == "promote" && args.size() == 3) {
    step.type = raft::ConfChangeType::kPromoteLearner;
    done = "promoted to voter";
  } else if (sub == "remove" && args.size() == 3) {
    step.type = raft::ConfChangeType::kRemoveNode;
    done = "removed";
  } else {
    fprintf(stderr, "kvnode: usage: %s\n", kMemberUsage);
    return kExitUsage;
  }
  if (!ParseId(args[2], &step.id)) return kExitUsage;
  absl::Status changed = client.ChangeMembership({step});
  if (!changed.ok()) return ReportError(changed);
  Report report;
  report.record.Number("node", step.id).Bytes("change", sub).Bool("ok", true);
  report.simple = absl::StrCat("node ", step.id, " ", done, "\n");
  Print(report, ctx.output);
  return kExitOk;
}

}  // namespace raftkv::cli
