// NodeMetrics: what a kvnode reports on /metrics, in the Prometheus text
// format (prometheus-cpp's registry and serializer), named
// raftkv_<subsystem>_<name>_<unit>.
//
// Two kinds of input. Events are counted as they happen: client requests by
// operation and result with their latency, storage jobs (each one Ready
// written, with its fsync) with their duration, apply batches and snapshot
// streams with theirs, messages received per peer.
// State is sampled at scrape time from a NodeSample the runtime fills in
// (role, term, indexes, the driver's and the peer links' running counts,
// process CPU, memory and file descriptors).
//
// Thread safety: ObservePersist may be called from the storage thread
// (prometheus-cpp's metrics are thread-safe); everything else, and the
// series caches, run on the node's loop thread. Invariant: a counter never goes
// down (a sampled total only ever adds its increase).
#ifndef RAFTKV_KV_METRICS_H_
#define RAFTKV_KV_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kv/driver.h"
#include "net/peer_transport.h"

namespace raftkv::kv {

// The node's state at a scrape.
struct NodeSample {
  std::string role;
  raft::Term term = 0;
  raft::NodeId leader = 0;
  raft::LogIndex commit = 0;
  raft::LogIndex applied = 0;
  raft::LogIndex first_index = 0;
  raft::LogIndex last_index = 0;
  size_t pending_writes = 0;
  size_t pending_reads = 0;
  size_t snapshots_sending = 0;
  size_t members = 0;
  uint64_t lease_reads = 0;  // reads answered from the leader's lease
  DriverStats driver;
  std::vector<net::PeerLinkStats> peers;
  uint64_t messages_dropped = 0;
  uint64_t store_bytes = 0;  // the KV store's files on disk
  uint64_t log_bytes = 0;    // the Raft log's files on disk
};

class NodeMetrics {
 public:
  NodeMetrics();

  // op: get, put, delete, cas, list, ...; result: the reply's code ("ok",
  // "not_found", "unavailable", ...).
  void ObserveRequest(const std::string& op, const std::string& result,
                      double seconds);
  void ObservePersist(double seconds);
  // An apply batch, or a whole snapshot stream sent or received.
  void ObserveDuration(Timed what, double seconds);
  void ObserveReceived(raft::NodeId from, size_t messages);

  // Samples `sample` and the process, and returns the text exposition.
  std::string Render(const NodeSample& sample);

 private:
  prometheus::Gauge& PeerGauge(prometheus::Family<prometheus::Gauge>& family,
                               raft::NodeId peer);
  prometheus::Counter& PeerCounter(
      prometheus::Family<prometheus::Counter>& family, raft::NodeId peer);

  // The request series, found once per (op, result) and op: Family::Add
  // hashes the labels and builds the buckets on every call.
  std::map<std::pair<std::string, std::string>, prometheus::Counter*>
      request_counters_;
  std::map<std::string, prometheus::Histogram*> request_histograms_;

  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& request_seconds_;
  prometheus::Histogram& persist_seconds_;
  prometheus::Histogram& apply_seconds_;
  prometheus::Family<prometheus::Histogram>& snapshot_seconds_;
  prometheus::Histogram& snapshot_send_seconds_;
  prometheus::Histogram& snapshot_receive_seconds_;
  prometheus::Gauge& store_bytes_;
  prometheus::Gauge& log_bytes_;
  prometheus::Family<prometheus::Counter>& received_;
  prometheus::Family<prometheus::Gauge>& role_;
  prometheus::Gauge& is_leader_;
  prometheus::Gauge& has_leader_;
  prometheus::Gauge& term_;
  prometheus::Gauge& commit_;
  prometheus::Gauge& applied_;
  prometheus::Gauge& log_entries_;
  prometheus::Gauge& pending_writes_;
  prometheus::Gauge& pending_reads_;
  prometheus::Gauge& members_;
  prometheus::Gauge& snapshots_sending_;
  prometheus::Counter& leader_changes_;
  prometheus::Counter& lease_reads_;
  prometheus::Counter& entries_applied_;
  prometheus::Counter& proposals_failed_;
  prometheus::Counter& persists_;
  prometheus::Counter& compactions_;
  prometheus::Counter& snapshots_sent_;
  prometheus::Counter& snapshots_received_;
  prometheus::Counter& dropped_;
  prometheus::Family<prometheus::Counter>& peer_messages_;
  prometheus::Family<prometheus::Counter>& peer_bytes_;
  prometheus::Family<prometheus::Counter>& peer_wire_bytes_;
  prometheus::Family<prometheus::Counter>& peer_connects_;
  prometheus::Family<prometheus::Counter>& peer_failures_;
  prometheus::Family<prometheus::Gauge>& peer_rtt_;
  prometheus::Family<prometheus::Gauge>& peer_in_flight_;
  prometheus::Counter& cpu_seconds_;
  prometheus::Gauge& resident_bytes_;
  prometheus::Gauge& open_fds_;
};

}  // namespace raftkv::kv

#endif  // RAFTKV_KV_METRICS_H_
