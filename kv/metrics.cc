#include "kv/metrics.h"

#include <prometheus/text_serializer.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace raftkv::kv {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;
using prometheus::Counter;
using prometheus::Gauge;

// Adds the increase of a running total that is kept elsewhere.
void Advance(Counter& counter, double total) {
  if (total > counter.Value()) counter.Increment(total - counter.Value());
}

// Latencies from 100 µs to about 6.5 s.
prometheus::Histogram::BucketBoundaries LatencyBuckets() {
  prometheus::Histogram::BucketBoundaries buckets;
  for (double b = 0.0001; b < 10; b *= 2) buckets.push_back(b);
  return buckets;
}

// Snapshot streams: 10 ms to about 20 minutes.
prometheus::Histogram::BucketBoundaries SnapshotBuckets() {
  prometheus::Histogram::BucketBoundaries buckets;
  for (double b = 0.01; b < 1500; b *= 4) buckets.push_back(b);
  return buckets;
}

}  // namespace

NodeMetrics::NodeMetrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      requests_(BuildCounter()
                    .Name("raftkv_client_requests_total")
                    .Help("Client requests answered, by operation and result.")
                    .Register(*registry_)),
      request_seconds_(
          BuildHistogram()
              .Name("raftkv_client_request_duration_seconds")
              .Help("Time from a client request's arrival to its answer.")
              .Register(*registry_)),
      persist_seconds_(
          BuildHistogram()
              .Name("raftkv_storage_persist_duration_seconds")
              .Help("Storage jobs (a Ready written with its fsync, a "
                    "compaction), off the loop.")
              .Register(*registry_)
              .Add({}, LatencyBuckets())),
      apply_seconds_(
          BuildHistogram()
              .Name("raftkv_storage_apply_duration_seconds")
              .Help("Applying a batch of committed entries to the state "
                    "machine (one store write), on the loop.")
              .Register(*registry_)
              .Add({}, LatencyBuckets())),
      snapshot_seconds_(
          BuildHistogram()
              .Name("raftkv_snapshot_duration_seconds")
              .Help("A whole snapshot stream, from its first chunk to its "
                    "last acknowledgement, by direction.")
              .Register(*registry_)),
      snapshot_send_seconds_(
          snapshot_seconds_.Add({{"direction", "sent"}}, SnapshotBuckets())),
      snapshot_receive_seconds_(snapshot_seconds_.Add(
          {{"direction", "received"}}, SnapshotBuckets())),
      store_bytes_(BuildGauge()
                       .Name("raftkv_kv_store_size_bytes")
                       .Help("The KV store's files on disk.")
                       .Register(*registry_)
                       .Add({})),
      log_bytes_(
          BuildGauge()
              .Name("raftkv_log_size_bytes")
              .Help(
                  "The Raft log's files on disk (a segment counts the space it "
                  "reserved when it started).")
              .Register(*registry_)
              .Add({})),
      received_(BuildCounter()
                    .Name("raftkv_peer_messages_received_total")
                    .Help("Raft messages received, by sending peer.")
                    .Register(*registry_)),
      role_(BuildGauge()
                .Name("raftkv_raft_role")
                .Help("1 for this node's Raft role, 0 for the others.")
                .Register(*registry_)),
      is_leader_(BuildGauge()
                     .Name("raftkv_raft_is_leader")
                     .Help("1 if this node is the leader.")
                     .Register(*registry_)
                     .Add({})),
      has_leader_(BuildGauge()
                      .Name("raftkv_raft_has_leader")
                      .Help("1 if this node knows a leader.")
                      .Register(*registry_)
                      .Add({})),
      term_(BuildGauge()
                .Name("raftkv_raft_term")
                .Help("The current Raft term.")
                .Register(*registry_)
                .Add({})),
      commit_(BuildGauge()
                  .Name("raftkv_raft_commit_index")
                  .Help("The highest log index known to be committed.")
                  .Register(*registry_)
                  .Add({})),
      applied_(BuildGauge()
                   .Name("raftkv_raft_applied_index")
                   .Help("The highest log index applied to the state machine.")
                   .Register(*registry_)
                   .Add({})),
      log_entries_(BuildGauge()
                       .Name("raftkv_log_entries")
                       .Help("Entries in the log (after compaction).")
                       .Register(*registry_)
                       .Add({})),
      pending_writes_(BuildGauge()
                          .Name("raftkv_raft_proposals_pending")
                          .Help("Writes proposed here and not yet answered.")
                          .Register(*registry_)
                          .Add({})),
      pending_reads_(BuildGauge()
                         .Name("raftkv_raft_reads_pending")
                         .Help("Linearizable reads waiting for their index.")
                         .Register(*registry_)
                         .Add({})),
      members_(BuildGauge()
                   .Name("raftkv_raft_members")
                   .Help("Members of the configuration in force.")
                   .Register(*registry_)
                   .Add({})),
      snapshots_sending_(BuildGauge()
                             .Name("raftkv_snapshot_sending")
                             .Help("Snapshot streams to followers in flight.")
                             .Register(*registry_)
                             .Add({})),
      leader_changes_(BuildCounter()
                          .Name("raftkv_raft_leader_changes_total")
                          .Help("Times this node saw a new leader.")
                          .Register(*registry_)
                          .Add({})),
      lease_reads_(BuildCounter()
                       .Name("raftkv_raft_lease_reads_total")
                       .Help("Linearizable reads this leader answered from its "
                             "lease, without a heartbeat round "
                             "(--read-mode=lease).")
                       .Register(*registry_)
                       .Add({})),
      entries_applied_(BuildCounter()
                           .Name("raftkv_raft_proposals_committed_total")
                           .Help("Committed log entries applied here.")
                           .Register(*registry_)
                           .Add({})),
      proposals_failed_(
          BuildCounter()
              .Name("raftkv_raft_proposals_failed_total")
              .Help("Writes proposed here that another leader's entry "
                    "replaced (never committed).")
              .Register(*registry_)
              .Add({})),
      persists_(BuildCounter()
                    .Name("raftkv_storage_persists_total")
                    .Help("Readies written to storage.")
                    .Register(*registry_)
                    .Add({})),
      compactions_(BuildCounter()
                       .Name("raftkv_log_compactions_total")
                       .Help("Log compactions completed.")
                       .Register(*registry_)
                       .Add({})),
      snapshots_sent_(BuildCounter()
                          .Name("raftkv_snapshot_sent_total")
                          .Help("Snapshot streams started to followers.")
                          .Register(*registry_)
                          .Add({})),
      snapshots_received_(BuildCounter()
                              .Name("raftkv_snapshot_received_total")
                              .Help("Snapshots installed from a leader.")
                              .Register(*registry_)
                              .Add({})),
      dropped_(BuildCounter()
                   .Name("raftkv_peer_messages_dropped_total")
                   .Help("Outgoing Raft messages dropped (queue full, peer "
                         "unreachable); Raft resends.")
                   .Register(*registry_)
                   .Add({})),
      peer_messages_(BuildCounter()
                         .Name("raftkv_peer_messages_sent_total")
                         .Help("Raft messages sent, by peer.")
                         .Register(*registry_)),
      peer_bytes_(BuildCounter()
                      .Name("raftkv_peer_sent_bytes_total")
                      .Help("Entry and snapshot bytes sent, by peer.")
                      .Register(*registry_)),
      peer_wire_bytes_(
          BuildCounter()
              .Name("raftkv_peer_batch_bytes_total")
              .Help("Bytes of the message batches sent as encoded (plain or "
                    "packed, --peer-encoding), by peer.")
              .Register(*registry_)),
      peer_connects_(BuildCounter()
                         .Name("raftkv_peer_connects_total")
                         .Help("Connections established, by peer.")
                         .Register(*registry_)),
      peer_failures_(
          BuildCounter()
              .Name("raftkv_peer_connection_failures_total")
              .Help("Connections given up (error, reset, no answer within "
                    "the deadline), by peer.")
              .Register(*registry_)),
      peer_rtt_(
          BuildGauge()
              .Name("raftkv_peer_round_trip_seconds")
              .Help("From a frame to its acknowledgement, the last one, by "
                    "peer.")
              .Register(*registry_)),
      peer_in_flight_(
          BuildGauge()
              .Name("raftkv_peer_append_window")
              .Help("Frames sent and not yet acknowledged, by peer.")
              .Register(*registry_)),
      cpu_seconds_(BuildCounter()
                       .Name("raftkv_process_cpu_seconds_total")
                       .Help("User and system CPU time of the process.")
                       .Register(*registry_)
                       .Add({})),
      resident_bytes_(BuildGauge()
                          .Name("raftkv_process_resident_memory_bytes")
                          .Help("Resident memory of the process.")
                          .Register(*registry_)
                          .Add({})),
      open_fds_(BuildGauge()
                    .Name("raftkv_process_open_fds")
                    .Help("Open file descriptors of the process.")
                    .Register(*registry_)
                    .Add({})) {}

void NodeMetrics::ObserveRequest(const std::string& op,
                                 const std::string& result, double seconds) {
  Counter*& counter = request_counters_[{op, result}];
  if (counter == nullptr)
    counter = &requests_.Add({{"op", op}, {"result", result}});
  counter->Increment();
  prometheus::Histogram*& histogram = request_histograms_[op];
  if (histogram == nullptr)
    histogram = &request_seconds_.Add({{"op", op}}, LatencyBuckets());
  histogram->Observe(seconds);
}

void NodeMetrics::ObserveDuration(Timed what, double seconds) {
  switch (what) {
    case Timed::kApply:
      return apply_seconds_.Observe(seconds);
    case Timed::kSnapshotSend:
      return snapshot_send_seconds_.Observe(seconds);
    case Timed::kSnapshotReceive:
      return snapshot_receive_seconds_.Observe(seconds);
  }
}

void NodeMetrics::ObservePersist(double seconds) {
  persist_seconds_.Observe(seconds);
}

void NodeMetrics::ObserveReceived(raft::NodeId from, size_t messages) {
  PeerCounter(received_, from).Increment(static_cast<double>(messages));
}

Gauge& NodeMetrics::PeerGauge(prometheus::Family<Gauge>& family,
                              raft::NodeId peer) {
  return family.Add({{"peer", absl::StrCat(peer)}});
}

Counter& NodeMetrics::PeerCounter(prometheus::Family<Counter>& family,
                                  raft::NodeId peer) {
  return family.Add({{"peer", absl::StrCat(peer)}});
}

std::string NodeMetrics::Render(const NodeSample& s) {
  for (const char* role :
       {"follower", "pre-candidate", "candidate", "leader"}) {
    role_.Add({{"role", role}}).Set(s.role == role ? 1 : 0);
  }
  is_leader_.Set(s.role == "leader" ? 1 : 0);
  has_leader_.Set(s.leader != 0 ? 1 : 0);
  term_.Set(static_cast<double>(s.term));
  commit_.Set(static_cast<double>(s.commit));
  applied_.Set(static_cast<double>(s.applied));
  store_bytes_.Set(static_cast<double>(s.store_bytes));
  log_bytes_.Set(static_cast<double>(s.log_bytes));
  log_entries_.Set(s.last_index >= s.first_index
                       ? static_cast<double>(s.last_index - s.first_index + 1)
                       : 0);
  pending_writes_.Set(static_cast<double>(s.pending_writes));
  pending_reads_.Set(static_cast<double>(s.pending_reads));
  members_.Set(static_cast<double>(s.members));
  snapshots_sending_.Set(static_cast<double>(s.snapshots_sending));
  Advance(leader_changes_, static_cast<double>(s.driver.leader_changes));
  Advance(lease_reads_, static_cast<double>(s.lease_reads));
  Advance(entries_applied_, static_cast<double>(s.driver.entries_applied));
  Advance(proposals_failed_, static_cast<double>(s.driver.proposals_failed));
  Advance(persists_, static_cast<double>(s.driver.persists));
  Advance(compactions_, static_cast<double>(s.driver.compactions));
  Advance(snapshots_sent_, static_cast<double>(s.driver.snapshots_sent));
  Advance(snapshots_received_,
          static_cast<double>(s.driver.snapshots_received));
  Advance(dropped_, static_cast<double>(s.messages_dropped));
  for (const net::PeerLinkStats& p : s.peers) {
    Advance(PeerCounter(peer_messages_, p.id),
            static_cast<double>(p.messages_sent));
    Advance(PeerCounter(peer_bytes_, p.id), static_cast<double>(p.bytes_sent));
    Advance(PeerCounter(peer_wire_bytes_, p.id),
            static_cast<double>(p.batch_bytes));
    Advance(PeerCounter(peer_connects_, p.id), static_cast<double>(p.connects));
    Advance(PeerCounter(peer_failures_, p.id), static_cast<double>(p.failures));
    PeerGauge(peer_rtt_, p.id).Set(p.round_trip_seconds);
    PeerGauge(peer_in_flight_, p.id).Set(p.frames_unacknowledged);
  }

  // The process, from /proc (proc(5)).
  std::ifstream stat("/proc/self/stat");
  std::string line;
  if (std::getline(stat, line)) {
    // Fields after the command name, which is in parentheses and may hold
    // spaces: state is field 3, utime 14, stime 15.
    std::istringstream rest(line.substr(line.rfind(')') + 2));
    std::string field;
    double utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
      if (i == 14) utime = std::stod(field);
      if (i == 15) stime = std::stod(field);
    }
    Advance(cpu_seconds_,
            (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK)));
  }
  std::ifstream statm("/proc/self/statm");
  double size = 0, resident = 0;
  if (statm >> size >> resident) {
    resident_bytes_.Set(resident * static_cast<double>(sysconf(_SC_PAGESIZE)));
  }
  std::error_code error;
  size_t fds = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", error);
       !error && it != std::filesystem::directory_iterator();
       it.increment(error)) {
    ++fds;
  }
  open_fds_.Set(static_cast<double>(fds));

  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace raftkv::kv
