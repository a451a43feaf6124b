// PacketFilter: drops a loopback TCP port's packets silently with iptables,
// connections left open, the way real networks fail (a proxy's Cut() resets
// connections instead, which a node notices at once).
//
// The rules live in a network namespace of the test's own:
// EnterPrivateNetwork() (called by the test main before any thread or node
// starts) unshares one and brings its loopback up, so the rules touch nothing
// outside the test and vanish with it. Where the platform forbids that (no
// root, no iptables, no nf_tables), Available() is false and Unavailable() says
// why; the test then uses the proxies only.
//
// Thread safety: Drop/Restore/Clear may be called from any thread (one lock).
// Invariant: the ports in `dropped` are exactly those with rules installed.
#ifndef RAFTKV_TESTING_CLUSTER_PACKET_FILTER_H_
#define RAFTKV_TESTING_CLUSTER_PACKET_FILTER_H_

#include <string>

namespace raftkv::testing {

// Moves the calling process into a new network namespace with loopback up
// and checks that iptables works in it. Returns "" on success, else why not
// (the process then stays in its original namespace).
std::string EnterPrivateNetwork();

class PacketFilter {
 public:
  static bool Available();
  static const std::string& Unavailable();

  // Silently drops every packet to or from `port` on loopback.
  static void Drop(int port);
  static void Restore(int port);
  static void Clear();
};

}  // namespace raftkv::testing

#endif  // RAFTKV_TESTING_CLUSTER_PACKET_FILTER_H_
