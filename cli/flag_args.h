// kvnode's command line before Abseil parses it: --node-id is accepted as well
// as --node_id, every flag name is checked against the known ones and every
// value against its flag's type, and --flagfile=PATH is expanded (one
// --flag=value per line, "#" comments, nested at most 4 deep), so that a
// mistake is a usage error with a one-line message instead of Abseil's.
//
// Thread safety: call once, from main, before absl::ParseCommandLine.
#ifndef RAFTKV_CLI_FLAG_ARGS_H_
#define RAFTKV_CLI_FLAG_ARGS_H_

#include <set>
#include <string>
#include <vector>

namespace raftkv::cli {

// Appends argv, normalized, to `out`; `known` holds the flag names (with
// underscores). False, after one line on stderr, on a usage error.
bool NormalizeFlags(int argc, char** argv, const std::set<std::string>& known,
                    std::vector<std::string>* out);

}  // namespace raftkv::cli

#endif  // RAFTKV_CLI_FLAG_ARGS_H_
