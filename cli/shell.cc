// kvnode shell: client commands one per line, from a terminal (line editing,
// history kept across runs in ~/.kvnode_history, tab completion of commands,
// all by Debian's libedit) or from a pipe (plain lines, for scripts).
#include <editline/readline.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "cli/command_table.h"
#include "cli/commands.h"

namespace raftkv::cli {
namespace {

// What Tab completes: the command table's names and the shell's own words.
const std::vector<std::string>& Words() {
  static const std::vector<std::string> words = [] {
    std::vector<std::string> all = CommandNames();
    for (const char* own : {"help", "quit", "exit"}) all.push_back(own);
    return all;
  }();
  return words;
}

// libedit asks for the matches of `text` one by one (state 0 starts over).
char* NextCommand(const char* text, int state) {
  static size_t next = 0;
  if (state == 0) next = 0;
  const size_t length = strlen(text);
  while (next < Words().size()) {
    const std::string& word = Words()[next++];
    if (word.compare(0, length, text) == 0) return strdup(word.c_str());
  }
  return nullptr;
}

char** Complete(const char* text, int start, int) {
  rl_attempted_completion_over = 1;  // never fall back to file names
  if (start != 0) return nullptr;    // commands only, in the first word
  return rl_completion_matches(text, NextCommand);
}

// Lines from the terminal through libedit, or from a pipe as they are.
class LineReader {
 public:
  explicit LineReader(bool interactive) : interactive_(interactive) {
    if (!interactive_) return;
    const char* file = getenv("KVNODE_HISTORY");
    const char* home = getenv("HOME");
    if (file != nullptr) {
      history_ = file;
    } else if (home != nullptr) {
      history_ = std::string(home) + "/.kvnode_history";
    }
    rl_readline_name = "kvnode";
    rl_attempted_completion_function = Complete;
    using_history();
    stifle_history(1000);
    if (!history_.empty()) read_history(history_.c_str());
  }
  ~LineReader() {
    if (interactive_ && !history_.empty()) write_history(history_.c_str());
  }

  std::optional<std::string> Next() {
    if (!interactive_) {
      std::string line;
      if (!std::getline(std::cin, line)) return std::nullopt;
      return line;
    }
    char* raw = readline("kvnode> ");
    if (raw == nullptr) return std::nullopt;
    std::string line = raw;
    free(raw);
    if (line.find_first_not_of(' ') != std::string::npos)
      add_history(line.c_str());
    return line;
  }

 private:
  const bool interactive_;
  std::string history_;
};

}  // namespace

int RunShell(const CommandContext& context) {
  const bool interactive = isatty(STDIN_FILENO);
  if (interactive) {
    printf(
        "raftkv shell: get KEY, put KEY VALUE, delete KEY, list [PREFIX], cas "
        "KEY OLD NEW, status, help, quit (Tab completes, Up recalls)\n");
  }
  LineReader reader(interactive);
  int last = kExitOk;
  while (std::optional<std::string> next = reader.Next()) {
    const std::string& line = *next;
    std::vector<std::string> args =
        absl::StrSplit(line, ' ', absl::SkipWhitespace());
    if (args.empty() || args[0][0] == '#') continue;
    if (args[0] == "quit" || args[0] == "exit") break;
    if (args[0] == "help") {
      printf(
          "  get KEY            read a key (linearizable unless "
          "--consistency=serializable)\n"
          "  put KEY VALUE      write a key\n"
          "  delete KEY         remove a key (also: del)\n"
          "  list [PREFIX]      list keys, up to --limit\n"
          "  cas KEY OLD NEW    set KEY to NEW if it holds OLD\n"
          "  status             every node's role, term and indexes\n"
          "  member list        the members, as the leader sees them\n"
          "  quit               leave the shell\n");
      continue;
    }
    if (args[0] == "put" && args.size() > 3) {
      // Everything after the key is the value, spaces included.
      const size_t key_end = line.find(args[1]) + args[1].size();
      const size_t value_start = line.find_first_not_of(' ', key_end);
      args.resize(2);
      args.push_back(line.substr(value_start));
    }
    CommandContext in_shell = context;
    in_shell.in_shell = true;
    last = RunClientCommand(args, in_shell);
    fflush(stdout);
  }
  return interactive ? kExitOk : last;
}

}  // namespace raftkv::cli
