// kvnode: a raftkv cluster member (`serve`) and its client (every other
// command).
#include <sys/time.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <ctime>
#include <set>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/marshalling.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "cli/bench.h"
#include "cli/command_table.h"
#include "cli/commands.h"
#include "cli/demo.h"
#include "cli/flag_args.h"
#include "cli/snapshot_commands.h"
#include "kv/client.h"
#include "kv/node.h"

ABSL_FLAG(uint64_t, node_id, 0,
          "serve: this node's id, one of the ids in --cluster");
ABSL_FLAG(
    std::string, bind, "",
    "serve: HOST:PORT to listen on (default: this node's --cluster address)");
ABSL_FLAG(std::string, cluster, "127.0.0.1:7001",
          "serve: every member as ID=HOST:PORT,...; clients: HOST:PORT,... or "
          "the same string");
ABSL_FLAG(std::string, join, "",
          "serve: join the running cluster at HOST:PORT,... (after `kvnode "
          "member add-learner ID ADDR`); the data dir must be empty");
ABSL_FLAG(std::string, cluster_token, "raftkv",
          "serve: mixed into the cluster id at bootstrap, so that clusters "
          "with the same --cluster differ");
ABSL_FLAG(std::string, data_dir, "",
          "serve: directory for this node's log and state");
ABSL_FLAG(std::string, client_bind, "",
          "serve: HOST:PORT for clients alone (then --bind serves peers "
          "alone, each port with its own message size limit)");
ABSL_FLAG(uint64_t, max_connections, 1024,
          "serve: per listener, connections past this are closed at once");
ABSL_FLAG(uint64_t, idle_timeout_ms, 10 * 60 * 1000,
          "serve: close a connection that sent nothing for this long (0: "
          "never)");
ABSL_FLAG(std::string, cert_file, "",
          "TLS: this side's PEM certificate (serve: the client port's; "
          "clients: the client's)");
ABSL_FLAG(std::string, key_file, "", "TLS: the PEM key of --cert-file");
ABSL_FLAG(std::string, trusted_ca_file, "",
          "serve, TLS: the CA whose client certificates are let in");
ABSL_FLAG(std::string, ca_file, "",
          "clients, TLS: the CA that signed the nodes' certificates");
ABSL_FLAG(std::string, peer_cert_file, "",
          "serve, TLS: this node's peer certificate (CN and DNS name node-N)");
ABSL_FLAG(std::string, peer_key_file, "", "serve, TLS: its PEM key");
ABSL_FLAG(std::string, peer_trusted_ca_file, "",
          "serve, TLS: the CA of the members' peer certificates");
ABSL_FLAG(bool, tls, false,
          "demo: mutual TLS everywhere, certificates made by openssl");
ABSL_FLAG(std::string, auth_file, "",
          "serve, TLS: client certificate names and their roles, one "
          "\"NAME read-only|read-write|admin\" per line");
ABSL_FLAG(std::string, metrics_bind, "",
          "serve: HOST:PORT for /metrics, /health and /ready over HTTP");
ABSL_FLAG(uint64_t, tick_ms, 50, "serve: Raft tick length in milliseconds");
ABSL_FLAG(bool, fast_failover, true,
          "serve: when the leader's process is gone (its connection reset and "
          "a redial refused), campaign within two ticks instead of waiting "
          "out the election timeout");
ABSL_FLAG(std::string, read_mode, "index",
          "serve: how the leader confirms a linearizable read: index (one "
          "heartbeat round per batch of reads, thesis 6.4) or lease (none "
          "while a quorum acknowledged it within the election timeout, "
          "thesis 6.4.1; assumes --lease-clock-drift; turns --fast-failover "
          "off)");
ABSL_FLAG(double, lease_clock_drift, 0.1,
          "serve, --read-mode=lease: the most any node's clock may run faster "
          "than another's, as a fraction (0.1: 10%)");
ABSL_FLAG(uint64_t, election_ticks, 10,
          "serve: election timeout, in ticks (randomized up to 2x)");
ABSL_FLAG(uint64_t, max_key_bytes, 4096, "serve: largest key accepted");
ABSL_FLAG(uint64_t, max_value_bytes, 1 << 20, "serve: largest value accepted");
ABSL_FLAG(uint64_t, max_request_bytes, 3 << 19,
          "serve: largest request accepted");
ABSL_FLAG(uint64_t, session_ttl_ms, 30 * 60 * 1000,
          "serve: idle client sessions expire after this");
ABSL_FLAG(uint64_t, compact_after_entries, 10000,
          "serve: snapshot the state and compact the log after this many "
          "applied entries");
ABSL_FLAG(uint64_t, snapshot_rate_mib, 0,
          "serve: send snapshots to followers at most this fast, in MiB/s "
          "on the wire (0: unlimited)");
ABSL_FLAG(uint64_t, storage_write_buffer_mib, 4,
          "serve: MiB of writes the KV store's LevelDB buffers in memory (1 "
          "to 1024; up to twice this is held)");
ABSL_FLAG(std::string, snapshot_compression, "none",
          "serve: none, or gzip: snapshot chunks sent compressed");
ABSL_FLAG(std::string, peer_encoding, "plain",
          "serve: plain, or packed: Raft messages to peers in Cap'n Proto's "
          "packed encoding");
ABSL_FLAG(bool, quiet, false, "serve: log only errors (--log-level=error)");
ABSL_FLAG(std::string, log_format, "text",
          "serve: text, or json (one object per line)");
ABSL_FLAG(std::string, log_level, "info",
          "serve: debug, info, warning or error: the least that is logged");
ABSL_FLAG(uint64_t, slow_ms, 500,
          "serve: warn about storage writes and requests slower than this");
ABSL_FLAG(std::string, output, "simple", "clients: simple, table or json");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(5),
          "clients: give up after this long");
ABSL_FLAG(std::string, consistency, "linearizable",
          "clients: linearizable or serializable reads");
ABSL_FLAG(std::string, read_from, "leader",
          "clients: leader, or any (reads go to every node that answers, in "
          "turn; a follower asks the leader for the read index)");
ABSL_FLAG(uint32_t, limit, 100, "list: at most this many keys (up to 10000)");
ABSL_FLAG(bool, keys_only, false, "list: print keys without values");
ABSL_FLAG(bool, digest, false,
          "status: also a checksum of each node's whole state (reads it all)");
ABSL_FLAG(bool, expect_absent, false,
          "cas: succeed only if the key does not exist");
ABSL_FLAG(int, clients, 16,
          "bench: concurrent clients (sessions), each with one request in "
          "flight");
ABSL_FLAG(int, conns, 0,
          "bench: connections the clients share (0: min(clients, 4))");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10),
          "bench: stop after this long");
ABSL_FLAG(uint64_t, ops, 0,
          "bench: stop after this many operations (0: duration only)");
ABSL_FLAG(uint64_t, value_size, 256, "bench: bytes per value");
ABSL_FLAG(uint64_t, keys, 1000, "bench: size of the key space");
ABSL_FLAG(double, read_ratio, 0.0,
          "bench: fraction of operations that are gets");

namespace raftkv::cli {
namespace {

constexpr char kUsageHead[] =
    R"(kvnode: a replicated, strongly consistent key-value store (raftkv)

Usage:
  kvnode demo [--tls]                  start a local 3-node cluster and show it at work
                                       (--tls: with certificates made by openssl)
  kvnode serve --node-id=N --cluster=ID=HOST:PORT,... --data-dir=DIR [--bind=HOST:PORT]
  kvnode serve --node-id=N --join=HOST:PORT,... --bind=HOST:PORT --data-dir=EMPTY_DIR
        serve also takes --metrics-bind=HOST:PORT: /metrics (Prometheus), /health, /ready
        and --client-bind=HOST:PORT: clients on a port of their own (--bind: peers)
  kvnode [--cluster=HOST:PORT,...] COMMAND
  kvnode help COMMAND                  the usage of one command

)";

// After the commands (command_table.h).
constexpr char kUsageTail[] = R"(
Examples:
  kvnode serve --node-id=1 --bind=127.0.0.1:7001 \
      --cluster=1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003 --data-dir=/tmp/kv1
  kvnode --cluster=127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003 put greeting hello
  kvnode --cluster=127.0.0.1:7002 get greeting
  kvnode --cluster=127.0.0.1:7001 --output=json list --limit=10

Flags may also come from a file: --flagfile=PATH (one --flag=value per line).
Other flags: --output=simple|table|json  --timeout=5s  --tick-ms  --election-ticks
  --max-key-bytes  --max-value-bytes  --max-request-bytes  --session-ttl-ms
  --compact-after-entries  --snapshot-rate-mib  --quiet  --fast-failover=true
  --snapshot-compression=none|gzip  --peer-encoding=plain|packed
  --storage-write-buffer-mib=4  --read-mode=index|lease  --lease-clock-drift=0.1
  clients: --consistency=linearizable|serializable  --read-from=leader|any
  --max-connections=1024  --idle-timeout-ms=600000
  TLS (serve, with --client-bind): --cert-file --key-file --trusted-ca-file
    --peer-cert-file --peer-key-file --peer-trusted-ca-file [--auth-file]
    (SIGHUP reloads them); clients: --cert-file --key-file --ca-file
  --log-format=text|json  --log-level=debug|info|warning|error  --slow-ms=500

Exit codes: 0 ok, 1 not found, 2 usage error, 3 cluster unavailable,
            4 invalid argument (a limit), 5 compare failed, 6 other error,
            7 serve stopped because its storage failed (disk full, I/O error),
            8 refused in the cluster's present state (a membership change in
              flight, a learner too far behind): retry later,
            9 a backup file that is damaged, truncated or missing,
           10 permission denied (the client certificate's role, --auth-file),
           11 TLS refused (a certificate not trusted, expired, or missing).
)";

std::string Usage() {
  return absl::StrCat(kUsageHead, "Commands:\n", CommandsHelpText(),
                      kUsageTail);
}

const std::set<std::string> kFlags = {"node_id",
                                      "join",
                                      "cluster_token",
                                      "bind",
                                      "cluster",
                                      "data_dir",
                                      "tick_ms",
                                      "metrics_bind",
                                      "client_bind",
                                      "cert_file",
                                      "key_file",
                                      "trusted_ca_file",
                                      "ca_file",
                                      "peer_cert_file",
                                      "peer_key_file",
                                      "peer_trusted_ca_file",
                                      "auth_file",
                                      "tls",
                                      "max_connections",
                                      "idle_timeout_ms",
                                      "election_ticks",
                                      "fast_failover",
                                      "read_mode",
                                      "lease_clock_drift",
                                      "max_key_bytes",
                                      "max_value_bytes",
                                      "max_request_bytes",
                                      "session_ttl_ms",
                                      "quiet",
                                      "log_format",
                                      "log_level",
                                      "slow_ms",
                                      "output",
                                      "timeout",
                                      "consistency",
                                      "read_from",
                                      "limit",
                                      "keys_only",
                                      "digest",
                                      "expect_absent",
                                      "flagfile",
                                      "help",
                                      "clients",
                                      "conns",
                                      "duration",
                                      "ops",
                                      "value_size",
                                      "keys",
                                      "read_ratio",
                                      "compact_after_entries",
                                      "snapshot_rate_mib",
                                      "snapshot_compression",
                                      "storage_write_buffer_mib",
                                      "peer_encoding"};

int Serve(bool cluster_given) {
  kv::NodeOptions options;
  options.id = absl::GetFlag(FLAGS_node_id);
  options.data_dir = absl::GetFlag(FLAGS_data_dir);
  options.cluster_token = absl::GetFlag(FLAGS_cluster_token);
  for (absl::string_view address :
       absl::StrSplit(absl::GetFlag(FLAGS_join), ',', absl::SkipWhitespace())) {
    options.join.emplace_back(address);
  }
  if (cluster_given) {
    absl::StatusOr<std::map<raft::NodeId, std::string>> cluster =
        kv::ParseCluster(absl::GetFlag(FLAGS_cluster));
    if (!cluster.ok()) {
      fprintf(stderr, "kvnode: %s\n",
              std::string(cluster.status().message()).c_str());
      return kExitUsage;
    }
    options.cluster = *cluster;
    if (cluster->count(options.id) == 0) {
      fprintf(
          stderr,
          "kvnode: --node-id must be one of the ids in --cluster (got %llu)\n",
          static_cast<unsigned long long>(options.id));
      return kExitUsage;
    }
  }
  if (options.id == 0) {
    fprintf(stderr, "kvnode: --node-id must be a positive number\n");
    return kExitUsage;
  }
  if (!options.join.empty() && cluster_given) {
    fprintf(stderr,
            "kvnode: give --cluster to bootstrap a new cluster or --join to "
            "join a running one, not both\n");
    return kExitUsage;
  }
  if (options.data_dir.empty()) {
    fprintf(stderr,
            "kvnode: --data-dir is required: where this node keeps its log and "
            "state\n");
    return kExitUsage;
  }
  options.bind = absl::GetFlag(FLAGS_bind);
  if (options.bind.empty() && cluster_given)
    options.bind = options.cluster.at(options.id);
  if (options.bind.empty()) {
    fprintf(stderr,
            "kvnode: --bind=HOST:PORT is required without --cluster: the "
            "address this node listens on, as the cluster knows it\n");
    return kExitUsage;
  }
  options.tick_ms = absl::GetFlag(FLAGS_tick_ms);
  options.metrics_bind = absl::GetFlag(FLAGS_metrics_bind);
  options.client_bind = absl::GetFlag(FLAGS_client_bind);
  options.client_tls = {absl::GetFlag(FLAGS_cert_file),
                        absl::GetFlag(FLAGS_key_file),
                        absl::GetFlag(FLAGS_trusted_ca_file)};
  options.peer_tls = {absl::GetFlag(FLAGS_peer_cert_file),
                      absl::GetFlag(FLAGS_peer_key_file),
                      absl::GetFlag(FLAGS_peer_trusted_ca_file), "--peer-"};
  options.auth_file = absl::GetFlag(FLAGS_auth_file);
  options.max_connections = absl::GetFlag(FLAGS_max_connections);
  options.idle_timeout_ms = absl::GetFlag(FLAGS_idle_timeout_ms);
  options.election_ticks = absl::GetFlag(FLAGS_election_ticks);
  options.fast_failover = absl::GetFlag(FLAGS_fast_failover);
  const std::string read_mode = absl::GetFlag(FLAGS_read_mode);
  options.lease_clock_drift = absl::GetFlag(FLAGS_lease_clock_drift);
  if ((read_mode != "index" && read_mode != "lease") ||
      !(options.lease_clock_drift >= 0 && options.lease_clock_drift < 1)) {
    fprintf(stderr,
            "kvnode: --read-mode must be index or lease and "
            "--lease-clock-drift at least 0 and below 1\n");
    return kExitUsage;
  }
  options.lease_reads = read_mode == "lease";
  options.max_key_bytes = absl::GetFlag(FLAGS_max_key_bytes);
  options.max_value_bytes = absl::GetFlag(FLAGS_max_value_bytes);
  options.max_request_bytes = absl::GetFlag(FLAGS_max_request_bytes);
  options.session_ttl_ms = absl::GetFlag(FLAGS_session_ttl_ms);
  options.compact_after_entries = absl::GetFlag(FLAGS_compact_after_entries);
  options.snapshot_rate_mib = absl::GetFlag(FLAGS_snapshot_rate_mib);
  const std::string compression = absl::GetFlag(FLAGS_snapshot_compression);
  const std::string encoding = absl::GetFlag(FLAGS_peer_encoding);
  if ((compression != "none" && compression != "gzip") ||
      (encoding != "plain" && encoding != "packed")) {
    fprintf(stderr,
            "kvnode: --snapshot-compression must be none or gzip and "
            "--peer-encoding plain or packed\n");
    return kExitUsage;
  }
  options.snapshot_gzip = compression == "gzip";
  options.storage_write_buffer_mib =
      absl::GetFlag(FLAGS_storage_write_buffer_mib);
  if (options.storage_write_buffer_mib < 1 ||
      options.storage_write_buffer_mib > 1024) {
    fprintf(stderr,
            "kvnode: --storage-write-buffer-mib must be from 1 to 1024\n");
    return kExitUsage;
  }
  options.peer_packed = encoding == "packed";
  if (options.compact_after_entries == 0) {
    fprintf(stderr, "kvnode: --compact-after-entries must be at least 1\n");
    return kExitUsage;
  }
  if (options.tick_ms == 0 || options.election_ticks < 2) {
    fprintf(
        stderr,
        "kvnode: --tick-ms must be positive and --election-ticks at least 2\n");
    return kExitUsage;
  }
  const std::string format = absl::GetFlag(FLAGS_log_format);
  std::optional<kv::LogLevel> level =
      kv::ParseLogLevel(absl::GetFlag(FLAGS_log_level));
  if ((format != "text" && format != "json") || !level.has_value()) {
    fprintf(stderr,
            "kvnode: --log-format must be text or json and --log-level one "
            "of debug, info, warning, error\n");
    return kExitUsage;
  }
  if (absl::GetFlag(FLAGS_quiet)) level = kv::LogLevel::kError;
  options.slow_ms = absl::GetFlag(FLAGS_slow_ms);
  const raft::NodeId node = options.id;
  const bool json = format == "json";
  options.log = [node, json, least = *level](const kv::LogRecord& record) {
    if (record.level < least) return;
    const std::string line = kv::FormatLogRecord(
        record, node, json, absl::ToUnixMicros(absl::Now()));
    fprintf(stderr, "%s\n", line.c_str());
  };
  absl::Status status = kv::RunNode(options);
  if (!status.ok()) {
    fprintf(stderr, "kvnode: %s\n", std::string(status.message()).c_str());
    if (status.code() == absl::StatusCode::kInvalidArgument) return kExitUsage;
    // Storage that fails while serving (DataLoss) or cannot even be opened
    // because its disk is full (ResourceExhausted): exit 7 either way.
    if (status.code() == absl::StatusCode::kDataLoss ||
        status.code() == absl::StatusCode::kResourceExhausted)
      return kExitStorageFailed;
    return kExitError;
  }
  return kExitOk;
}

// `kvnode help COMMAND`: that command's lines of the usage (the command
// table's entries, or the "kvnode NAME" lines above them).
int HelpFor(const std::string& command) {
  std::string out = cli::HelpFor(command);
  for (absl::string_view line : absl::StrSplit(kUsageHead, '\n')) {
    if (absl::StartsWith(line, absl::StrCat("  kvnode ", command, " ")) ||
        absl::StartsWith(line, absl::StrCat("        ", command, " ")))
      absl::StrAppend(&out, line, "\n");
  }
  if (out.empty()) {
    fprintf(stderr,
            "kvnode: no command \"%s\"; run kvnode --help for the list\n",
            command.c_str());
    return kExitUsage;
  }
  fputs(out.c_str(), stdout);
  return kExitOk;
}

int Main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "help") == 0) return HelpFor(argv[2]);
  if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
      strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
    fputs(Usage().c_str(), argc < 2 ? stderr : stdout);
    return argc < 2 ? kExitUsage : kExitOk;
  }
  std::vector<std::string> normalized;
  if (!NormalizeFlags(argc, argv, kFlags, &normalized)) return kExitUsage;
  std::vector<char*> args;
  for (std::string& arg : normalized) args.push_back(arg.data());
  std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  std::vector<std::string> words(positional.begin() + 1, positional.end());
  if (words.empty()) {
    fputs(Usage().c_str(), stderr);
    return kExitUsage;
  }
  bool cluster_given = false;
  for (const std::string& arg : normalized)
    cluster_given |= absl::StartsWith(arg, "--cluster=");
  if (words[0] == "serve")
    return words.size() == 1
               ? Serve(cluster_given)
               : (fputs("kvnode: serve takes flags only\n", stderr),
                  kExitUsage);
  if (words[0] == "demo")
    return RunDemo("/proc/self/exe", absl::GetFlag(FLAGS_tls));

  CommandContext context;
  const std::string output = absl::GetFlag(FLAGS_output);
  if (output == "simple") {
    context.output = Output::kSimple;
  } else if (output == "table") {
    context.output = Output::kTable;
  } else if (output == "json") {
    context.output = Output::kJson;
  } else {
    fprintf(stderr,
            "kvnode: --output must be simple, table or json (got \"%s\")\n",
            output.c_str());
    return kExitUsage;
  }
  const std::string consistency = absl::GetFlag(FLAGS_consistency);
  if (consistency != "linearizable" && consistency != "serializable") {
    fprintf(stderr,
            "kvnode: --consistency must be linearizable or serializable (got "
            "\"%s\")\n",
            consistency.c_str());
    return kExitUsage;
  }
  const std::string read_from = absl::GetFlag(FLAGS_read_from);
  if (read_from != "any" && read_from != "leader") {
    fprintf(stderr, "kvnode: --read-from must be any or leader (got \"%s\")\n",
            read_from.c_str());
    return kExitUsage;
  }
  context.limit = absl::GetFlag(FLAGS_limit);
  context.keys_only = absl::GetFlag(FLAGS_keys_only);
  context.digest = absl::GetFlag(FLAGS_digest);
  context.expect_absent = absl::GetFlag(FLAGS_expect_absent);
  kv::ClientOptions options;
  options.cluster = absl::GetFlag(FLAGS_cluster);
  options.timeout_ms = static_cast<uint64_t>(
      absl::ToInt64Milliseconds(absl::GetFlag(FLAGS_timeout)));
  options.linearizable = consistency == "linearizable";
  options.spread_reads = read_from == "any";
  options.tls = {absl::GetFlag(FLAGS_cert_file), absl::GetFlag(FLAGS_key_file),
                 absl::GetFlag(FLAGS_ca_file)};
  if (options.timeout_ms == 0) {
    fprintf(stderr, "kvnode: --timeout must be positive, like 5s or 500ms\n");
    return kExitUsage;
  }
  const std::vector<std::string> names = CommandNames();
  if (std::find(names.begin(), names.end(), words[0]) == names.end()) {
    fprintf(stderr,
            "kvnode: unknown command \"%s\"; run kvnode --help for the list\n",
            words[0].c_str());
    return kExitUsage;
  }
  if (words[0] == "bench") {
    if (words.size() != 1) {
      fputs("kvnode: bench takes flags only\n", stderr);
      return kExitUsage;
    }
    BenchOptions bench;
    bench.cluster = options.cluster;
    bench.clients = absl::GetFlag(FLAGS_clients);
    bench.conns = absl::GetFlag(FLAGS_conns);
    bench.duration = absl::GetFlag(FLAGS_duration);
    bench.ops = absl::GetFlag(FLAGS_ops);
    bench.value_size = absl::GetFlag(FLAGS_value_size);
    bench.keys = absl::GetFlag(FLAGS_keys);
    bench.read_ratio = absl::GetFlag(FLAGS_read_ratio);
    bench.linearizable = options.linearizable;
    bench.timeout_ms = options.timeout_ms;
    return RunBenchCommand(bench,
                           KvTargets(bench.cluster, bench.timeout_ms,
                                     options.tls, options.spread_reads),
                           context.output);
  }
  SnapshotFlags snapshot;
  snapshot.output = context.output;
  snapshot.data_dir = absl::GetFlag(FLAGS_data_dir);
  snapshot.node_id = absl::GetFlag(FLAGS_node_id);
  snapshot.cluster = options.cluster;
  snapshot.cluster_token = absl::GetFlag(FLAGS_cluster_token);
  if (words[0] == "snapshot" && (words.size() < 2 || words[1] != "save")) {
    return RunSnapshotCommand(words, snapshot, nullptr);
  }
  auto client = kv::Client::Create(options);
  if (!client.ok()) {
    fprintf(stderr, "kvnode: %s\n",
            std::string(client.status().message()).c_str());
    return kExitUsage;
  }
  context.client = client->get();
  if (words[0] == "shell") return RunShell(context);
  if (words[0] == "snapshot")
    return RunSnapshotCommand(words, snapshot, client->get());
  return RunClientCommand(words, context);
}

}  // namespace
}  // namespace raftkv::cli

int main(int argc, char** argv) { return raftkv::cli::Main(argc, argv); }
