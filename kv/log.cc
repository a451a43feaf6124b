#include "kv/log.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace raftkv::kv {

const char* LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

std::optional<LogLevel> ParseLogLevel(const std::string& name) {
  for (LogLevel level : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning,
                         LogLevel::kError}) {
    if (name == LogLevelName(level)) return level;
  }
  if (name == "warn") return LogLevel::kWarning;
  return std::nullopt;
}

std::string JsonEscaped(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      absl::StrAppend(&out, "\\u00", absl::Hex(c, absl::kZeroPad2));
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

std::string FormatLogRecord(const LogRecord& record, raft::NodeId node,
                            bool json, int64_t unix_micros) {
  const absl::Time time = absl::FromUnixMicros(unix_micros);
  if (json) {
    return absl::StrCat(
        "{\"time\":\"",
        absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone()),
        "\",\"level\":\"", LogLevelName(record.level), "\",\"node\":", node,
        ",\"term\":", record.term, ",\"msg\":\"", JsonEscaped(record.message),
        "\"}");
  }
  std::string level = LogLevelName(record.level);
  for (char& c : level) c = static_cast<char>(toupper(c));
  return absl::StrCat(
      absl::FormatTime("%H:%M:%E3S", time, absl::LocalTimeZone()), " ", level,
      " node=", node, " term=", record.term, " ", record.message);
}

std::optional<std::string> WarningLimiter::Admit(const std::string& key,
                                                 const std::string& message,
                                                 uint64_t now_ms) {
  State& state = states_[key];
  if (state.ever && now_ms < state.last_ms + interval_ms_) {
    ++state.held_back;
    return std::nullopt;
  }
  std::string line = message;
  if (state.held_back > 0) {
    absl::StrAppend(&line, " (", state.held_back, " more like it in the last ",
                    (now_ms - state.last_ms) / 1000, " s)");
  }
  state = {now_ms, 0, true};
  return line;
}

}  // namespace raftkv::kv
