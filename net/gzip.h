// Gzip compression of byte strings (KJ's gzip streams over zlib), for
// snapshot chunks sent with --snapshot-compression=gzip.
//
// Gunzip never holds more than `limit` bytes of output: a stream that would
// inflate past it (a decompression bomb, or a sender with larger chunks than
// this node accepts) is refused with an error naming the limit as soon as the
// limit is passed. Corrupt or truncated input is an error, never a crash.
//
// Thread safety: pure functions, safe on any thread.
#ifndef RAFTKV_NET_GZIP_H_
#define RAFTKV_NET_GZIP_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace raftkv::net {

// zlib's fastest level: snapshot streams are bound by throughput, and level 1
// keeps most of the gain on repetitive data at a fraction of the CPU.
inline constexpr int kSnapshotGzipLevel = 1;

std::string Gzip(absl::string_view data, int level = kSnapshotGzipLevel);
absl::StatusOr<std::string> Gunzip(absl::string_view compressed, size_t limit);

}  // namespace raftkv::net

#endif  // RAFTKV_NET_GZIP_H_
