// The client commands of kvnode as one table: name, synopsis, help and (for
// the commands that take a connected client) the handler. The usage text,
// `kvnode help COMMAND`, the dispatcher's list of known commands and the
// shell's Tab completion all come from it, so they cannot disagree.
//
// Thread safety: constant data and pure functions.
#ifndef RAFTKV_CLI_COMMAND_TABLE_H_
#define RAFTKV_CLI_COMMAND_TABLE_H_

#include <string>
#include <vector>

#include "cli/commands.h"

namespace raftkv::cli {

struct CommandSpec {
  const char* name;      // the first word
  const char* synopsis;  // "put KEY [VALUE]"
  const char* help;      // one line; '\n' starts a continuation line
  // For the commands RunClientCommand runs; nullptr for those kvnode.cc
  // runs itself (bench, shell, snapshot) and for member/move-leader, which
  // member_commands.cc runs.
  int (*run)(std::vector<std::string>& args, const CommandContext& ctx);
};

const std::vector<CommandSpec>& Commands();
// The names, each once, in table order.
std::vector<std::string> CommandNames();
// The "Commands:" section of the usage text, aligned.
std::string CommandsHelpText();
// The help lines of every entry named `name` ("" if none).
std::string HelpFor(const std::string& name);

}  // namespace raftkv::cli

#endif  // RAFTKV_CLI_COMMAND_TABLE_H_
