// etcd_load: the same closed-loop load as `kvnode bench`, against etcd, for
// side-by-side runs.
//
// Drives etcd 3.4 through its v3 JSON gateway (the HTTP face of the gRPC KV API
// that etcd serves on the client port): POST /v3/kv/put and /v3/kv/range, over
// keep-alive HTTP/1.1, one connection per client, sent to the current leader
// (found with /v3/maintenance/status) so that neither system pays a forwarding
// hop. Reads are linearizable unless --consistency=serializable. Output matches
// kvnode bench.
//
//   etcd_load --endpoints=127.0.0.1:2379,127.0.0.1:22379 --clients=64
//   --duration=10s

#include <kj/async-io.h>
#include <kj/compat/http.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "cli/bench.h"

ABSL_FLAG(std::string, endpoints, "127.0.0.1:2379",
          "etcd client endpoints, HOST:PORT,...");
ABSL_FLAG(int, clients, 16, "concurrent clients, one request in flight each");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "stop after this long");
ABSL_FLAG(uint64_t, ops, 0,
          "stop after this many operations (0: duration only)");
ABSL_FLAG(uint64_t, value_size, 256, "bytes per value");
ABSL_FLAG(uint64_t, keys, 1000, "size of the key space");
ABSL_FLAG(double, read_ratio, 0.0, "fraction of operations that are gets");
ABSL_FLAG(std::string, consistency, "linearizable",
          "linearizable or serializable reads");
ABSL_FLAG(std::string, output, "simple", "simple or json");

namespace raftkv::benchmarks {
namespace {

class EtcdTarget final : public cli::BenchTarget {
 public:
  ~EtcdTarget() noexcept override {}
  EtcdTarget(const std::string& endpoint, bool linearizable)
      : io_(kj::setupAsyncIo()),
        endpoint_(endpoint),
        linearizable_(linearizable),
        address_(io_.provider->getNetwork().parseAddress(endpoint).wait(
            io_.waitScope)),
        client_(
            kj::newHttpClient(io_.provider->getTimer(), table_, *address_)) {}

  absl::Status Put(const std::string& key, const std::string& value) override {
    return Post(
        "/v3/kv/put",
        absl::StrCat("{\"key\":\"", absl::Base64Escape(key), "\",\"value\":\"",
                     absl::Base64Escape(value), "\"}"),
        nullptr);
  }
  absl::Status Get(const std::string& key) override {
    return Post(
        "/v3/kv/range",
        absl::StrCat("{\"key\":\"", absl::Base64Escape(key), "\"",
                     linearizable_ ? "" : ",\"serializable\":true", "}"),
        nullptr);
  }

  absl::Status Post(const std::string& path, const std::string& body,
                    std::string* response) {
    absl::Status status;
    KJ_IF_MAYBE (e, kj::runCatchingExceptions([&] {
                   kj::HttpHeaders headers(table_);
                   headers.set(kj::HttpHeaderId::CONTENT_TYPE,
                               "application/json");
                   headers.set(kj::HttpHeaderId::HOST, endpoint_);
                   const std::string url =
                       absl::StrCat("http://", endpoint_, path);
                   auto request = client_->request(kj::HttpMethod::POST, url,
                                                   headers, body.size());
                   request.body->write(body.data(), body.size())
                       .wait(io_.waitScope);
                   request.body = nullptr;
                   auto reply = request.response.wait(io_.waitScope);
                   kj::String text =
                       reply.body->readAllText().wait(io_.waitScope);
                   if (reply.statusCode != 200) {
                     status = absl::UnavailableError(
                         absl::StrCat("etcd answered ", reply.statusCode, ": ",
                                      text.cStr()));
                   } else if (response != nullptr) {
                     *response = text.cStr();
                   }
                 })) {
      return absl::UnavailableError(e->getDescription().cStr());
    }
    return status;
  }

 private:
  kj::AsyncIoContext io_;
  kj::HttpHeaderTable table_;
  std::string endpoint_;
  bool linearizable_;
  kj::Own<kj::NetworkAddress> address_;
  kj::Own<kj::HttpClient> client_;
};

std::string JsonField(const std::string& json, const std::string& name) {
  const std::string needle = absl::StrCat("\"", name, "\":\"");
  size_t at = json.find(needle);
  if (at == std::string::npos) return "";
  at += needle.size();
  return json.substr(at, json.find('"', at) - at);
}

// The endpoint whose member is the leader, or the first one.
std::string FindLeader(const std::vector<std::string>& endpoints) {
  for (const std::string& endpoint : endpoints) {
    EtcdTarget probe(endpoint, true);
    std::string status;
    if (!probe.Post("/v3/maintenance/status", "{}", &status).ok()) continue;
    if (!JsonField(status, "leader").empty() &&
        JsonField(status, "leader") == JsonField(status, "member_id")) {
      return endpoint;
    }
  }
  return endpoints.front();
}

}  // namespace
}  // namespace raftkv::benchmarks

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  std::vector<std::string> endpoints = absl::StrSplit(
      absl::GetFlag(FLAGS_endpoints), ',', absl::SkipWhitespace());
  if (endpoints.empty()) {
    fprintf(stderr, "etcd_load: --endpoints is empty\n");
    return 2;
  }
  const std::string leader = raftkv::benchmarks::FindLeader(endpoints);
  raftkv::cli::BenchOptions options;
  options.cluster = leader;
  options.clients = absl::GetFlag(FLAGS_clients);
  options.duration = absl::GetFlag(FLAGS_duration);
  options.ops = absl::GetFlag(FLAGS_ops);
  options.value_size = absl::GetFlag(FLAGS_value_size);
  options.keys = absl::GetFlag(FLAGS_keys);
  options.read_ratio = absl::GetFlag(FLAGS_read_ratio);
  options.linearizable = absl::GetFlag(FLAGS_consistency) != "serializable";
  // One keep-alive HTTP/1.1 connection per client, one request at a time.
  options.conns = options.clients;
  auto targets = raftkv::cli::OneRequestAtATime(
      [leader](bool linearizable)
          -> absl::StatusOr<std::unique_ptr<raftkv::cli::BenchTarget>> {
        return std::unique_ptr<raftkv::cli::BenchTarget>(
            new raftkv::benchmarks::EtcdTarget(leader, linearizable));
      });
  return raftkv::cli::RunBenchCommand(options, targets,
                                      absl::GetFlag(FLAGS_output) == "json"
                                          ? raftkv::cli::Output::kJson
                                          : raftkv::cli::Output::kSimple);
}
