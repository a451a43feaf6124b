#include "cli/flag_args.h"

#include <cstdio>
#include <fstream>

#include "absl/flags/reflection.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace raftkv::cli {
namespace {

// Accepts --node-id as well as --node_id, and checks names and values before
// Abseil does, so that a mistake is a usage error (exit 2) with a one-line
// message.
bool NormalizeFlag(const std::string& arg_in, int depth,
                   const std::set<std::string>& known,
                   std::vector<std::string>* out);

// A --flagfile holds one flag per line ("#" starts a comment); its flags are
// checked and normalized like those on the command line, dashes included.
bool ExpandFlagfile(const std::string& path, int depth,
                    const std::set<std::string>& known,
                    std::vector<std::string>* out) {
  if (depth > 4) {
    fprintf(stderr, "kvnode: --flagfile nesting is deeper than 4 at %s\n",
            path.c_str());
    return false;
  }
  std::ifstream in(path);
  if (!in.good()) {
    fprintf(stderr, "kvnode: cannot read --flagfile=%s\n", path.c_str());
    return false;
  }
  std::string line;
  while (std::getline(in, line)) {
    line = std::string(absl::StripAsciiWhitespace(line));
    if (line.empty() || line[0] == '#') continue;
    if (!absl::StartsWith(line, "--")) {
      fprintf(stderr,
              "kvnode: %s: expected one --flag=value per line, got \"%s\"\n",
              path.c_str(), line.c_str());
      return false;
    }
    if (!NormalizeFlag(line, depth + 1, known, out)) return false;
  }
  return true;
}

bool NormalizeFlag(const std::string& arg_in, int depth,
                   const std::set<std::string>& known,
                   std::vector<std::string>* out) {
  std::string arg = arg_in;
  if (absl::StartsWith(arg, "--") && arg.size() > 2) {
    size_t eq = arg.find('=');
    const std::string given =
        arg.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
    std::string name = given;
    for (char& c : name) {
      if (c == '-') c = '_';
    }
    const std::string bare =
        absl::StartsWith(name, "no") && known.count(name.substr(2))
            ? name.substr(2)
            : name;
    if (known.count(bare) == 0) {
      fprintf(stderr,
              "kvnode: unknown flag --%s; run kvnode --help for the list\n",
              given.c_str());
      return false;
    }
    if (bare == "flagfile") {
      if (eq == std::string::npos) {
        fprintf(stderr,
                "kvnode: --flagfile needs a path: --flagfile=node1.flags\n");
        return false;
      }
      return ExpandFlagfile(arg.substr(eq + 1), depth, known, out);
    }
    if (eq != std::string::npos) {
      absl::CommandLineFlag* flag = absl::FindCommandLineFlag(bare);
      std::string error;
      if (flag != nullptr && !flag->ParseFrom(arg.substr(eq + 1), &error)) {
        fprintf(stderr, "kvnode: bad value for --%s: %s\n", bare.c_str(),
                error.c_str());
        return false;
      }
    }
    arg = "--" + name + (eq == std::string::npos ? "" : arg.substr(eq));
  }
  out->push_back(arg);
  return true;
}

}  // namespace

bool NormalizeFlags(int argc, char** argv, const std::set<std::string>& known,
                    std::vector<std::string>* out) {
  out->push_back(argv[0]);
  for (int i = 1; i < argc; ++i) {
    if (!NormalizeFlag(argv[i], 0, known, out)) return false;
  }
  return true;
}

}  // namespace raftkv::cli
