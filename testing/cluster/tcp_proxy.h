// TcpProxy: a loopback TCP forwarder that a test can cut, the way etcd's
// robustness tests cut peer links: the product carries no test-only switch, the
// network does the failing.
//
// Listens on a free 127.0.0.1 port and forwards every connection to
// `target_port`. Cut() closes every forwarded connection and refuses new ones
// until Restore(). Runs one thread. Thread safety: Cut/Restore/port may be
// called from any thread. Invariant: while cut, no byte is forwarded in either
// direction.
#ifndef RAFTKV_TESTING_CLUSTER_TCP_PROXY_H_
#define RAFTKV_TESTING_CLUSTER_TCP_PROXY_H_

#include <atomic>
#include <memory>
#include <thread>

#include "absl/status/statusor.h"

namespace raftkv::testing {

class TcpProxy {
 public:
  static absl::StatusOr<std::unique_ptr<TcpProxy>> Start(int target_port);
  ~TcpProxy();

  int port() const { return port_; }
  void Cut();
  void Restore();

 private:
  TcpProxy(int listen_fd, int port, int target_port, int wake_read,
           int wake_write);
  void Run();
  void Wake();

  const int listen_fd_;
  const int port_;
  const int target_port_;
  const int wake_read_;
  const int wake_write_;
  std::atomic<bool> cut_{false};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace raftkv::testing

#endif  // RAFTKV_TESTING_CLUSTER_TCP_PROXY_H_
