#include "kv/node.h"

#include <kj/async-unix.h>
#include <signal.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "kv/node_http.h"
#include "kv/node_runtime.h"
#include "raft/status_macros.h"

namespace raftkv::kv {

absl::Status RunNode(const NodeOptions& options) {
  // Before this thread's event loop: joining asks the cluster through a
  // client, which runs its own.
  ASSIGN_OR_RETURN(NodeIdentity identity, ResolveIdentity(options));
  kj::UnixEventPort::captureSignal(SIGTERM);
  kj::UnixEventPort::captureSignal(SIGINT);
  kj::AsyncIoContext io = kj::setupAsyncIo();
  NodeRuntime runtime(options, identity, io);
  RETURN_IF_ERROR(runtime.Open());

  kj::Own<kj::ConnectionReceiver> listener;
  KJ_IF_MAYBE (exception, kj::runCatchingExceptions([&] {
                 auto address = io.provider->getNetwork()
                                    .parseAddress(options.bind)
                                    .wait(io.waitScope);
                 listener = address->listen();
               })) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.bind, ": ",
                     exception->getDescription().cStr(),
                     "; is another process using that port?"));
  }
  runtime.Log(absl::StrCat("node ", options.id, ": serving on ", options.bind,
                           ", data in ", options.data_dir));
  kj::Promise<void> stop = io.unixEventPort.onSignal(SIGTERM)
                               .exclusiveJoin(io.unixEventPort.onSignal(SIGINT))
                               .ignoreResult();
  if (!options.metrics_bind.empty()) {
    kj::Own<kj::ConnectionReceiver> http;
    KJ_IF_MAYBE (exception, kj::runCatchingExceptions([&] {
                   http = io.provider->getNetwork()
                              .parseAddress(options.metrics_bind)
                              .wait(io.waitScope)
                              ->listen();
                 })) {
      return absl::UnavailableError(
          absl::StrCat("cannot listen on --metrics-bind=", options.metrics_bind,
                       ": ", exception->getDescription().cStr(),
                       "; is another process using that port?"));
    }
    runtime.Log(absl::StrCat("node ", options.id,
                             ": metrics, health on http://",
                             options.metrics_bind));
    // The HTTP server never resolves: it runs until the node stops.
    stop = stop.exclusiveJoin(
        ServeHttp(runtime, io.provider->getTimer(), kj::mv(http)));
  }
  absl::Status served =
      runtime.Serve(kj::mv(listener), kj::mv(stop)).wait(io.waitScope);
  if (!served.ok()) {
    return absl::DataLossError(absl::StrCat(
        "storage failed, node stopped to protect its data: ", served.message(),
        "; fix the disk (space, permissions) and restart the node"));
  }
  return absl::OkStatus();
}

}  // namespace raftkv::kv
