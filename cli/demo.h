// `kvnode demo`: a guided tour of a real 3-node cluster on this machine.
// Thread safety: runs on the main thread; owns the child processes it starts
// and stops them all (by PID) before returning, also on failure.
#ifndef RAFTKV_CLI_DEMO_H_
#define RAFTKV_CLI_DEMO_H_

#include <string>

namespace raftkv::cli {

// `self` is this binary's path, used to start the nodes. Returns an exit code.
// With `tls`: certificates made by the openssl command line, clients on
// ports of their own, mutual TLS everywhere.
int RunDemo(const std::string& self, bool tls = false);

}  // namespace raftkv::cli

#endif  // RAFTKV_CLI_DEMO_H_
