#include "testing/cluster/tcp_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"

namespace raftkv::testing {
namespace {

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

// Writes all of `data`, giving up after a bounded wait (a paused peer stops
// reading).
bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    pollfd p{fd, POLLOUT, 0};
    if (poll(&p, 1, 2000) <= 0) return false;
    ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
    if (n <= 0) {
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      return false;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<TcpProxy>> TcpProxy::Start(int target_port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return absl::InternalError(absl::StrCat("socket: ", strerror(errno)));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(fd, 64) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return absl::InternalError(absl::StrCat("proxy listen: ", strerror(errno)));
  }
  int wake[2];
  if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) {
    close(fd);
    return absl::InternalError("pipe failed");
  }
  return std::unique_ptr<TcpProxy>(
      new TcpProxy(fd, ntohs(addr.sin_port), target_port, wake[0], wake[1]));
}

TcpProxy::TcpProxy(int listen_fd, int port, int target_port, int wake_read,
                   int wake_write)
    : listen_fd_(listen_fd),
      port_(port),
      target_port_(target_port),
      wake_read_(wake_read),
      wake_write_(wake_write),
      thread_([this] { Run(); }) {}

TcpProxy::~TcpProxy() {
  stop_ = true;
  Wake();
  thread_.join();
  close(listen_fd_);
  close(wake_read_);
  close(wake_write_);
}

void TcpProxy::Wake() { (void)!write(wake_write_, "x", 1); }

void TcpProxy::Cut() {
  cut_ = true;
  Wake();
}

void TcpProxy::Restore() {
  cut_ = false;
  Wake();
}

void TcpProxy::Run() {
  struct Pair {
    int a, b;
  };
  std::vector<Pair> pairs;
  auto close_all = [&] {
    for (Pair& p : pairs) {
      close(p.a);
      close(p.b);
    }
    pairs.clear();
  };
  char buffer[64 << 10];
  while (!stop_) {
    if (cut_) close_all();
    std::vector<pollfd> fds = {{listen_fd_, POLLIN, 0},
                               {wake_read_, POLLIN, 0}};
    for (const Pair& p : pairs) {
      fds.push_back({p.a, POLLIN, 0});
      fds.push_back({p.b, POLLIN, 0});
    }
    if (poll(fds.data(), fds.size(), 1000) <= 0) continue;
    if (fds[1].revents & POLLIN) {
      while (read(wake_read_, buffer, sizeof(buffer)) > 0) {
      }
    }
    const size_t polled =
        (fds.size() - 2) / 2;  // pairs accepted below were not polled
    if (fds[0].revents & POLLIN) {
      int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client >= 0) {
        int upstream = cut_ ? -1 : Connect(target_port_);
        if (upstream < 0) {
          close(client);  // cut, or the target is down: the dialer sees a reset
        } else {
          pairs.push_back({client, upstream});
        }
      }
    }
    std::vector<size_t> dead;
    for (size_t i = 0; i < polled; ++i) {
      for (int side = 0; side < 2; ++side) {
        const pollfd& f = fds[2 + 2 * i + side];
        if (!(f.revents & (POLLIN | POLLHUP | POLLERR))) continue;
        const int from = side == 0 ? pairs[i].a : pairs[i].b;
        const int to = side == 0 ? pairs[i].b : pairs[i].a;
        ssize_t n = recv(from, buffer, sizeof(buffer), 0);
        if (n <= 0 || cut_ || !WriteAll(to, buffer, static_cast<size_t>(n))) {
          dead.push_back(i);
          break;
        }
      }
    }
    for (auto it = dead.rbegin(); it != dead.rend(); ++it) {
      close(pairs[*it].a);
      close(pairs[*it].b);
      pairs.erase(pairs.begin() + static_cast<std::ptrdiff_t>(*it));
    }
  }
  close_all();
}

}  // namespace raftkv::testing
