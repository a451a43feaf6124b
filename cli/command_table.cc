#include "cli/command_table.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace raftkv::cli {
namespace {

// Where the help text starts in the usage: "  " + the synopsis, padded.
constexpr size_t kHelpColumn = 21;

}  // namespace

const std::vector<CommandSpec>& Commands() {
  static const std::vector<CommandSpec> commands = {
      {"put", "put KEY [VALUE]",
       "write a key (no VALUE: the value is standard input)", RunPut},
      {"get", "get KEY",
       "read a key (linearizable; --consistency=serializable reads locally)",
       RunGet},
      {"del", "del KEY", "delete a key (also: delete)", RunDelete},
      {"delete", "", "", RunDelete},  // an alias, not listed
      {"list", "list [PREFIX]", "list keys in order (--limit=N, --keys-only)",
       RunList},
      {"cas", "cas KEY OLD NEW",
       "set KEY to NEW only if it holds OLD (--expect-absent: if it is "
       "absent)",
       RunCas},
      {"status", "status",
       "every node's id, role, term, leader and indexes, then the members\n"
       "(--digest: and a checksum of each node's state at its applied\n"
       " index; nodes at the same index must show the same one)",
       RunStatus},
      {"member", "member list",
       "voters and learners, each one's match index and lag (leader's view)",
       nullptr},
      {"member", "member add-learner ID HOST:PORT",
       "add a node that gets the log but does not vote yet", nullptr},
      {"member", "member promote ID", "make a caught-up learner a voter",
       nullptr},
      {"member", "member add ID HOST:PORT", "add a voter directly", nullptr},
      {"member", "member remove ID",
       "remove a voter or learner (the leader too: it hands over first)",
       nullptr},
      {"move-leader", "move-leader ID", "hand leadership to voter ID", nullptr},
      {"snapshot", "snapshot save FILE",
       "a consistent backup from the leader (verified once written)", nullptr},
      {"snapshot", "snapshot status FILE",
       "check a backup: index, term, members, keys, checksum", nullptr},
      {"snapshot", "snapshot restore FILE --data-dir=NEW --node-id=N",
       "--cluster=ID=HOST:PORT,... --cluster-token=NEW\n"
       "seed one node of a new cluster from FILE (run it for every\n"
       "member, then start each with kvnode serve)",
       nullptr},
      {"shell", "shell",
       "an interactive prompt (line editing, history, Tab completion)\n"
       "(also reads commands from a pipe)",
       nullptr},
      {"bench", "bench",
       "load the cluster, report throughput and latency percentiles\n"
       "(--clients=16 --conns=min(clients,4) --duration=10s --ops=N\n"
       " --value-size=256 --keys=1000"
       " --read-ratio=0.0; --output=json prints one JSON object)",
       nullptr},
  };
  return commands;
}

std::vector<std::string> CommandNames() {
  std::vector<std::string> names;
  std::set<std::string> seen;
  for (const CommandSpec& spec : Commands()) {
    if (seen.insert(spec.name).second) names.push_back(spec.name);
  }
  return names;
}

namespace {

std::string Entry(const CommandSpec& spec) {
  std::vector<std::string> lines = absl::StrSplit(spec.help, '\n');
  const std::string indent(2 + kHelpColumn, ' ');
  std::string text = absl::StrCat("  ", spec.synopsis);
  if (std::string(spec.synopsis).size() < kHelpColumn) {
    text.append(kHelpColumn - std::string(spec.synopsis).size(), ' ');
  } else {
    absl::StrAppend(&text, "\n", indent);
  }
  absl::StrAppend(&text, lines[0], "\n");
  for (size_t i = 1; i < lines.size(); ++i)
    absl::StrAppend(&text, indent, lines[i], "\n");
  return text;
}

}  // namespace

std::string CommandsHelpText() {
  std::string text;
  for (const CommandSpec& spec : Commands()) {
    if (spec.synopsis[0] != '\0') text += Entry(spec);
  }
  return text;
}

std::string HelpFor(const std::string& name) {
  std::string text;
  for (const CommandSpec& spec : Commands()) {
    if (spec.synopsis[0] != '\0' && name == spec.name) text += Entry(spec);
  }
  return text;
}

}  // namespace raftkv::cli
