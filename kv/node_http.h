// The HTTP face of a kvnode for operators and monitoring, on its own
// listener (--metrics-bind), served by KJ's HTTP server on the node's loop:
//   GET /metrics  the Prometheus text format (kv/metrics.h);
//   GET /health   200 {"health":true} when this node has a leader it heard
//                 from within the election timeout (or is that leader) and its
//                 storage works; else 503 with {"health":false,"reason":...};
//   GET /ready    200 once the node has applied everything that was committed
//                 when it started; else 503 with how far it still has to go.
// Anything else is 404; a method other than GET or HEAD is 405.
//
// Thread safety: loop thread only.
#ifndef RAFTKV_KV_NODE_HTTP_H_
#define RAFTKV_KV_NODE_HTTP_H_

#include <kj/async-io.h>

namespace raftkv::kv {

class NodeRuntime;

// Serves HTTP on `listener` until the promise is dropped; never fails (a
// broken connection ends only that connection).
kj::Promise<void> ServeHttp(NodeRuntime& runtime, kj::Timer& timer,
                            kj::Own<kj::ConnectionReceiver> listener);

}  // namespace raftkv::kv

#endif  // RAFTKV_KV_NODE_HTTP_H_
