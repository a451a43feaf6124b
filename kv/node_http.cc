#include "kv/node_http.h"

#include <kj/compat/http.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "kv/log.h"
#include "kv/node_runtime.h"

namespace raftkv::kv {
namespace {

class NodeHttp final : public kj::HttpService {
 public:
  NodeHttp(NodeRuntime& runtime, const kj::HttpHeaderTable& table)
      : runtime_(runtime), table_(table) {}

  kj::Promise<void> request(kj::HttpMethod method, kj::StringPtr url,
                            const kj::HttpHeaders&, kj::AsyncInputStream&,
                            Response& response) override {
    std::string path(url.cStr());
    path = path.substr(0, path.find('?'));
    if (method != kj::HttpMethod::GET && method != kj::HttpMethod::HEAD) {
      return Send(response, 405, "Method Not Allowed", "text/plain",
                  "only GET and HEAD\n", method);
    }
    if (path == "/metrics") {
      return Send(response, 200, "OK", "text/plain; version=0.0.4",
                  runtime_.RenderMetrics(), method);
    }
    if (path == "/health")
      return Verdict(response, "health", runtime_.HealthProblem(), method);
    if (path == "/ready")
      return Verdict(response, "ready", runtime_.ReadyProblem(), method);
    return Send(response, 404, "Not Found", "text/plain",
                "not found: try /metrics, /health or /ready\n", method);
  }

 private:
  // 200 {"NAME":true} when `problem` is empty, else 503 with the reason.
  kj::Promise<void> Verdict(Response& response, const char* name,
                            const std::string& problem, kj::HttpMethod method) {
    if (problem.empty()) {
      return Send(response, 200, "OK", "application/json",
                  absl::StrCat("{\"", name, "\":true}\n"), method);
    }
    return Send(response, 503, "Service Unavailable", "application/json",
                absl::StrCat("{\"", name, "\":false,\"reason\":\"",
                             JsonEscaped(problem), "\"}\n"),
                method);
  }

  kj::Promise<void> Send(Response& response, unsigned status,
                         kj::StringPtr text, kj::StringPtr type,
                         std::string body, kj::HttpMethod method) {
    kj::HttpHeaders headers(table_);
    headers.set(kj::HttpHeaderId::CONTENT_TYPE, type);
    auto stream = response.send(status, text, headers, body.size());
    if (method == kj::HttpMethod::HEAD) return kj::READY_NOW;
    auto data = kj::heap<std::string>(std::move(body));
    auto written = stream->write(data->data(), data->size());
    return written.attach(kj::mv(stream), kj::mv(data));
  }

  NodeRuntime& runtime_;
  const kj::HttpHeaderTable& table_;
};

}  // namespace

kj::Promise<void> ServeHttp(NodeRuntime& runtime, kj::Timer& timer,
                            kj::Own<kj::ConnectionReceiver> listener) {
  auto table = kj::heap<kj::HttpHeaderTable>();
  auto service = kj::heap<NodeHttp>(runtime, *table);
  auto server = kj::heap<kj::HttpServer>(timer, *table, *service);
  auto listening = server->listenHttp(*listener);
  return listening
      .attach(kj::mv(server), kj::mv(service), kj::mv(table), kj::mv(listener))
      .catch_(
          [](kj::Exception&&) -> kj::Promise<void> { return kj::NEVER_DONE; });
}

}  // namespace raftkv::kv
