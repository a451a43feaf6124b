// Log records of a kvnode: a level, the Raft term the node was in, and a
// message; the process formats them (text or JSON lines, with the time and
// node id) and filters them by level. Warnings that could repeat every tick
// (a slow disk, a slow request, a peer that stays unreachable) go through a
// WarningLimiter, so that a lasting problem is one line per interval with a
// count, not a flood.
//
// Thread safety: values and pure functions; a WarningLimiter is used by one
// thread. Invariant: a limiter lets at most one line per key through per
// interval.
#ifndef RAFTKV_KV_LOG_H_
#define RAFTKV_KV_LOG_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "raft/types.h"

namespace raftkv::kv {

enum class LogLevel { kDebug, kInfo, kWarning, kError };

struct LogRecord {
  LogLevel level = LogLevel::kInfo;
  raft::Term term = 0;
  std::string message;
};

using LogSink = std::function<void(const LogRecord&)>;

const char* LogLevelName(LogLevel level);
// `text` as the inside of a JSON string (quotes, backslashes and control
// characters escaped); also for the HTTP face's JSON bodies.
std::string JsonEscaped(const std::string& text);
std::optional<LogLevel> ParseLogLevel(const std::string& name);

// One line, without its newline: text "HH:MM:SS.mmm LEVEL node=N term=T
// message" (local time), or one JSON object with time (RFC 3339, UTC),
// level, node, term and msg.
std::string FormatLogRecord(const LogRecord& record, raft::NodeId node,
                            bool json, int64_t unix_micros);

class WarningLimiter {
 public:
  explicit WarningLimiter(uint64_t interval_ms) : interval_ms_(interval_ms) {}
  // The line to log for a warning of kind `key` at `now_ms`, with the number
  // of the same kind held back since the last one; nullopt to hold it back.
  std::optional<std::string> Admit(const std::string& key,
                                   const std::string& message, uint64_t now_ms);

 private:
  struct State {
    uint64_t last_ms = 0;
    uint64_t held_back = 0;
    bool ever = false;
  };
  const uint64_t interval_ms_;
  std::map<std::string, State> states_;
};

}  // namespace raftkv::kv

#endif  // RAFTKV_KV_LOG_H_
