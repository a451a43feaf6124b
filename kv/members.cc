#include "kv/members.h"

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "raft/confchange.h"
#include "storage/codec.h"

namespace raftkv::kv {

MemberAddresses MembersIn(const MemberAddresses& addresses,
                          const raft::ConfState& conf) {
  MemberAddresses out;
  for (raft::NodeId id : raft::MembersOf(conf)) {
    auto it = addresses.find(id);
    if (it != addresses.end()) out.insert(*it);
  }
  return out;
}

std::string EncodeMembers(const MemberAddresses& members) {
  std::string out;
  storage::PutBigEndian64(&out, members.size());
  for (const auto& [id, address] : members) {
    storage::PutBigEndian64(&out, id);
    storage::PutBigEndian64(&out, address.size());
    out.append(address);
  }
  return out;
}

absl::StatusOr<MemberAddresses> DecodeMembers(absl::string_view in) {
  const auto bad = [] {
    return absl::DataLossError("corrupt member address record");
  };
  if (in.empty()) return MemberAddresses{};
  std::optional<uint64_t> count = storage::GetBigEndian64(&in);
  if (!count.has_value() || *count > in.size() / 16) return bad();
  MemberAddresses members;
  raft::NodeId last = raft::kNoNode;
  for (uint64_t i = 0; i < *count; ++i) {
    std::optional<uint64_t> id = storage::GetBigEndian64(&in);
    std::optional<uint64_t> size = storage::GetBigEndian64(&in);
    if (!size.has_value() || *size > in.size()) return bad();
    // EncodeMembers writes ids in increasing order, each once: anything else
    // is damage, and a repeated id would silently replace an address (found
    // by //fuzz:parsers_fuzzer).
    if (*id <= last) return bad();
    last = *id;
    members[*id] = std::string(in.substr(0, *size));
    in.remove_prefix(*size);
  }
  if (!in.empty()) return bad();
  return members;
}

uint64_t ClusterIdOf(const MemberAddresses& members, absl::string_view token) {
  // FNV-1a over the ids, addresses and token.
  uint64_t hash = 14695981039346656037ull;
  const auto mix = [&hash](absl::string_view bytes) {
    for (char c : bytes)
      hash = (hash ^ static_cast<uint8_t>(c)) * 1099511628211ull;
    hash = (hash ^ 0xff) * 1099511628211ull;
  };
  for (const auto& [id, address] : members) mix(std::to_string(id));
  mix(token);
  return hash == 0 ? 1 : hash;
}

absl::StatusOr<std::map<raft::NodeId, std::string>> ParseCluster(
    const std::string& spec) {
  std::map<raft::NodeId, std::string> cluster;
  for (absl::string_view part :
       absl::StrSplit(spec, ',', absl::SkipWhitespace())) {
    std::vector<std::string> kv = absl::StrSplit(part, absl::MaxSplits('=', 1));
    uint64_t id = 0;
    if (kv.size() != 2 || !absl::SimpleAtoi(kv[0], &id) || id == 0 ||
        kv[1].empty() || kv[1].find(':') == std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bad --cluster entry \"", part,
          "\": expected ID=HOST:PORT with ID a positive "
          "number, as in 1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003"));
    }
    if (!cluster.emplace(id, kv[1]).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("--cluster names node ", id, " twice"));
    }
  }
  if (cluster.empty()) {
    return absl::InvalidArgumentError(
        "--cluster is empty: give every member as ID=HOST:PORT, "
        "comma-separated");
  }
  return cluster;
}

}  // namespace raftkv::kv
