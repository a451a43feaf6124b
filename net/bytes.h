// Conversions between Cap'n Proto Data (and Text) fields and std::string, the
// one home for them. Thread safety: pure functions. Invariant: AsData's result
// aliases its argument, which must outlive it.
#ifndef RAFTKV_NET_BYTES_H_
#define RAFTKV_NET_BYTES_H_

#include <capnp/blob.h>

#include <string>

#include "absl/strings/string_view.h"

namespace raftkv::net {

inline std::string ToString(capnp::Data::Reader data) {
  return std::string(reinterpret_cast<const char*>(data.begin()), data.size());
}

inline absl::string_view AsStringView(capnp::Data::Reader data) {
  return absl::string_view(reinterpret_cast<const char*>(data.begin()),
                           data.size());
}

inline absl::string_view AsStringView(capnp::Text::Reader text) {
  return absl::string_view(text.cStr(), text.size());
}

inline capnp::Data::Reader AsData(const std::string& s) {
  return capnp::Data::Reader(reinterpret_cast<const kj::byte*>(s.data()),
                             s.size());
}

}  // namespace raftkv::net

#endif  // RAFTKV_NET_BYTES_H_
