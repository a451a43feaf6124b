#include "kv/state_machine.h"

#include <capnp/message.h>
#include <capnp/serialize.h>

#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "net/bytes.h"
#include "net/kv.capnp.h"
#include "raft/confchange.h"
#include "raft/status_macros.h"
#include "storage/codec.h"

namespace raftkv::kv {

using net::AsData;
using net::ToString;
namespace {

using net::wire::Command;

std::string EncodeSession(uint64_t sequence, uint64_t last_active_ms,
                          const Outcome& result) {
  std::string out;
  storage::PutBigEndian64(&out, sequence);
  storage::PutBigEndian64(&out, last_active_ms);
  out.push_back(static_cast<char>(result.code));
  out.push_back(result.value.has_value() ? 1 : 0);
  storage::PutBigEndian64(&out, result.message.size());
  out += result.message;
  if (result.value.has_value()) out += *result.value;
  return out;
}

bool DecodeSession(absl::string_view in, uint64_t* sequence,
                   uint64_t* last_active_ms, Outcome* result) {
  std::optional<uint64_t> seq = storage::GetBigEndian64(&in);
  std::optional<uint64_t> last = storage::GetBigEndian64(&in);
  if (!last.has_value() || in.size() < 2) return false;
  const uint8_t code = static_cast<uint8_t>(in[0]);
  const bool has_value = in[1] != 0;
  in.remove_prefix(2);
  std::optional<uint64_t> message_size = storage::GetBigEndian64(&in);
  if (!message_size.has_value() || *message_size > in.size() || code > 6)
    return false;
  *sequence = *seq;
  *last_active_ms = *last;
  result->code = static_cast<Code>(code);
  result->message = std::string(in.substr(0, *message_size));
  in.remove_prefix(*message_size);
  if (has_value) result->value = std::string(in);
  return true;
}

// The session clock is kept under the reserved client id 0 (no command
// carries it), so a restarted or snapshot-installed replica expires exactly
// the sessions the others do.
constexpr uint64_t kClockRecord = 0;
// The sequence of a tombstone: the record of a session that expired.
constexpr uint64_t kExpiredSequence = UINT64_MAX;

std::string EncodeClock(uint64_t clock_ms) {
  std::string out;
  storage::PutBigEndian64(&out, clock_ms);
  return out;
}

}  // namespace

StateMachine::StateMachine(storage::KvStore* store, StateMachineOptions options)
    : store_(store), options_(options) {}

absl::Status StateMachine::Load() {
  ASSIGN_OR_RETURN(std::vector<storage::SessionRecord> records,
                   store_->LoadSessions());
  sessions_.clear();
  members_.clear();
  conf_ = raft::ConfState{};
  ++members_version_;
  tombstones_.clear();
  tombstone_order_.clear();
  clock_ms_ = 0;
  for (const storage::SessionRecord& record : records) {
    if (record.client_id == kMembersRecord) {
      RETURN_IF_ERROR(DecodeMembersState(record.state));
      continue;
    }
    if (record.client_id == kClockRecord) {
      absl::string_view in = record.state;
      std::optional<uint64_t> clock = storage::GetBigEndian64(&in);
      if (!clock.has_value()) {
        return absl::DataLossError("corrupt session clock record");
      }
      clock_ms_ = std::max(clock_ms_, *clock);
      continue;
    }
    Session session;
    if (!DecodeSession(record.state, &session.sequence, &session.last_active_ms,
                       &session.result)) {
      return absl::DataLossError(
          absl::StrCat("corrupt session record for client ", record.client_id));
    }
    clock_ms_ = std::max(clock_ms_, session.last_active_ms);
    if (session.sequence == kExpiredSequence) {
      tombstones_[record.client_id] = session.last_active_ms;
      tombstone_order_.insert({session.last_active_ms, record.client_id});
      continue;
    }
    sessions_[record.client_id] = std::move(session);
  }
  return absl::OkStatus();
}

// The members record: the configuration (voters, learners, outgoing voters)
// and the addresses.
std::string StateMachine::EncodeMembersState(const raft::ConfState& conf,
                                             const MemberAddresses& members) {
  raft::ConfChangeRecord record;
  record.conf = conf;
  record.context = EncodeMembers(members);
  return raft::EncodeConfChangeRecord(record);
}

absl::Status StateMachine::DecodeMembersState(absl::string_view state) {
  ASSIGN_OR_RETURN(raft::ConfChangeRecord record,
                   raft::DecodeConfChangeRecord(state));
  ASSIGN_OR_RETURN(members_, DecodeMembers(record.context));
  conf_ = record.conf;
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> StateMachine::Read(
    const std::string& key) {
  auto it = overlay_.find(key);
  if (it != overlay_.end()) return it->second;
  return store_->Get(key);
}

absl::StatusOr<Outcome> StateMachine::Apply(const raft::Entry& entry) {
  ASSIGN_OR_RETURN(std::vector<Outcome> results, ApplyEntries({&entry, 1}));
  return results.front();
}

absl::StatusOr<std::vector<Outcome>> StateMachine::ApplyEntries(
    absl::Span<const raft::Entry> entries) {
  std::vector<storage::KvBatch> batches(entries.size());
  std::vector<Outcome> results;
  results.reserve(entries.size());
  overlay_.clear();
  const uint64_t clock_before = clock_ms_;
  for (size_t i = 0; i < entries.size(); ++i) {
    batches[i].applied_index = entries[i].index;
    absl::StatusOr<Outcome> result = Prepare(entries[i], &batches[i]);
    if (!result.ok()) {
      overlay_.clear();
      return result.status();
    }
    // Later commands of this group must see this one's writes before they reach
    // the store.
    for (const storage::KvMutation& m : batches[i].mutations) {
      overlay_[m.key] = m.kind == storage::KvMutation::Kind::kPut
                            ? std::optional<std::string>(m.value)
                            : std::nullopt;
    }
    results.push_back(std::move(*result));
  }
  overlay_.clear();
  // The clock moves with every command, retries included; it must be durable
  // with them, or a replica that restarts would expire sessions differently.
  if (clock_ms_ != clock_before) {
    batches.back().session_puts.push_back(
        {kClockRecord, EncodeClock(clock_ms_)});
  }
  RETURN_IF_ERROR(store_->ApplyBatches(batches));
  return results;
}

absl::StatusOr<Outcome> StateMachine::Prepare(const raft::Entry& entry,
                                              storage::KvBatch* batch_out) {
  storage::KvBatch& batch = *batch_out;
  Outcome result;
  if (entry.type == raft::EntryType::kConfChange) {
    // The member addresses of the configuration this record puts in force.
    absl::StatusOr<raft::ConfChangeRecord> record =
        raft::DecodeConfChangeRecord(entry.data);
    if (!record.ok()) return record.status();
    ASSIGN_OR_RETURN(MemberAddresses members, DecodeMembers(record->context));
    members_ = MembersIn(members, record->conf);
    ++members_version_;
    conf_ = record->conf;
    batch.session_puts.push_back(
        {kMembersRecord, EncodeMembersState(conf_, members_)});
    return result;
  }
  if (entry.type != raft::EntryType::kNormal || entry.data.empty()) {
    return result;
  }

  // Decode into aligned words; a command that does not parse fails alike
  // everywhere.
  if (entry.data.size() % sizeof(capnp::word) != 0) {
    return Outcome{Code::kInvalidArgument, "malformed command", std::nullopt};
  }
  kj::Array<capnp::word> words =
      kj::heapArray<capnp::word>(entry.data.size() / sizeof(capnp::word));
  memcpy(words.begin(), entry.data.data(), entry.data.size());
  capnp::ReaderOptions limits;
  limits.traversalLimitInWords = words.size() + 16;
  uint64_t client_id = 0, sequence = 0;
  try {
    capnp::FlatArrayMessageReader reader(words, limits);
    Command::Reader command = reader.getRoot<Command>();
    client_id = command.getSession().getClientId();
    if (client_id == kMembersRecord) {
      return Outcome{Code::kInvalidArgument,
                     "client id 18446744073709551615 is reserved",
                     std::nullopt};
    }
    sequence = command.getSession().getSequence();
    clock_ms_ = std::max(clock_ms_, command.getTimestampMs());

    // Expire idle sessions (deterministic: the clock comes from the log),
    // leaving tombstones; the oldest tombstones go beyond kMaxTombstones.
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      if (it->first != client_id &&
          it->second.last_active_ms + options_.session_ttl_ms < clock_ms_) {
        tombstones_[it->first] = clock_ms_;
        tombstone_order_.insert({clock_ms_, it->first});
        batch.session_puts.push_back(
            {it->first, EncodeSession(kExpiredSequence, clock_ms_, {})});
        it = sessions_.erase(it);
      } else {
        ++it;
      }
    }
    while (tombstones_.size() > kMaxTombstones) {
      const uint64_t oldest = tombstone_order_.begin()->second;
      tombstone_order_.erase(tombstone_order_.begin());
      tombstones_.erase(oldest);
      batch.session_deletes.push_back(oldest);
    }
    if (client_id != 0 && tombstones_.count(client_id) > 0) {
      // Any command of an expired session, a retry of its first included:
      // it may have been applied before the session expired, so it must not
      // be applied again.
      return Outcome{Code::kSessionExpired,
                     absl::StrCat("session of client ", client_id,
                                  " expired; start a new session"),
                     std::nullopt};
    }

    auto session = sessions_.find(client_id);
    if (client_id != 0 && session != sessions_.end() &&
        sequence <= session->second.sequence) {
      // A retry: answer with what the original got, and change nothing (exactly
      // once).
      if (sequence == session->second.sequence) {
        result = session->second.result;
      } else {
        result = {Code::kInvalidArgument,
                  absl::StrCat("request ", sequence, " of client ", client_id,
                               " is older than its last request ",
                               session->second.sequence),
                  std::nullopt};
      }
      return result;
    }
    if (client_id != 0 && session == sessions_.end() && sequence > 1) {
      return Outcome{
          Code::kSessionExpired,
          absl::StrCat("session of client ", client_id,
                       " expired or is unknown; start a new session"),
          std::nullopt};
    }

    switch (command.which()) {
      case Command::PUT:
        batch.mutations.push_back({storage::KvMutation::Kind::kPut,
                                   ToString(command.getPut().getKey()),
                                   ToString(command.getPut().getValue())});
        break;
      case Command::DELETE: {
        std::string key = ToString(command.getDelete().getKey());
        ASSIGN_OR_RETURN(std::optional<std::string> current, Read(key));
        if (current.has_value()) {
          batch.mutations.push_back(
              {storage::KvMutation::Kind::kDelete, std::move(key), ""});
        } else {
          result.code = Code::kNotFound;
        }
        break;
      }
      case Command::CAS: {
        auto cas = command.getCas();
        std::string key = ToString(cas.getKey());
        ASSIGN_OR_RETURN(std::optional<std::string> current, Read(key));
        const bool matches = cas.getExpectAbsent()
                                 ? !current.has_value()
                                 : current.has_value() &&
                                       *current == ToString(cas.getExpected());
        if (matches) {
          batch.mutations.push_back({storage::KvMutation::Kind::kPut,
                                     std::move(key), ToString(cas.getValue())});
        } else {
          result.code = Code::kCompareFailed;
          result.value = current;
        }
        break;
      }
      case Command::NOOP:
        break;
    }
  } catch (const kj::Exception& e) {
    return Outcome{Code::kInvalidArgument, "malformed command", std::nullopt};
  }

  if (client_id != 0) {
    Session& session = sessions_[client_id];
    session.sequence = sequence;
    session.last_active_ms = clock_ms_;
    session.result = result;
    batch.session_puts.push_back(
        {client_id, EncodeSession(sequence, clock_ms_, result)});
  }
  return result;
}

}  // namespace raftkv::kv
