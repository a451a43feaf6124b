#include "cli/commands.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "cli/command_table.h"
#include "cli/printer.h"

namespace raftkv::cli {
namespace {

bool Usage(const std::vector<std::string>& args, size_t min, size_t max,
           const char* form) {
  if (args.size() - 1 < min || args.size() - 1 > max) {
    fprintf(stderr, "kvnode: usage: %s\n", form);
    return false;
  }
  return true;
}

}  // namespace

int ExitCodeFor(kv::Code code) {
  switch (code) {
    case kv::Code::kOk:
      return kExitOk;
    case kv::Code::kNotFound:
      return kExitNotFound;
    case kv::Code::kNotLeader:
    case kv::Code::kUnavailable:
      return kExitUnavailable;
    case kv::Code::kInvalidArgument:
      return kExitInvalid;
    case kv::Code::kCompareFailed:
      return kExitCompareFailed;
    case kv::Code::kFailedPrecondition:
      return kExitRefused;
    case kv::Code::kPermissionDenied:
      return kExitPermissionDenied;
    case kv::Code::kSessionExpired:
      return kExitError;
  }
  return kExitError;
}

int ReportError(const absl::Status& status) {
  fflush(stdout);
  fprintf(stderr, "kvnode: %s\n", std::string(status.message()).c_str());
  // The cluster's answer decides; the rest are the client's own errors.
  if (std::optional<kv::Code> code = kv::CodeOf(status))
    return ExitCodeFor(*code);
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return kExitUnavailable;
    case absl::StatusCode::kInvalidArgument:
      return kExitInvalid;
    case absl::StatusCode::kUnauthenticated:
      return kExitTlsRefused;
    default:
      return kExitError;
  }
}

// At most this much is read from standard input for `put KEY` (the cluster
// refuses values over its own limit, 1 MiB by default).
constexpr size_t kMaxStdinValue = 16 << 20;

absl::StatusOr<std::string> ReadValueFromStdin() {
  if (isatty(STDIN_FILENO))
    fputs(
        "kvnode: reading the value from standard input (end it with Ctrl-D)\n",
        stderr);
  std::string value;
  char buffer[65536];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), stdin)) > 0) {
    value.append(buffer, n);
    if (value.size() > kMaxStdinValue) {
      return absl::InvalidArgumentError(
          "the value on standard input exceeds 16 MiB; the cluster's limit "
          "is --max-value-bytes (1 MiB by default)");
    }
  }
  return value;
}

int RunGet(std::vector<std::string>& args, const CommandContext& ctx) {
  if (!Usage(args, 1, 1, "kvnode get KEY")) return kExitUsage;
  auto value = ctx.client->Get(args[1]);
  if (!value.ok()) return ReportError(value.status());
  Report report;
  report.record.Bytes("key", args[1]).Bool("found", value->has_value());
  if (!value->has_value()) {
    if (ctx.output == Output::kJson) {
      Print(report, ctx.output);
    } else {
      fprintf(stderr, "kvnode: key \"%s\" not found\n", args[1].c_str());
    }
    return kExitNotFound;
  }
  report.record.JsonOnly().Bytes("value", **value);
  report.simple = **value + "\n";
  Print(report, ctx.output);
  return kExitOk;
}

int RunPut(std::vector<std::string>& args, const CommandContext& ctx) {
  // Without a value (outside the shell), the value is standard input, as
  // with `etcdctl put`: one argument is capped at 128 KiB by the kernel.
  if (args.size() == 2 && !ctx.in_shell) {
    absl::StatusOr<std::string> value = ReadValueFromStdin();
    if (!value.ok()) return ReportError(value.status());
    if (value->empty()) {
      // Most likely a forgotten value, not an empty one (that is: put KEY "").
      fputs(
          "kvnode: usage: kvnode put KEY VALUE; without VALUE the value is "
          "read from standard input, which was empty (put KEY \"\" writes an "
          "empty value)\n",
          stderr);
      return kExitUsage;
    }
    args.push_back(*value);
  }
  if (!Usage(args, 2, 2,
             ctx.in_shell ? "kvnode put KEY VALUE"
                          : "kvnode put KEY [VALUE] (no VALUE: standard "
                            "input)"))
    return kExitUsage;
  absl::Status status = ctx.client->Put(args[1], args[2]);
  if (!status.ok()) return ReportError(status);
  Report report;
  report.record.Bytes("key", args[1]).Bool("ok", true);
  report.simple = "OK\n";
  Print(report, ctx.output);
  return kExitOk;
}

int RunDelete(std::vector<std::string>& args, const CommandContext& ctx) {
  if (!Usage(args, 1, 1, "kvnode del KEY")) return kExitUsage;
  auto deleted = ctx.client->Delete(args[1]);
  if (!deleted.ok()) return ReportError(deleted.status());
  Report report;
  report.record.Bytes("key", args[1]).Bool("deleted", *deleted);
  report.simple = "OK\n";
  if (*deleted || ctx.output == Output::kJson) {
    Print(report, ctx.output);
  } else {
    fprintf(stderr, "kvnode: key \"%s\" not found\n", args[1].c_str());
  }
  return *deleted ? kExitOk : kExitNotFound;
}

int RunCas(std::vector<std::string>& args, const CommandContext& ctx) {
  if (ctx.expect_absent
          ? !Usage(args, 2, 2, "kvnode cas --expect-absent KEY NEW")
          : !Usage(args, 3, 3, "kvnode cas KEY EXPECTED NEW")) {
    return kExitUsage;
  }
  std::optional<std::string> expected;
  if (!ctx.expect_absent) expected = args[2];
  auto cas = ctx.client->CompareAndSwap(args[1], expected, args.back());
  if (!cas.ok()) return ReportError(cas.status());
  const std::optional<std::string> current =
      cas->swapped ? std::optional<std::string>(args.back()) : cas->current;
  Report report;
  report.record.Bytes("key", args[1]).Bool("swapped", cas->swapped);
  if (current) {
    report.record.Bytes("current", *current);
  } else {
    report.record.Null("current");
  }
  report.simple = "OK\n";
  if (cas->swapped || ctx.output == Output::kJson) {
    Print(report, ctx.output);
  } else {
    fprintf(stderr, "kvnode: compare failed: \"%s\" is %s\n", args[1].c_str(),
            cas->current ? absl::StrCat("\"", *cas->current, "\"").c_str()
                         : "absent");
  }
  return cas->swapped ? kExitOk : kExitCompareFailed;
}

int RunList(std::vector<std::string>& args, const CommandContext& ctx) {
  if (!Usage(args, 0, 1, "kvnode list [PREFIX] [--limit=N] [--keys-only]"))
    return kExitUsage;
  auto list = ctx.client->List(args.size() > 1 ? args[1] : "", "", ctx.limit,
                               ctx.keys_only);
  if (!list.ok()) return ReportError(list.status());
  Report report;
  std::vector<Record> items;
  report.simple = "";
  for (const auto& [k, v] : list->items) {
    Record item;
    item.Bytes("key", k);
    if (!ctx.keys_only) item.Bytes("value", v);
    items.push_back(std::move(item));
    absl::StrAppend(&*report.simple, k, ctx.keys_only ? "" : "=",
                    ctx.keys_only ? "" : v, "\n");
  }
  report.record.List("items", std::move(items))
      .Bool("more", list->more)
      .JsonOnly();
  Print(report, ctx.output);
  if (list->more && ctx.output != Output::kJson) {
    fprintf(stderr,
            "kvnode: more keys follow \"%s\"; raise --limit to see them\n",
            list->items.back().first.c_str());
  }
  return kExitOk;
}

int RunStatus(std::vector<std::string>& args, const CommandContext& ctx) {
  kv::Client& client = *ctx.client;
  if (!Usage(args, 0, 0, "kvnode status")) return kExitUsage;
  size_t unreachable = 0;
  std::vector<Record> nodes;
  std::vector<absl::StatusOr<kv::NodeInfo>> infos =
      client.StatusAll(ctx.digest);
  for (size_t i = 0; i < infos.size(); ++i) {
    const std::string& address = client.addresses()[i];
    const absl::StatusOr<kv::NodeInfo>& info = infos[i];
    Record node;
    node.Bytes("address", address);
    node.Bool("reachable", info.ok());
    if (!info.ok()) {
      ++unreachable;
      nodes.push_back(std::move(node));
      continue;
    }
    node.Number("id", info->id)
        .Bytes("role", info->role)
        .Number("term", info->term)
        .Number("leader", info->leader)
        .Number("commit", info->commit)
        .Number("applied", info->applied);
    if (ctx.digest) node.Hex("digest", info->digest);
    nodes.push_back(std::move(node));
  }
  Report report;
  report.record.List("nodes", std::move(nodes));
  if (unreachable == client.addresses().size()) {
    if (ctx.output == Output::kJson) Print(report, ctx.output);
    fflush(stdout);
    fprintf(stderr, "kvnode: no node of the cluster is reachable\n");
    return kExitUnavailable;
  }
  // The members as the leader sees them: voters, learners, and how far
  // each follower is behind. Not asked when no node knows a leader: nothing
  // could answer before the timeout.
  bool leader_known = false;
  for (const auto& info : infos) leader_known |= info.ok() && info->leader != 0;
  absl::StatusOr<kv::Membership> membership =
      leader_known ? client.Members()
                   : absl::UnavailableError(
                         "no node knows a leader (the leader lists them)");
  if (membership.ok()) {
    report.record.List("members", MemberRecords(*membership));
  } else {
    report.record.Null("members");
  }
  Print(report, ctx.output);
  if (!membership.ok() && ctx.output != Output::kJson) {
    printf("\nmembers: %s\n",
           std::string(membership.status().message()).c_str());
  }
  return kExitOk;
}

int RunClientCommand(const std::vector<std::string>& words,
                     const CommandContext& ctx) {
  std::vector<std::string> args = words;
  if (args[0] == "member" || args[0] == "move-leader")
    return RunMemberCommand(args, ctx);
  for (const CommandSpec& spec : Commands()) {
    if (spec.run != nullptr && args[0] == spec.name) return spec.run(args, ctx);
  }
  fprintf(stderr,
          "kvnode: unknown command \"%s\"; run kvnode --help for the list\n",
          args[0].c_str());
  return kExitUsage;
}

}  // namespace raftkv::cli
