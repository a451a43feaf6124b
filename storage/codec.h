// Fixed-width big-endian encodings for the keys and records the LevelDB stores
// write.
//
// Big-endian index keys make LevelDB's byte order equal to numeric order, so
// iterating keys walks the log in index order. Thread safety: pure functions.
// Invariant: every Decode* rejects input of the wrong length instead of reading
// past it.
#ifndef RAFTKV_STORAGE_CODEC_H_
#define RAFTKV_STORAGE_CODEC_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace raftkv::storage {

// FNV-1a 64: the checksum of snapshot streams and backup files. Start with
// kFnv1a64Offset and feed bytes in order, in any number of calls.
inline constexpr uint64_t kFnv1a64Offset = 14695981039346656037ull;
inline uint64_t Fnv1a64(uint64_t hash, absl::string_view bytes) {
  for (char c : bytes)
    hash = (hash ^ static_cast<uint8_t>(c)) * 1099511628211ull;
  return hash;
}

inline void PutBigEndian64(std::string* out, uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

// Reads 8 bytes from the front of `*in` and advances it; nullopt if fewer
// remain.
inline std::optional<uint64_t> GetBigEndian64(absl::string_view* in) {
  if (in->size() < 8) return std::nullopt;
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i)
    value = (value << 8) | static_cast<uint8_t>((*in)[i]);
  in->remove_prefix(8);
  return value;
}

}  // namespace raftkv::storage

#endif  // RAFTKV_STORAGE_CODEC_H_
