// OpenWhileHeldElsewhere: opens a store while another process has it open, for
// tests that a data directory is never opened twice at once.
//
// Forks a child that calls `open()` and keeps what it opened until the parent
// has called `open()` too, then returns the parent's result. Call it before the
// test process starts threads (fork copies only the calling thread). Thread
// safety: none; one call at a time.
#ifndef RAFTKV_TESTING_HELD_ELSEWHERE_H_
#define RAFTKV_TESTING_HELD_ELSEWHERE_H_

#include <sys/wait.h>
#include <unistd.h>

#include "absl/status/status.h"

namespace raftkv::testing {

// `open` returns an absl::StatusOr of what it opened.
template <typename Open>
absl::Status OpenWhileHeldElsewhere(Open open) {
  int ready[2], release[2];
  if (pipe(ready) != 0 || pipe(release) != 0)
    return absl::InternalError("pipe failed");
  const pid_t child = fork();
  if (child < 0) return absl::InternalError("fork failed");
  if (child == 0) {
    auto held = open();
    char byte = held.ok() ? 'y' : 'n';
    (void)!write(ready[1], &byte, 1);
    (void)!read(release[0], &byte, 1);
    _exit(0);
  }
  char byte = 0;
  absl::Status result;
  if (read(ready[0], &byte, 1) != 1 || byte != 'y') {
    result = absl::InternalError("the other process could not open it");
  } else {
    result = open().status();
  }
  (void)!write(release[1], "x", 1);
  int status = 0;
  waitpid(child, &status, 0);
  for (int fd : {ready[0], ready[1], release[0], release[1]}) close(fd);
  return result;
}

}  // namespace raftkv::testing

#endif  // RAFTKV_TESTING_HELD_ELSEWHERE_H_
