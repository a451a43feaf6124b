#include "testing/cluster/scrape.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace raftkv::testing {

// A plain HTTP/1.1 GET to 127.0.0.1:port, read to the end.
int ConnectLoopback(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) !=
      0) {
    close(fd);
    return -1;
  }
  return fd;
}

HttpReply HttpGet(int port, const std::string& path) {
  HttpReply reply;
  const int fd = ConnectLoopback(port);
  if (fd < 0) return reply;
  const std::string request =
      absl::StrCat("GET ", path,
                   " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  if (write(fd, request.data(), request.size()) < 0) {
    close(fd);
    return reply;
  }
  // Until the body's Content-Length is in (KJ keeps the connection open for
  // the next request).
  std::string raw;
  char buffer[65536];
  size_t body = std::string::npos;
  size_t length = 0;
  for (ssize_t n; (n = read(fd, buffer, sizeof(buffer))) > 0;) {
    raw.append(buffer, static_cast<size_t>(n));
    if (body == std::string::npos) {
      body = raw.find("\r\n\r\n");
      const size_t header = raw.find("Content-Length: ");
      if (header != std::string::npos) {
        (void)absl::SimpleAtoi(
            raw.substr(header + 16, raw.find("\r\n", header) - header - 16),
            &length);
      }
    }
    if (body != std::string::npos && raw.size() >= body + 4 + length) break;
  }
  close(fd);
  const size_t space = raw.find(' ');
  if (space == std::string::npos || body == std::string::npos) return reply;
  (void)absl::SimpleAtoi(raw.substr(space + 1, 3), &reply.status);
  reply.body = raw.substr(body + 4);
  return reply;
}

// The value of one sample ("name{labels} value") in a text exposition.
double Sample(const std::string& text, const std::string& series) {
  const size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return -1;
  double value = -1;
  const size_t start = at + series.size() + 2;
  (void)absl::SimpleAtod(text.substr(start, text.find('\n', start) - start),
                         &value);
  return value;
}

}  // namespace raftkv::testing
