// Permissions: which client may do what. A small file maps the identity in a
// client's certificate (its common name) to one role:
//
//   # IDENTITY   ROLE
//   alice        admin        membership, move-leader, snapshot save, + below
//   ci-writer    read-write   put, del, cas, + below
//   dashboard    read-only    get, list, status, member list
//
// An identity the file does not list may do nothing. Without a file every
// client the CA vouches for is an admin (as etcd without auth enabled).
//
// Thread safety: immutable after Load.
#ifndef RAFTKV_KV_PERMISSIONS_H_
#define RAFTKV_KV_PERMISSIONS_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"

namespace raftkv::kv {

enum class Role { kNone = 0, kReadOnly = 1, kReadWrite = 2, kAdmin = 3 };

const char* RoleName(Role role);

class Permissions {
 public:
  // Everyone is an admin.
  Permissions() = default;
  static absl::StatusOr<Permissions> Load(const std::string& path);
  static absl::StatusOr<Permissions> Parse(const std::string& text,
                                           const std::string& path);

  Role RoleOf(const std::string& identity) const;

 private:
  bool open_ = true;  // no file: everyone is an admin
  std::map<std::string, Role> roles_;
};

}  // namespace raftkv::kv

#endif  // RAFTKV_KV_PERMISSIONS_H_
