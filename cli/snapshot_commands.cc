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

void PrintInfo(const std::string& path, const kv::BackupInfo& info,
               Output output, const std::string& extra_json = "") {
  std::vector<std::string> members;
  for (const auto& [id, address] : info.members)
    members.push_back(absl::StrCat(id, "=", address));
  const std::string checksum =
      absl::StrCat(absl::Hex(info.checksum, absl::kZeroPad16));
  if (output == Output::kJson) {
    std::vector<std::string> member_json;
    for (const auto& [id, address] : info.members) {
      member_json.push_back(absl::StrCat(
          "{\"id\":", id, ",\"address\":", JsonString(address), "}"));
    }
    printf(
        "{\"file\":%s,\"cluster_id\":\"%s\",\"index\":%llu,\"term\":%llu,"
        "\"voters\":[%s],\"members\":[%s],\"keys\":%llu,\"sessions\":%llu,"
        "\"bytes\":%llu,\"checksum\":\"%s\"%s}\n",
        JsonString(path).c_str(), kv::ClusterIdText(info.cluster_id).c_str(),
        static_cast<unsigned long long>(info.index),
        static_cast<unsigned long long>(info.term),
        absl::StrJoin(info.voters, ",").c_str(),
        absl::StrJoin(member_json, ",").c_str(),
        static_cast<unsigned long long>(info.keys),
        static_cast<unsigned long long>(info.sessions),
        static_cast<unsigned long long>(info.bytes), checksum.c_str(),
        extra_json.c_str());
    return;
  }
  printf("%-10s %s\n", "file", path.c_str());
  printf("%-10s %s\n", "cluster", kv::ClusterIdText(info.cluster_id).c_str());
  printf("%-10s %llu\n", "index", static_cast<unsigned long long>(info.index));
  printf("%-10s %llu\n", "term", static_cast<unsigned long long>(info.term));
  printf("%-10s %s\n", "voters", absl::StrJoin(info.voters, ",").c_str());
  printf("%-10s %s\n", "members", absl::StrJoin(members, ",").c_str());
  printf("%-10s %llu\n", "keys", static_cast<unsigned long long>(info.keys));
  printf("%-10s %llu\n", "sessions",
         static_cast<unsigned long long>(info.sessions));
  printf("%-10s %llu\n", "bytes", static_cast<unsigned long long>(info.bytes));
  printf("%-10s %s (verified)\n", "checksum", checksum.c_str());
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
    PrintInfo(path, *info, flags.output);
    return kExitOk;
  }
  if (verb == "status") {
    absl::StatusOr<kv::BackupInfo> info = kv::ReadBackup(path);
    if (!info.ok()) return BadBackup(info.status());
    PrintInfo(path, *info, flags.output);
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
    if (flags.output == Output::kJson) {
      PrintInfo(path, info, flags.output,
                absl::StrCat(",\"restored_into\":", JsonString(flags.data_dir),
                             ",\"new_cluster_id\":\"",
                             kv::ClusterIdText(identity->cluster_id), "\""));
    } else {
      PrintInfo(path, info, flags.output);
      printf(
          "restored into %s as node %llu of new cluster %s; start it with\n"
          "  kvnode serve --node-id=%llu --data-dir=%s --bind=%s\n",
          flags.data_dir.c_str(),
          static_cast<unsigned long long>(flags.node_id),
          kv::ClusterIdText(identity->cluster_id).c_str(),
          static_cast<unsigned long long>(flags.node_id),
          flags.data_dir.c_str(), members->at(flags.node_id).c_str());
    }
    return kExitOk;
  }
  fprintf(stderr, "kvnode: %s\n", kUsage);
  return kExitUsage;
}

}  // namespace raftkv::cli
