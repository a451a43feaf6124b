#include "kv/permissions.h"

#include <fstream>
#include <iterator>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace raftkv::kv {

const char* RoleName(Role role) {
  switch (role) {
    case Role::kNone:
      return "none";
    case Role::kReadOnly:
      return "read-only";
    case Role::kReadWrite:
      return "read-write";
    case Role::kAdmin:
      return "admin";
  }
  return "none";
}

absl::StatusOr<Permissions> Permissions::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read --auth-file=", path));
  }
  return Parse(std::string((std::istreambuf_iterator<char>(in)),
                           std::istreambuf_iterator<char>()),
               path);
}

absl::StatusOr<Permissions> Permissions::Parse(const std::string& text,
                                               const std::string& path) {
  Permissions permissions;
  permissions.open_ = false;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    line = absl::StripAsciiWhitespace(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    std::vector<std::string> words =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    Role role = Role::kNone;
    if (words.size() == 2 && words[1] == "read-only") role = Role::kReadOnly;
    if (words.size() == 2 && words[1] == "read-write") role = Role::kReadWrite;
    if (words.size() == 2 && words[1] == "admin") role = Role::kAdmin;
    if (role == Role::kNone) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", number,
                       ": expected IDENTITY ROLE with ROLE one of "
                       "read-only, read-write, admin, got \"",
                       line, "\""));
    }
    if (!permissions.roles_.emplace(words[0], role).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", number, ": ", words[0], " is listed twice"));
    }
  }
  return permissions;
}

Role Permissions::RoleOf(const std::string& identity) const {
  if (open_) return Role::kAdmin;
  auto it = roles_.find(identity);
  return it == roles_.end() ? Role::kNone : it->second;
}

}  // namespace raftkv::kv
