// Test helpers for a node's HTTP face: a plain HTTP/1.1 GET to loopback and
// one sample read from a Prometheus text exposition.
//
// Thread safety: free functions; each call uses its own socket.
#ifndef RAFTKV_TESTING_CLUSTER_SCRAPE_H_
#define RAFTKV_TESTING_CLUSTER_SCRAPE_H_

#include <string>

namespace raftkv::testing {

struct HttpReply {
  int status = 0;  // 0: no answer
  std::string body;
};

// A TCP connection to 127.0.0.1:port (reads time out after 5 s), or -1.
int ConnectLoopback(int port);

// GET `path` from 127.0.0.1:port, read to the end of its body (5 s timeout).
HttpReply HttpGet(int port, const std::string& path);

// The value of one sample ("name{labels} value") in `text`, which must start
// with a newline; -1 if absent.
double Sample(const std::string& text, const std::string& series);

}  // namespace raftkv::testing

#endif  // RAFTKV_TESTING_CLUSTER_SCRAPE_H_
