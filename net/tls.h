// TLS for raftkv's connections: kj-tls (OpenSSL underneath, TLS 1.2 at
// least), mutual: every side presents a certificate and checks the other's
// against a CA of its own choosing (no system trust store).
//
// One Tls is one set of files (certificate, key, trusted CA) loaded into a
// kj::TlsContext; it wraps streams as a server (requiring a client
// certificate) and as a client (checking that the server's certificate names
// the host it meant to reach). A peer's identity is its certificate's common
// name "node-N" (and its subjectAltName DNS:node-N, which clients check).
// Reloading builds a new Tls; connections keep the one they started with.
//
// Thread safety: a Tls is immutable after Load; use it on the loop thread that
// owns the streams it wraps.
#ifndef RAFTKV_NET_TLS_H_
#define RAFTKV_NET_TLS_H_

#include <kj/async-io.h>
#include <kj/compat/tls.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace raftkv::net {

struct TlsFiles {
  std::string cert;  // PEM certificate (chain) this side presents
  std::string key;   // its PEM private key
  std::string ca;    // PEM certificate(s) of the CA the other side must have
  // Names the flags in error messages ("--peer-" for the peer files).
  std::string flag_prefix = "--";
  bool configured() const {
    return !cert.empty() || !key.empty() || !ca.empty();
  }
};

class Tls {
 public:
  // Reads and checks the files. `timer` bounds a server handshake (10 s).
  static absl::StatusOr<std::shared_ptr<Tls>> Load(const TlsFiles& files,
                                                   kj::Timer& timer);
  ~Tls();

  kj::TlsContext& context() { return *context_; }
  // The wrapped stream once the handshake succeeded (broken promise
  // otherwise); the peer's certificate common name comes with it.
  struct Accepted {
    kj::Own<kj::AsyncIoStream> stream;
    std::string common_name;
  };
  kj::Promise<Accepted> WrapServer(kj::Own<kj::AsyncIoStream> stream);
  kj::Promise<kj::Own<kj::AsyncIoStream>> WrapClient(
      kj::Own<kj::AsyncIoStream> stream, const std::string& server_name);

 private:
  Tls() = default;
  kj::Own<kj::TlsCertificate> ca_;
  kj::Own<kj::TlsKeypair> keypair_;
  kj::Own<kj::TlsContext> context_;
};

// "node-7" for node 7, and back (nullopt for anything else).
std::string NodeName(uint64_t id);
std::optional<uint64_t> NodeIdOfName(const std::string& name);

// The host part of "HOST:PORT" (brackets of "[::1]:7001" removed).
std::string HostOf(const std::string& address);

}  // namespace raftkv::net

#endif  // RAFTKV_NET_TLS_H_
