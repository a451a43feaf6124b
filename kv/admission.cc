#include "kv/admission.h"

#include "absl/strings/str_cat.h"

namespace raftkv::kv {

std::optional<Outcome> Admission::Key(absl::string_view key) const {
  if (key.empty()) return Invalid("key must not be empty");
  if (key.size() > limits_.max_key_bytes) {
    return Invalid(
        absl::StrCat("key of ", key.size(), " bytes exceeds the limit of ",
                     limits_.max_key_bytes, " bytes (--max-key-bytes)"));
  }
  return std::nullopt;
}

std::optional<Outcome> Admission::Value(const char* what, size_t size) const {
  if (size <= limits_.max_value_bytes) return std::nullopt;
  return Invalid(
      absl::StrCat(what, " of ", size, " bytes exceeds the limit of ",
                   limits_.max_value_bytes, " bytes (--max-value-bytes)"));
}

std::optional<Outcome> Admission::Command(
    net::wire::Command::Reader command) const {
  auto text = [](capnp::Data::Reader data) {
    return absl::string_view(reinterpret_cast<const char*>(data.begin()),
                             data.size());
  };
  std::optional<Outcome> refused;
  switch (command.which()) {
    case net::wire::Command::PUT:
      refused = Key(text(command.getPut().getKey()));
      if (!refused)
        refused = Value("value", command.getPut().getValue().size());
      break;
    case net::wire::Command::DELETE:
      refused = Key(text(command.getDelete().getKey()));
      break;
    case net::wire::Command::CAS:
      refused = Key(text(command.getCas().getKey()));
      if (!refused)
        refused = Value("value", command.getCas().getValue().size());
      if (!refused)
        refused =
            Value("expected value", command.getCas().getExpected().size());
      break;
    case net::wire::Command::NOOP:
      break;
  }
  if (refused) return refused;
  // The whole command as it would enter the log (its words on the wire).
  const uint64_t bytes = command.totalSize().wordCount * sizeof(capnp::word);
  if (bytes > limits_.max_request_bytes) {
    return Invalid(absl::StrCat(
        "request of ", bytes, " bytes exceeds the limit of ",
        limits_.max_request_bytes, " bytes (--max-request-bytes)"));
  }
  return std::nullopt;
}

std::optional<Outcome> Admission::ListPage(uint64_t limit) const {
  if (limit <= limits_.max_list_page) return std::nullopt;
  return Invalid(absl::StrCat("list limit ", limit, " exceeds the maximum of ",
                              limits_.max_list_page, " per page"));
}

}  // namespace raftkv::kv
