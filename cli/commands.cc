#include "cli/commands.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "cli/command_table.h"

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

static bool ValidUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    size_t extra = 0;
    uint32_t code = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      extra = 1;
      code = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
      code = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3;
      code = c & 0x07;
    } else {
      return false;
    }
    for (size_t k = 1; k <= extra; ++k) {
      if (i + k >= s.size()) return false;
      const unsigned char next = static_cast<unsigned char>(s[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code = (code << 6) | (next & 0x3f);
    }
    // Overlong forms, surrogates and code points past U+10FFFF.
    if ((extra == 1 && code < 0x80) || (extra == 2 && code < 0x800) ||
        (extra == 3 && code < 0x10000) || code > 0x10ffff ||
        (code >= 0xd800 && code <= 0xdfff))
      return false;
    i += extra + 1;
  }
  return true;
}

std::string JsonField(const std::string& name, const std::string& bytes) {
  if (ValidUtf8(bytes))
    return absl::StrCat("\"", name, "\":", JsonString(bytes));
  return absl::StrCat("\"", name, "_base64\":\"", absl::Base64Escape(bytes),
                      "\"");
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

int ReportError(const absl::Status& status) {
  fflush(stdout);
  fprintf(stderr, "kvnode: %s\n", std::string(status.message()).c_str());
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return kExitUnavailable;
    case absl::StatusCode::kInvalidArgument:
      return kExitInvalid;
    case absl::StatusCode::kFailedPrecondition:
      return kExitRefused;
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
  kv::Client& client = *ctx.client;

  if (!Usage(args, 1, 1, "kvnode get KEY")) return kExitUsage;
  auto value = client.Get(args[1]);
  if (!value.ok()) return ReportError(value.status());
  if (!value->has_value()) {
    if (ctx.output == Output::kJson) {
      printf("{%s,\"found\":false}\n", JsonField("key", args[1]).c_str());
    } else {
      fprintf(stderr, "kvnode: key \"%s\" not found\n", args[1].c_str());
    }
    return kExitNotFound;
  }
  if (ctx.output == Output::kJson) {
    printf("{%s,\"found\":true,%s}\n", JsonField("key", args[1]).c_str(),
           JsonField("value", **value).c_str());
  } else if (ctx.output == Output::kTable) {
    printf("%-24s %s\n%-24s %s\n", "KEY", "VALUE", args[1].c_str(),
           (*value)->c_str());
  } else {
    fwrite((*value)->data(), 1, (*value)->size(), stdout);
    printf("\n");
  }
  return kExitOk;
}

int RunPut(std::vector<std::string>& args, const CommandContext& ctx) {
  kv::Client& client = *ctx.client;

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
  absl::Status status = client.Put(args[1], args[2]);
  if (!status.ok()) return ReportError(status);
  if (ctx.output == Output::kJson) {
    printf("{%s,\"ok\":true}\n", JsonField("key", args[1]).c_str());
  } else {
    printf("OK\n");
  }
  return kExitOk;
}

int RunDelete(std::vector<std::string>& args, const CommandContext& ctx) {
  kv::Client& client = *ctx.client;

  if (!Usage(args, 1, 1, "kvnode del KEY")) return kExitUsage;
  auto deleted = client.Delete(args[1]);
  if (!deleted.ok()) return ReportError(deleted.status());
  if (ctx.output == Output::kJson) {
    printf("{%s,\"deleted\":%s}\n", JsonField("key", args[1]).c_str(),
           *deleted ? "true" : "false");
  } else if (*deleted) {
    printf("OK\n");
  } else {
    fprintf(stderr, "kvnode: key \"%s\" not found\n", args[1].c_str());
  }
  return *deleted ? kExitOk : kExitNotFound;
}

int RunCas(std::vector<std::string>& args, const CommandContext& ctx) {
  kv::Client& client = *ctx.client;

  if (ctx.expect_absent
          ? !Usage(args, 2, 2, "kvnode cas --expect-absent KEY NEW")
          : !Usage(args, 3, 3, "kvnode cas KEY EXPECTED NEW")) {
    return kExitUsage;
  }
  std::optional<std::string> expected;
  if (!ctx.expect_absent) expected = args[2];
  auto cas = client.CompareAndSwap(args[1], expected, args.back());
  if (!cas.ok()) return ReportError(cas.status());
  if (ctx.output == Output::kJson) {
    const std::optional<std::string> current =
        cas->swapped ? std::optional<std::string>(args.back()) : cas->current;
    printf(
        "{%s,\"swapped\":%s,%s}\n", JsonField("key", args[1]).c_str(),
        cas->swapped ? "true" : "false",
        current ? JsonField("current", *current).c_str() : "\"current\":null");
  } else if (cas->swapped) {
    printf("OK\n");
  } else {
    fprintf(stderr, "kvnode: compare failed: \"%s\" is %s\n", args[1].c_str(),
            cas->current ? absl::StrCat("\"", *cas->current, "\"").c_str()
                         : "absent");
  }
  return cas->swapped ? kExitOk : kExitCompareFailed;
}

int RunList(std::vector<std::string>& args, const CommandContext& ctx) {
  kv::Client& client = *ctx.client;

  if (!Usage(args, 0, 1, "kvnode list [PREFIX] [--limit=N] [--keys-only]"))
    return kExitUsage;
  auto list =
      client.List(args.size() > 1 ? args[1] : "", "", ctx.limit, ctx.keys_only);
  if (!list.ok()) return ReportError(list.status());
  if (ctx.output == Output::kJson) {
    std::string items;
    for (const auto& [k, v] : list->items) {
      absl::StrAppend(
          &items, items.empty() ? "" : ",", "{", JsonField("key", k),
          ctx.keys_only ? "" : absl::StrCat(",", JsonField("value", v)), "}");
    }
    printf("{\"items\":[%s],\"more\":%s}\n", items.c_str(),
           list->more ? "true" : "false");
  } else {
    if (ctx.output == Output::kTable)
      printf("%-24s %s\n", "KEY", ctx.keys_only ? "" : "VALUE");
    for (const auto& [k, v] : list->items) {
      if (ctx.keys_only) {
        printf("%s\n", k.c_str());
      } else if (ctx.output == Output::kTable) {
        printf("%-24s %s\n", k.c_str(), v.c_str());
      } else {
        printf("%s=%s\n", k.c_str(), v.c_str());
      }
    }
    if (list->more) {
      fprintf(stderr,
              "kvnode: more keys follow \"%s\"; raise --limit to see them\n",
              list->items.back().first.c_str());
    }
  }
  return kExitOk;
}

int RunStatus(std::vector<std::string>& args, const CommandContext& ctx) {
  kv::Client& client = *ctx.client;

  if (!Usage(args, 0, 0, "kvnode status")) return kExitUsage;
  int unreachable = 0;
  if (ctx.output == Output::kTable || ctx.output == Output::kSimple) {
    printf("%-22s %-4s %-10s %-6s %-7s %-8s %-8s%s\n", "ADDRESS", "ID", "ROLE",
           "TERM", "LEADER", "COMMIT", "APPLIED", ctx.digest ? " DIGEST" : "");
  }
  std::string json;
  for (const std::string& address : client.addresses()) {
    auto info = client.Status(address, ctx.digest);
    if (!info.ok()) {
      ++unreachable;
      if (ctx.output == Output::kJson) {
        absl::StrAppend(&json, json.empty() ? "" : ",",
                        "{\"address\":", JsonString(address),
                        ",\"reachable\":false}");
      } else {
        printf("%-22s %s\n", address.c_str(), "unreachable");
      }
      continue;
    }
    if (ctx.output == Output::kJson) {
      absl::StrAppend(
          &json, json.empty() ? "" : ",", "{\"address\":", JsonString(address),
          ",\"reachable\":true,\"id\":", info->id,
          ",\"role\":", JsonString(info->role), ",\"term\":", info->term,
          ",\"leader\":", info->leader, ",\"commit\":", info->commit,
          ",\"applied\":", info->applied,
          ctx.digest
              ? absl::StrCat(",\"digest\":\"",
                             absl::Hex(info->digest, absl::kZeroPad16), "\"")
              : "",
          "}");
    } else {
      printf("%-22s %-4llu %-10s %-6llu %-7llu %-8llu %-8llu%s\n",
             address.c_str(), static_cast<unsigned long long>(info->id),
             info->role.c_str(), static_cast<unsigned long long>(info->term),
             static_cast<unsigned long long>(info->leader),
             static_cast<unsigned long long>(info->commit),
             static_cast<unsigned long long>(info->applied),
             ctx.digest
                 ? absl::StrCat(" ", absl::Hex(info->digest, absl::kZeroPad16))
                       .c_str()
                 : "");
    }
  }
  if (unreachable == static_cast<int>(client.addresses().size())) {
    if (ctx.output == Output::kJson) printf("{\"nodes\":[%s]}\n", json.c_str());
    fflush(stdout);
    fprintf(stderr, "kvnode: no node of the cluster is reachable\n");
    return kExitUnavailable;
  }
  // The members as the leader sees them: voters, learners, and how far
  // each follower is behind.
  absl::StatusOr<kv::Membership> membership = client.Members();
  if (ctx.output == Output::kJson) {
    std::string members = "null";
    if (membership.ok()) {
      members.clear();
      for (const kv::MemberInfo& m : membership->members) {
        absl::StrAppend(&members, members.empty() ? "[" : ",", "{\"id\":", m.id,
                        ",\"address\":", JsonString(m.address),
                        ",\"suffrage\":", JsonString(m.suffrage),
                        m.has_progress ? absl::StrCat(",\"match\":", m.match,
                                                      ",\"lag\":", m.lag)
                                       : "",
                        "}");
      }
      members += members.empty() ? "[]" : "]";
    }
    printf("{\"nodes\":[%s],\"members\":%s}\n", json.c_str(), members.c_str());
  } else if (membership.ok()) {
    printf("\n");
    PrintMembership(*membership, ctx.output);
  } else {
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
