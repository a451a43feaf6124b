// The project's one home for early-return helpers over absl::Status and
// absl::StatusOr.
//
// Abseil 20220623 ships no status macros, so raftkv defines them here, once:
//
//   RETURN_IF_ERROR(storage.Append(entries));          // returns the status if
//   not ok ASSIGN_OR_RETURN(LogIndex last, storage.LastIndex());  // declares
//   and assigns, or returns ASSIGN_OR_RETURN(auto entries, storage.Entries(lo,
//   hi, max_bytes));
//
// Each argument expression is evaluated exactly once. The enclosing function
// must return absl::Status or absl::StatusOr<T> (a StatusOr converts from a
// non-ok Status). Thread safety: macros only; no state.
#ifndef RAFTKV_RAFT_STATUS_MACROS_H_
#define RAFTKV_RAFT_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define RAFTKV_STATUS_CONCAT_INNER_(a, b) a##b
#define RAFTKV_STATUS_CONCAT_(a, b) RAFTKV_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status) and returns it from the enclosing function
// if not ok.
#define RETURN_IF_ERROR(expr)                                                  \
  do {                                                                         \
    ::absl::Status raftkv_status_macro_status_ = (expr);                       \
    if (!raftkv_status_macro_status_.ok()) return raftkv_status_macro_status_; \
  } while (false)

// Evaluates `rexpr` (an absl::StatusOr<T>); returns its status if not ok, else
// moves its value into `lhs`, which may be a declaration such as `auto x` or
// `const Foo& y`.
#define ASSIGN_OR_RETURN(lhs, rexpr)                                       \
  RAFTKV_ASSIGN_OR_RETURN_IMPL_(                                           \
      RAFTKV_STATUS_CONCAT_(raftkv_status_macro_statusor_, __LINE__), lhs, \
      rexpr)

#define RAFTKV_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                  \
  if (!statusor.ok()) return std::move(statusor).status();  \
  lhs = std::move(statusor).value()

#endif  // RAFTKV_RAFT_STATUS_MACROS_H_
