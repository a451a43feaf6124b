#include "cli/snapshot_commands.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "kv/identity.h"
#include "kv/members.h"
#include "kv/restore.h"

namespace raftkv::cli {
namespace {

constexpr char kUsage[] =
    "usage: kvnode snapshot save FILE | snapshot status FILE | snapshot "
    "restore FILE --data-dir=DIR --node-id=N --cluster=ID=HOST:PORT,... "
    "--cluster-token=NEW";

Report InfoReport(const std::string& path, const kv::BackupInfo& info) {
  Report report;
  std::vector<Record> members;
  std::vector<std::string> member_text;
  for (const auto& [id, address] : info.members) {
    members.push_back(Record().Number("id", id).Bytes("address", address));
    member_text.push_back(absl::StrCat(id, "=", address));
  }
  std::vector<uint64_t> voters(info.voters.begin(), info.voters.end());
  Record& r = report.record;
  r.Bytes("file", path)
      .Hex("cluster_id", info.cluster_id)
      .Number("index", info.index)
      .Number("term", info.term)
      .Numbers("voters", voters)
      .List("members", std::move(members))
      .Number("keys", info.keys)
      .Number("sessions", info.sessions)
      .Number("bytes", info.bytes)
      .Hex("checksum", info.checksum);
  // The simple form: one "name value" line each, the members on one line.
  Record simple =
      Record()
          .Bytes("file", path)
          .Hex("cluster", info.cluster_id)
          .Number("index", info.index)
          .Number("term", info.term)
          .Numbers("voters", voters)
          .Bytes("members", absl::StrJoin(member_text, ","))
          .Number("keys", info.keys)
          .Number("sessions", info.sessions)
          .Number("bytes", info.bytes)
          .Bytes("checksum",
                 absl::StrCat(absl::Hex(info.checksum, absl::kZeroPad16),
                              " (verified)"));
  report.simple = simple.Vertical();
  return report;
}

int BadBackup(const absl::Status& status) {
  fprintf(stderr, "kvnode: %s\n", std::string(status.message()).c_str());
  return kExitBadBackup;
}

}  // namespace

int RunSnapshotCommand(const std::vector<std::string>& words,
                       const SnapshotFlags& flags, kv::Client* client) {
  if (words.size() != 3) {
    fprintf(stderr, "kvnode: %s\n", kUsage);
    return kExitUsage;
  }
  const std::string& verb = words[1];
  const std::string& path = words[2];
  if (verb == "save") {
    absl::StatusOr<kv::BackupInfo> info = client->SaveSnapshot(path);
    if (!info.ok()) {
      if (absl::IsDataLoss(info.status())) return BadBackup(info.status());
      return ReportError(info.status());
    }
    Print(InfoReport(path, *info), flags.output);
    return kExitOk;
  }
  if (verb == "status") {
    absl::StatusOr<kv::BackupInfo> info = kv::ReadBackup(path);
    if (!info.ok()) return BadBackup(info.status());
    Print(InfoReport(path, *info), flags.output);
    return kExitOk;
  }
  if (verb == "restore") {
    if (flags.data_dir.empty() || flags.node_id == 0 ||
        flags.cluster.find('=') == std::string::npos) {
      fprintf(stderr,
              "kvnode: snapshot restore needs --data-dir, --node-id and the "
              "new cluster as --cluster=ID=HOST:PORT,...\n");
      return kExitUsage;
    }
    absl::StatusOr<kv::MemberAddresses> members =
        kv::ParseCluster(flags.cluster);
    if (!members.ok()) {
      fprintf(stderr, "kvnode: %s\n",
              std::string(members.status().message()).c_str());
      return kExitUsage;
    }
    kv::RestoreOptions options;
    options.file = path;
    options.data_dir = flags.data_dir;
    options.node_id = flags.node_id;
    options.members = *members;
    options.cluster_token = flags.cluster_token;
    kv::BackupInfo info;
    absl::StatusOr<kv::NodeIdentity> identity =
        kv::RestoreBackup(options, &info);
    if (!identity.ok()) {
      if (absl::IsDataLoss(identity.status()) ||
          absl::IsNotFound(identity.status()))
        return BadBackup(identity.status());
      fprintf(stderr, "kvnode: %s\n",
              std::string(identity.status().message()).c_str());
      return absl::IsInvalidArgument(identity.status()) ? kExitUsage
                                                        : kExitError;
    }
    Report report = InfoReport(path, info);
    report.record.Bytes("restored_into", flags.data_dir)
        .Hex("new_cluster_id", identity->cluster_id);
    absl::StrAppend(&*report.simple, "restored into ", flags.data_dir,
                    " as node ", flags.node_id, " of new cluster ",
                    kv::ClusterIdText(identity->cluster_id),
                    "; start it with\n",
                    "  kvnode serve --node-id=", flags.node_id,
                    " --data-dir=", flags.data_dir,
                    " --bind=", members->at(flags.node_id), "\n");
    Print(report, flags.output);
    return kExitOk;
  }
  fprintf(stderr, "kvnode: %s\n", kUsage);
  return kExitUsage;
}

}  // namespace raftkv::cli
