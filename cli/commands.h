// The client side of the kvnode binary: one function per command, shared by the
// command line and the interactive shell, each printing its outcome and
// returning an exit code. Thread safety: call from one thread (the Client is
// single-threaded).
#ifndef RAFTKV_CLI_COMMANDS_H_
#define RAFTKV_CLI_COMMANDS_H_

#include <string>
#include <vector>

#include "cli/printer.h"
#include "kv/client.h"

namespace raftkv::cli {

// Documented exit codes (also in the usage text).
enum ExitCode : int {
  kExitOk = 0,
  kExitNotFound = 1,
  kExitUsage = 2,
  kExitUnavailable = 3,
  kExitInvalid = 4,
  kExitCompareFailed = 5,
  kExitError = 6,
  kExitStorageFailed = 7,  // serve: the disk failed; the node stopped
  kExitRefused = 8,    // refused in the cluster's present state; retry later
  kExitBadBackup = 9,  // a backup file that is damaged, truncated or missing
  kExitPermissionDenied = 10,  // the client's certificate does not grant it
  kExitTlsRefused = 11,        // TLS: a certificate was refused, either way
};

struct CommandContext {
  kv::Client* client = nullptr;
  Output output = Output::kSimple;
  uint32_t limit = 100;
  bool keys_only = false;
  bool digest = false;    // status: ask each node for its state digest
  bool in_shell = false;  // `put KEY` alone reads no value from stdin there
  bool expect_absent = false;
};

// Runs one client command: args[0] is the command name. Prints results to
// stdout and one-line errors to stderr.
int RunClientCommand(const std::vector<std::string>& args,
                     const CommandContext& context);

// The handlers of the command table (command_table.h); args[0] is the name.
int RunGet(std::vector<std::string>& args, const CommandContext& ctx);
int RunPut(std::vector<std::string>& args, const CommandContext& ctx);
int RunDelete(std::vector<std::string>& args, const CommandContext& ctx);
int RunCas(std::vector<std::string>& args, const CommandContext& ctx);
int RunList(std::vector<std::string>& args, const CommandContext& ctx);
int RunStatus(std::vector<std::string>& args, const CommandContext& ctx);

// kvnode member ... and move-leader (member_commands.cc).
int RunMemberCommand(const std::vector<std::string>& args,
                     const CommandContext& context);
// One record per member (id, address, suffrage, leader, match, lag).
std::vector<Record> MemberRecords(const kv::Membership& membership);

// The exit code of a cluster's answer (one table for every command).
int ExitCodeFor(kv::Code code);
// Maps a client error to its exit code and prints "kvnode: <message>".
int ReportError(const absl::Status& status);

// The interactive prompt: reads commands from stdin (a terminal or a pipe)
// until quit/EOF.
int RunShell(const CommandContext& context);

}  // namespace raftkv::cli

#endif  // RAFTKV_CLI_COMMANDS_H_
