// NodeRuntime, listeners: accepting connections on each face (peers,
// clients, or both), the limits each face reads under, connection caps and
// idle timeouts, and TLS (handshake, the peer's identity, reloading the
// certificates on SIGHUP).
#include <capnp/rpc-twoparty.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "kv/node_runtime.h"
#include "net/peer_stream.h"
#include "net/peer_transport.h"
#include "raft/status_macros.h"

namespace raftkv::kv {
namespace {

struct ServerConnection {
  ServerConnection(kj::Own<net::BufferedStream> stream_in,
                   capnp::Capability::Client bootstrap,
                   capnp::ReaderOptions limits)
      : stream(kj::mv(stream_in)),
        network(*stream, capnp::rpc::twoparty::Side::SERVER, limits),
        rpc(capnp::makeRpcServer(network, kj::mv(bootstrap))) {}
  kj::Own<net::BufferedStream> stream;
  capnp::TwoPartyVatNetwork network;
  capnp::RpcSystem<capnp::rpc::twoparty::VatId> rpc;
};

// The largest message each face reads, checked against the frame's segment
// table before anything is allocated (capnp's traversal limit): a client
// request is at most --max-request-bytes plus RPC framing; a peer stream's
// batch stops growing past 4 MiB (net::PeerTransport) and a snapshot chunk
// is at most 4 MiB, with entries up to a request each.
capnp::ReaderOptions LimitsFor(Face face, uint64_t max_request_bytes) {
  capnp::ReaderOptions limits;
  limits.nestingLimit = 64;
  const uint64_t bytes =
      face == Face::kClients
          ? max_request_bytes + (64 << 10)
          : std::max<uint64_t>(64 << 20, 8 * max_request_bytes);
  limits.traversalLimitInWords = bytes / sizeof(capnp::word);
  return limits;
}

const char* FaceName(Face face) {
  switch (face) {
    case Face::kPeers:
      return "peer";
    case Face::kClients:
      return "client";
    case Face::kBoth:
      break;
  }
  return "node";
}

}  // namespace

absl::StatusOr<NodeRuntime::Security> NodeRuntime::LoadSecurity() const {
  const bool tls =
      options_.client_tls.configured() || options_.peer_tls.configured();
  if (tls && options_.client_bind.empty()) {
    return absl::InvalidArgumentError(
        "TLS needs --client-bind: peers and clients use certificates from "
        "different CAs, on ports of their own");
  }
  if (tls &&
      (!options_.client_tls.configured() || !options_.peer_tls.configured())) {
    return absl::InvalidArgumentError(
        "TLS is all or nothing: give --cert-file, --key-file and "
        "--trusted-ca-file for clients and --peer-cert-file, "
        "--peer-key-file and --peer-trusted-ca-file for peers");
  }
  if (!options_.auth_file.empty() && !tls) {
    return absl::InvalidArgumentError(
        "--auth-file needs TLS: roles go by the client certificate's name");
  }
  Security loaded;
  if (!tls) return loaded;
  kj::Timer& timer = io_.provider->getTimer();
  ASSIGN_OR_RETURN(loaded.client_tls,
                   net::Tls::Load(options_.client_tls, timer));
  ASSIGN_OR_RETURN(loaded.peer_tls, net::Tls::Load(options_.peer_tls, timer));
  if (!options_.auth_file.empty()) {
    ASSIGN_OR_RETURN(loaded.permissions, Permissions::Load(options_.auth_file));
  }
  return loaded;
}

void NodeRuntime::UseSecurity(Security security) {
  security_ = std::move(security);
  peer_transport_->set_tls(security_.peer_tls);
}

void NodeRuntime::ReloadSecurity() {
  absl::StatusOr<Security> loaded = LoadSecurity();
  if (!loaded.ok()) {
    Emit(LogLevel::kWarning,
         absl::StrCat("SIGHUP: keeping the certificates in use: ",
                      loaded.status().message()));
    return;
  }
  UseSecurity(std::move(*loaded));
  Log("SIGHUP: certificates and permissions reloaded; new connections use "
      "them");
}

Role NodeRuntime::RoleOf(const Identity& identity) const {
  if (security_.client_tls == nullptr) return Role::kAdmin;  // no identities
  return security_.permissions.RoleOf(identity.name);
}

kj::Promise<void> NodeRuntime::AcceptLoop(Accepting& listener) {
  return listener.receiver->accept().then(
      [this, &listener](kj::Own<kj::AsyncIoStream> accepted) {
        if (listener.open >= options_.max_connections) {
          // Dropped at once: a flood costs a file descriptor for a moment.
          Warn(absl::StrCat("connections-", FaceName(listener.face)),
               absl::StrCat("refusing ", FaceName(listener.face),
                            " connections: ", listener.open,
                            " are open, the limit is ",
                            options_.max_connections, " (--max-connections)"));
          return AcceptLoop(listener);
        }
        net::SetNoDelay(*accepted);
        ++listener.open;
        std::shared_ptr<net::Tls> tls =
            listener.face == Face::kClients ? security_.client_tls
            : listener.face == Face::kPeers ? security_.peer_tls
                                            : nullptr;
        kj::Promise<void> served = nullptr;
        if (tls == nullptr) {
          served = ServeConnection(listener, kj::mv(accepted), Identity{});
        } else {
          served =
              tls->WrapServer(kj::mv(accepted))
                  .then(
                      [this, &listener](net::Tls::Accepted tls_stream) {
                        return ServeConnection(
                            listener, kj::mv(tls_stream.stream),
                            Identity{true, tls_stream.common_name});
                      },
                      [this, &listener](kj::Exception&& e) {
                        Warn(absl::StrCat("tls-", FaceName(listener.face)),
                             absl::StrCat("refused a ", FaceName(listener.face),
                                          " connection: TLS handshake failed: ",
                                          e.getDescription().cStr()));
                      })
                  .attach(kj::mv(tls));
        }
        tasks_->add(served.attach(kj::defer([&listener] { --listener.open; })));
        return AcceptLoop(listener);
      });
}

kj::Promise<void> NodeRuntime::ServeConnection(
    Accepting& listener, kj::Own<kj::AsyncIoStream> accepted,
    Identity identity) {
  auto stream = kj::heap<net::BufferedStream>(kj::mv(accepted));
  net::BufferedStream& watched = *stream;
  kj::Promise<void> served = nullptr;
  if (listener.face == Face::kClients) {
    served = ServeClients(listener, kj::mv(stream), identity);
  } else {
    // The peer face takes peer streams; the one port (no --client-bind)
    // takes those and the clients' RPC connections, told apart by the first
    // bytes.
    served = watched.ConsumePrefix(net::PeerStreamPreamble())
                 .then([this, &listener, stream = kj::mv(stream),
                        identity](bool peer) mutable -> kj::Promise<void> {
                   if (peer) {
                     net::BufferedStream& read = *stream;
                     return ServePeers(read, listener.limits, identity)
                         .attach(kj::mv(stream));
                   }
                   if (listener.face == Face::kPeers) {
                     Warn("peer-port-rpc",
                          "closed a connection to the peer port that is not "
                          "a peer stream (clients use --client-bind's port)");
                     return kj::READY_NOW;
                   }
                   return ServeClients(listener, kj::mv(stream), identity);
                 });
  }
  if (options_.idle_timeout_ms > 0)
    served = served.exclusiveJoin(CloseWhenIdle(watched, ~uint64_t{0}));
  return served;
}

kj::Promise<void> NodeRuntime::ServeClients(Accepting& listener,
                                            kj::Own<net::BufferedStream> stream,
                                            const Identity& identity) {
  auto connection = kj::heap<ServerConnection>(
      kj::mv(stream), MakeClientService(*this, identity), listener.limits);
  kj::Promise<void> ends = connection->network.onDisconnect();
  return ends.attach(kj::mv(connection));
}

// Resolves (and so drops the connection) once a whole idle timeout passes
// without a byte read from it.
kj::Promise<void> NodeRuntime::CloseWhenIdle(net::BufferedStream& stream,
                                             uint64_t last_bytes) {
  return io_.provider->getTimer()
      .afterDelay(options_.idle_timeout_ms * kj::MILLISECONDS)
      .then([this, &stream, last_bytes]() -> kj::Promise<void> {
        if (stream.bytes_read() == last_bytes) return kj::READY_NOW;
        return CloseWhenIdle(stream, stream.bytes_read());
      });
}

kj::Promise<absl::Status> NodeRuntime::Serve(std::vector<Listener> listeners,
                                             kj::Promise<void> stop) {
  auto failed = kj::newPromiseAndFulfiller<void>();
  failed_ = kj::mv(failed.fulfiller);
  kj::Promise<void> serving = TickLoop();
  for (Listener& listener : listeners) {
    auto accepting = kj::heap<Accepting>(
        Accepting{kj::mv(listener.receiver), listener.face,
                  LimitsFor(listener.face, options_.max_request_bytes)});
    serving = serving.exclusiveJoin(AcceptLoop(*accepting));
    accepting_.push_back(kj::mv(accepting));
  }
  return serving.exclusiveJoin(kj::mv(stop))
      .exclusiveJoin(kj::mv(failed.promise))
      .then([this] { return Shutdown(); })
      .then([this] { return driver_->failure(); });
}

}  // namespace raftkv::kv
