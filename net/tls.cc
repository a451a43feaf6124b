#include "net/tls.h"

#include <fstream>
#include <iterator>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace raftkv::net {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& flag,
                                    const std::string& path) {
  if (path.empty())
    return absl::InvalidArgumentError(absl::StrCat(flag, " is required"));
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read ", flag, "=", path));
  }
  return std::string((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
}

}  // namespace

Tls::~Tls() = default;

absl::StatusOr<std::shared_ptr<Tls>> Tls::Load(const TlsFiles& files,
                                               kj::Timer& timer) {
  const std::string cert_flag = files.flag_prefix + "cert-file";
  const std::string key_flag = files.flag_prefix + "key-file";
  const std::string ca_flag = files.flag_prefix == "--peer-"
                                  ? "--peer-trusted-ca-file"
                                  : "--trusted-ca-file or --ca-file";
  absl::StatusOr<std::string> cert = ReadPem(cert_flag, files.cert);
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadPem(key_flag, files.key);
  if (!key.ok()) return key.status();
  absl::StatusOr<std::string> ca = ReadPem(ca_flag, files.ca);
  if (!ca.ok()) return ca.status();
  std::shared_ptr<Tls> tls(new Tls());
  std::string failed;
  const char* what = "";
  KJ_IF_MAYBE (exception, kj::runCatchingExceptions([&] {
                 what = ca_flag.c_str();
                 tls->ca_ = kj::heap<kj::TlsCertificate>(*ca);
                 what = key_flag.c_str();
                 kj::TlsPrivateKey private_key(*key);
                 what = cert_flag.c_str();
                 kj::TlsCertificate certificate(*cert);
                 tls->keypair_ = kj::heap<kj::TlsKeypair>(
                     kj::TlsKeypair{kj::mv(private_key), kj::mv(certificate)});
                 what = "the key pair";
                 kj::TlsContext::Options options;
                 options.useSystemTrustStore = false;
                 options.verifyClients = true;
                 options.minVersion = kj::TlsVersion::TLS_1_2;
                 options.trustedCertificates = kj::arrayPtr(tls->ca_.get(), 1);
                 options.defaultKeypair = *tls->keypair_;
                 options.timer = timer;
                 options.acceptTimeout = 10 * kj::SECONDS;
                 tls->context_ = kj::heap<kj::TlsContext>(kj::mv(options));
               })) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " was refused: ", exception->getDescription().cStr(),
                     " (PEM files: a certificate, its key, the CA's "
                     "certificate)"));
  }
  return tls;
}

kj::Promise<Tls::Accepted> Tls::WrapServer(kj::Own<kj::AsyncIoStream> stream) {
  return context_
      ->wrapServer(kj::AuthenticatedStream{
          kj::mv(stream), kj::UnknownPeerIdentity::newInstance()})
      .then([](kj::AuthenticatedStream wrapped) {
        Accepted accepted;
        auto& identity =
            kj::downcast<kj::TlsPeerIdentity>(*wrapped.peerIdentity);
        if (identity.hasCertificate())
          accepted.common_name = identity.getCommonName().cStr();
        accepted.stream = kj::mv(wrapped.stream);
        return accepted;
      });
}

kj::Promise<kj::Own<kj::AsyncIoStream>> Tls::WrapClient(
    kj::Own<kj::AsyncIoStream> stream, const std::string& server_name) {
  return context_->wrapClient(kj::mv(stream), server_name);
}

std::string NodeName(uint64_t id) { return absl::StrCat("node-", id); }

std::optional<uint64_t> NodeIdOfName(const std::string& name) {
  absl::string_view rest = name;
  uint64_t id = 0;
  if (!absl::ConsumePrefix(&rest, "node-") || !absl::SimpleAtoi(rest, &id) ||
      id == 0)
    return std::nullopt;
  return id;
}

std::string HostOf(const std::string& address) {
  const size_t colon = address.rfind(':');
  std::string host =
      colon == std::string::npos ? address : address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return host;
}

}  // namespace raftkv::net
