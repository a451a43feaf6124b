#include "kv/identity.h"

#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "storage/codec.h"
#include "storage/file_util.h"

namespace raftkv::kv {
namespace {

constexpr char kFileName[] = "/IDENTITY";
constexpr char kMagic[] = "raftkv-identity-1\n";

}  // namespace

std::string ClusterIdText(uint64_t cluster_id) {
  return absl::StrFormat("%016x", cluster_id);
}

absl::StatusOr<std::optional<NodeIdentity>> ReadIdentity(
    const std::string& data_dir) {
  const std::string path = data_dir + kFileName;
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return std::optional<NodeIdentity>();
  absl::StatusOr<std::string> data = storage::ReadFileToString(path);
  if (!data.ok()) return data.status();
  absl::string_view in = *data;
  const auto bad = [&path] {
    return absl::DataLossError(absl::StrCat(
        "corrupt node identity ", path,
        "; restore this node from a healthy peer (remove it and join anew)"));
  };
  if (!absl::ConsumePrefix(&in, kMagic)) return bad();
  std::optional<uint64_t> cluster = storage::GetBigEndian64(&in);
  std::optional<uint64_t> node = storage::GetBigEndian64(&in);
  if (!node.has_value() || *cluster == 0 || *node == 0 || in.empty() ||
      static_cast<uint8_t>(in[0]) > 1) {
    return bad();
  }
  const bool founder = in[0] == 1;
  in.remove_prefix(1);
  absl::StatusOr<MemberAddresses> members = DecodeMembers(in);
  if (!members.ok()) return bad();
  return std::optional<NodeIdentity>(
      NodeIdentity{*cluster, *node, founder, std::move(*members)});
}

absl::Status WriteIdentity(const std::string& data_dir,
                           const NodeIdentity& identity) {
  std::string out = kMagic;
  storage::PutBigEndian64(&out, identity.cluster_id);
  storage::PutBigEndian64(&out, identity.node_id);
  out.push_back(identity.founder ? 1 : 0);
  out += EncodeMembers(identity.initial_members);
  return storage::WriteFileAtomically(data_dir + kFileName, out);
}

}  // namespace raftkv::kv
