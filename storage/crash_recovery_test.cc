// kill -9 against the real write-ahead log, many times, seeded and bounded in
// time.
//
// A child process (this binary, re-executed with --crash_child) opens the log
// (with small segments, so it rolls over and removes segments often) and
// appends a deterministic sequence of batches, some of which replace a suffix
// of the log as a follower does after a conflict (§5.3), and some of which
// are followed by a compaction. It reports each batch on stdout only after
// Save() (and Compact()) returned, i.e. after the fsync. The parent SIGKILLs it
// at a random moment, reopens the log and checks that it opens cleanly, that
// the log is contiguous, and that it holds exactly the state after every
// reported batch, plus at most the one batch that was in flight. Then the next
// child continues from there.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/wal_log_storage.h"
#include "testing/temp_dir.h"

extern char** environ;

namespace raftkv::storage {
namespace {

using raft::Entry;
using raft::LogIndex;
using raft::Term;

// The log as the test models it: terms[i] is the term of entry i + 1, of
// which entries through `compacted` are gone.
struct Model {
  std::vector<Term> terms;
  LogIndex compacted = 0;
  friend bool operator==(const Model&, const Model&) = default;
};

struct Batch {
  LogIndex first;
  LogIndex count;
  Term term;
  LogIndex compact_to;  // 0: no compaction after it
};

WalLogStorageOptions SmallSegments() {
  WalLogStorageOptions options;
  options.segment_bytes = 16 << 10;
  options.entry_cache_bytes = 4 << 10;  // reads come from the files too
  return options;
}

std::string Payload(LogIndex index, Term term) {
  std::string data = absl::StrCat("entry-", index, "-term-", term, "-");
  data.append((index * 7919) % 300, static_cast<char>('a' + index % 26));
  return data;
}

// Both processes derive the same batches from the same seed and starting model.
Batch NextBatch(std::mt19937_64& rng, const Model& model) {
  const LogIndex last = model.terms.size();
  const Term last_term = model.terms.empty() ? 1 : model.terms.back();
  Batch batch{last + 1, 1 + rng() % 64, last_term, 0};
  if (last > model.compacted + 8 &&
      rng() % 5 == 0) {  // a new leader overwrites a conflicting suffix
    batch.first = last - rng() % 8;
    batch.term = last_term + 1;
  }
  // Now and then, compact all but the newest few hundred entries.
  const LogIndex new_last = batch.first + batch.count - 1;
  if (rng() % 6 == 0 && new_last > model.compacted + 300)
    batch.compact_to = new_last - 200;
  return batch;
}

void ApplyToModel(const Batch& batch, Model* model) {
  model->terms.resize(batch.first - 1);
  model->terms.insert(model->terms.end(), batch.count, batch.term);
  if (batch.compact_to > 0) model->compacted = batch.compact_to;
}

std::vector<Entry> Entries(const Batch& batch) {
  std::vector<Entry> entries;
  for (LogIndex i = batch.first; i < batch.first + batch.count; ++i) {
    entries.push_back(
        Entry{batch.term, i, raft::EntryType::kNormal, Payload(i, batch.term)});
  }
  return entries;
}

// Reads the log back. Compacted entries are gone: their terms read as 0,
// except the last one's, which the snapshot keeps.
absl::StatusOr<Model> ReadModel(const WalLogStorage& log) {
  Model model;
  model.compacted = log.FirstIndex() - 1;
  model.terms.assign(model.compacted, 0);
  if (model.compacted > 0) model.terms.back() = *log.TermAt(model.compacted);
  auto entries =
      log.Entries(log.FirstIndex(), log.LastIndex() + 1, raft::kNoByteLimit);
  if (!entries.ok()) return entries.status();
  for (const Entry& entry : *entries) {
    if (entry.index != model.terms.size() + 1)
      return absl::DataLossError("log is not contiguous");
    if (entry.data != Payload(entry.index, entry.term)) {
      return absl::DataLossError(
          absl::StrCat("entry ", entry.index, " has wrong data"));
    }
    model.terms.push_back(entry.term);
  }
  return model;
}

// `expected` as the log can still show it: compacted terms forgotten.
Model AsRecoverable(Model expected) {
  for (LogIndex i = 1; i < expected.compacted; ++i) expected.terms[i - 1] = 0;
  return expected;
}

// The child: append batches until killed (or, as a safety net, for at most 20
// seconds).
int RunChild(const std::string& path, uint64_t seed) {
  auto log = WalLogStorage::Open(path, SmallSegments());
  if (!log.ok()) {
    fprintf(stderr, "child: %s\n", std::string(log.status().message()).c_str());
    return 1;
  }
  auto model = ReadModel(**log);
  if (!model.ok()) return 1;
  std::mt19937_64 rng(seed);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    Batch batch = NextBatch(rng, *model);
    raft::HardState state{batch.term, 1, batch.first - 1};
    if (!(*log)->Save(state, Entries(batch)).ok()) return 1;
    if (batch.compact_to > 0 &&
        !(*log)->Compact(batch.compact_to, raft::ConfState{{1}, {}, {}}).ok())
      return 1;
    ApplyToModel(batch, &*model);
    if (write(STDOUT_FILENO, "+", 1) != 1)
      return 1;  // reported only once durable
  }
  return 0;
}

TEST(CrashRecoveryTest, KillNine_KeepsEveryReportedBatchAndOpensCleanly) {
  auto dir = testing::MakeTempDir("crash_recovery");
  ASSERT_TRUE(dir.ok());
  const std::string path = dir->path() + "/raft-log";
  std::mt19937_64 test_rng(20261127);
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(40);
  Model model;
  int kills = 0, reported_total = 0, in_flight_landed = 0;
  uint64_t oldest_segment = 0;  // > 1: compactions removed segments
  auto first_segment = [](const WalLogStorage& log) {
    return *wal::ParseSegmentName(log.SegmentFiles().front());
  };

  for (int round = 0; round < 30 && std::chrono::steady_clock::now() < deadline;
       ++round) {
    const uint64_t seed = test_rng();
    int out[2];
    ASSERT_EQ(pipe(out), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    std::string self = "/proc/self/exe", flag = "--crash_child",
                seed_arg = absl::StrCat(seed);
    std::string path_arg = path;
    char* argv[] = {self.data(), flag.data(), path_arg.data(), seed_arg.data(),
                    nullptr};
    pid_t child = 0;
    ASSERT_EQ(
        posix_spawn(&child, "/proc/self/exe", &actions, nullptr, argv, environ),
        0);
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);

    // Let it write for a random while, then kill -9 mid-flight.
    const int run_ms = 5 + static_cast<int>(test_rng() % 120);
    int reported = 0;
    const auto kill_at =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(run_ms);
    char buffer[4096];
    while (std::chrono::steady_clock::now() < kill_at) {
      pollfd fd{out[0], POLLIN, 0};
      if (poll(&fd, 1, 1) > 0) {
        ssize_t n = read(out[0], buffer, sizeof(buffer));
        if (n <= 0) break;
        reported += static_cast<int>(n);
      }
    }
    kill(child, SIGKILL);
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ssize_t n;
    while ((n = read(out[0], buffer, sizeof(buffer))) > 0)
      reported += static_cast<int>(n);
    close(out[0]);
    ASSERT_TRUE(WIFSIGNALED(status))
        << "child exited on its own with " << WEXITSTATUS(status);
    ++kills;
    reported_total += reported;

    // Expected: the state after `reported` batches, or after one more (in
    // flight).
    std::mt19937_64 rng(seed);
    for (int i = 0; i < reported; ++i)
      ApplyToModel(NextBatch(rng, model), &model);
    // The batch in flight may have landed, with or without its compaction.
    const Batch in_flight = NextBatch(rng, model);
    Model saved_only = model, with_in_flight = model;
    Batch save_part = in_flight;
    save_part.compact_to = 0;
    ApplyToModel(save_part, &saved_only);
    ApplyToModel(in_flight, &with_in_flight);

    auto log = WalLogStorage::Open(path, SmallSegments());
    ASSERT_TRUE(log.ok()) << "round " << round << " seed " << seed << ": "
                          << log.status();
    auto recovered = ReadModel(**log);
    ASSERT_TRUE(recovered.ok())
        << "round " << round << " seed " << seed << ": " << recovered.status();
    for (const Model* landed : {&with_in_flight, &saved_only}) {
      if (*recovered == AsRecoverable(*landed) &&
          *recovered != AsRecoverable(model)) {
        ++in_flight_landed;
        model = *landed;
        break;
      }
    }
    ASSERT_EQ(*recovered, AsRecoverable(model))
        << "round " << round << " seed " << seed << ": after " << reported
        << " reported batches";
    const raft::HardState hard_state = (*log)->GetInitialState().hard_state;
    if (!model.terms.empty()) {
      EXPECT_EQ(hard_state.term, model.terms.back());
    }
    oldest_segment = first_segment(**log);
  }
  EXPECT_GE(kills, 10);
  EXPECT_GT(reported_total, 0);
  fprintf(stderr,
          "kills=%d reported_batches=%d in_flight_batches_that_landed=%d "
          "entries=%zu compacted_through=%lu oldest_segment=%lu\n",
          kills, reported_total, in_flight_landed, model.terms.size(),
          static_cast<unsigned long>(model.compacted),
          static_cast<unsigned long>(oldest_segment));
  EXPECT_GT(model.compacted, 0u);
  EXPECT_GT(oldest_segment, 1u);
}

}  // namespace
}  // namespace raftkv::storage

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "--crash_child") == 0) {
    return raftkv::storage::RunChild(argv[2],
                                     std::strtoull(argv[3], nullptr, 10));
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
