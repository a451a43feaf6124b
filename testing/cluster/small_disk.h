// SmallDisk: puts a stopped node's data directory on a disk that is about to
// fill up: a tmpfs mounted over it, holding a copy of its data (runs of zeros
// left as holes, so preallocated space takes no room), with all but
// `free_bytes` taken by a filler file (as if another program had filled the
// disk). Unmount() copies the data back to an ordinary directory, as an
// operator moving the node to a larger disk would.
//
// Needs root (mount); Mount() says why not elsewhere. Call
// EnterPrivateMounts() first (test mains do) so that a crashed test leaves no
// mount behind. Thread safety: one owner. Invariant: while mounted, the data
// directory's contents live only on the tmpfs.
#ifndef RAFTKV_TESTING_CLUSTER_SMALL_DISK_H_
#define RAFTKV_TESTING_CLUSTER_SMALL_DISK_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace raftkv::testing {

// Moves this process into a mount namespace of its own whose mounts do not
// propagate back. Returns "" on success, else why not.
std::string EnterPrivateMounts();

class SmallDisk {
 public:
  static absl::StatusOr<std::unique_ptr<SmallDisk>> Mount(
      const std::string& dir, uint64_t free_bytes);
  ~SmallDisk();

  absl::Status Unmount();

 private:
  explicit SmallDisk(std::string dir) : dir_(std::move(dir)) {}
  const std::string dir_;
  bool mounted_ = true;
};

}  // namespace raftkv::testing

#endif  // RAFTKV_TESTING_CLUSTER_SMALL_DISK_H_
