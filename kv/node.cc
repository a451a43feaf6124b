#include "kv/node.h"

#include <kj/async-unix.h>
#include <signal.h>

#include <tuple>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "kv/node_http.h"
#include "kv/node_runtime.h"
#include "raft/status_macros.h"

namespace raftkv::kv {
namespace {

absl::StatusOr<kj::Own<kj::ConnectionReceiver>> Listen(
    kj::AsyncIoContext& io, const char* flag, const std::string& address) {
  kj::Own<kj::ConnectionReceiver> receiver;
  KJ_IF_MAYBE (exception, kj::runCatchingExceptions([&] {
                 receiver = io.provider->getNetwork()
                                .parseAddress(address)
                                .wait(io.waitScope)
                                ->listen();
               })) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", flag, "=", address, ": ",
                     exception->getDescription().cStr(),
                     "; is another process using that port?"));
  }
  return receiver;
}

// SIGHUP: new certificates and permissions for new connections. Never
// resolves.
kj::Promise<void> ReloadOnHangup(NodeRuntime& runtime,
                                 kj::UnixEventPort& port) {
  return port.onSignal(SIGHUP).then([&runtime, &port](siginfo_t) {
    runtime.ReloadSecurity();
    return ReloadOnHangup(runtime, port);
  });
}

}  // namespace

absl::Status RunNode(const NodeOptions& options) {
  // Before this thread's event loop: joining asks the cluster through a
  // client, which runs its own.
  ASSIGN_OR_RETURN(NodeIdentity identity, ResolveIdentity(options));
  kj::UnixEventPort::captureSignal(SIGTERM);
  kj::UnixEventPort::captureSignal(SIGINT);
  kj::UnixEventPort::captureSignal(SIGHUP);
  kj::AsyncIoContext io = kj::setupAsyncIo();
  NodeRuntime runtime(options, identity, io);
  RETURN_IF_ERROR(runtime.Open());

  std::vector<Listener> listeners;
  const bool split = !options.client_bind.empty();
  for (const auto& [flag, address, face] :
       {std::tuple{"--bind", options.bind, split ? Face::kPeers : Face::kBoth},
        std::tuple{"--client-bind", options.client_bind, Face::kClients}}) {
    if (address.empty()) continue;
    absl::StatusOr<kj::Own<kj::ConnectionReceiver>> receiver =
        Listen(io, flag, address);
    if (!receiver.ok()) return receiver.status();
    listeners.push_back(Listener{kj::mv(*receiver), face});
  }
  runtime.Log(absl::StrCat(
      "node ", options.id, ": serving ", split ? "peers" : "peers and clients",
      " on ", options.bind,
      split ? absl::StrCat(", clients on ", options.client_bind) : "",
      ", data in ", options.data_dir));
  kj::Promise<void> stop =
      io.unixEventPort.onSignal(SIGTERM)
          .exclusiveJoin(io.unixEventPort.onSignal(SIGINT))
          .ignoreResult()
          .exclusiveJoin(ReloadOnHangup(runtime, io.unixEventPort));
  if (!options.metrics_bind.empty()) {
    absl::StatusOr<kj::Own<kj::ConnectionReceiver>> http =
        Listen(io, "--metrics-bind", options.metrics_bind);
    if (!http.ok()) return http.status();
    runtime.Log(absl::StrCat("node ", options.id,
                             ": metrics, health on http://",
                             options.metrics_bind));
    // The HTTP server never resolves: it runs until the node stops.
    stop = stop.exclusiveJoin(
        ServeHttp(runtime, io.provider->getTimer(), kj::mv(*http)));
  }
  absl::Status served =
      runtime.Serve(kj::mv(listeners), kj::mv(stop)).wait(io.waitScope);
  if (!served.ok()) {
    return absl::DataLossError(absl::StrCat(
        "storage failed, node stopped to protect its data: ", served.message(),
        "; fix the disk (space, permissions) and restart the node"));
  }
  return absl::OkStatus();
}

}  // namespace raftkv::kv
