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

std::string MemberJson(const kv::MemberInfo& m, raft::NodeId leader) {
  std::string out =
      absl::StrCat("{\"id\":", m.id, ",\"address\":", JsonString(m.address),
                   ",\"suffrage\":", JsonString(m.suffrage),
                   ",\"leader\":", m.id == leader ? "true" : "false");
  if (m.has_progress)
    absl::StrAppend(&out, ",\"match\":", m.match, ",\"lag\":", m.lag);
  return out + "}";
}

}  // namespace

void PrintMembership(const kv::Membership& membership, Output output) {
  if (output == Output::kJson) {
    std::string members;
    for (const kv::MemberInfo& m : membership.members) {
      absl::StrAppend(&members, members.empty() ? "" : ",",
                      MemberJson(m, membership.leader));
    }
    printf(
        "{\"cluster_id\":%s,\"leader\":%llu,\"joint\":%s,\"members\":[%s]}\n",
        JsonString(absl::StrFormat("%016x", membership.cluster_id)).c_str(),
        static_cast<unsigned long long>(membership.leader),
        membership.joint ? "true" : "false", members.c_str());
    return;
  }
  printf("%-4s %-22s %-9s %-8s %-8s %s\n", "ID", "ADDRESS", "SUFFRAGE", "MATCH",
         "LAG", "");
  for (const kv::MemberInfo& m : membership.members) {
    const std::string match = m.has_progress ? absl::StrCat(m.match) : "-";
    const std::string lag = m.has_progress ? absl::StrCat(m.lag) : "-";
    printf("%-4llu %-22s %-9s %-8s %-8s %s\n",
           static_cast<unsigned long long>(m.id), m.address.c_str(),
           m.suffrage.c_str(), match.c_str(), lag.c_str(),
           m.id == membership.leader ? "leader" : "");
  }
  if (membership.joint) {
    printf(
        "(joint configuration: the leader is leaving it for the new voters)\n");
  }
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
    if (ctx.output == Output::kJson) {
      printf("{\"leader\":%llu}\n", static_cast<unsigned long long>(id));
    } else {
      printf("leadership moved to node %llu\n",
             static_cast<unsigned long long>(id));
    }
    return kExitOk;
  }
  const std::string sub = args.size() > 1 ? args[1] : "";
  if (sub == "list" && args.size() == 2) {
    absl::StatusOr<kv::Membership> membership = client.Members();
    if (!membership.ok()) return ReportError(membership.status());
    PrintMembership(*membership, ctx.output);
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
  if (ctx.output == Output::kJson) {
    printf("{\"node\":%llu,\"change\":%s,\"ok\":true}\n",
           static_cast<unsigned long long>(step.id), JsonString(sub).c_str());
  } else {
    printf("node %llu %s\n", static_cast<unsigned long long>(step.id),
           done.c_str());
  }
  return kExitOk;
}

}  // namespace raftkv::cli
