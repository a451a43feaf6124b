#include "net/buffered_stream.h"

#include <algorithm>
#include <cstring>

namespace raftkv::net {

namespace {
constexpr size_t kBufferBytes = 64 << 10;
}

BufferedStream::BufferedStream(kj::Own<kj::AsyncIoStream> inner)
    : inner_(kj::mv(inner)), buffer_(kj::heapArray<kj::byte>(kBufferBytes)) {}

size_t BufferedStream::Drain(kj::byte* out, size_t max_bytes) {
  const size_t n = std::min(max_bytes, end_ - begin_);
  memcpy(out, buffer_.begin() + begin_, n);
  begin_ += n;
  if (begin_ == end_) begin_ = end_ = 0;
  return n;
}

kj::Promise<size_t> BufferedStream::tryRead(void* buffer, size_t min_bytes,
                                            size_t max_bytes) {
  kj::byte* out = static_cast<kj::byte*>(buffer);
  const size_t done = Drain(out, max_bytes);
  if (done >= min_bytes) return done;
  return ReadMore(out, min_bytes, max_bytes, done);
}

kj::Promise<size_t> BufferedStream::ReadMore(kj::byte* out, size_t min_bytes,
                                             size_t max_bytes, size_t done) {
  // The buffer is empty here. A large read goes straight into the caller's
  // memory.
  if (max_bytes - done >= kBufferBytes) {
    return inner_->tryRead(out + done, min_bytes - done, max_bytes - done)
        .then([this, done](size_t n) {
          bytes_read_ += n;
          return done + n;
        });
  }
  return inner_->tryRead(buffer_.begin(), 1, buffer_.size())
      .then([this, out, min_bytes, max_bytes,
             done](size_t n) -> kj::Promise<size_t> {
        if (n == 0) return done;  // end of stream
        bytes_read_ += n;
        end_ = n;
        const size_t total = done + Drain(out + done, max_bytes - done);
        if (total >= min_bytes) return total;
        return ReadMore(out, min_bytes, max_bytes, total);
      });
}

kj::Promise<bool> BufferedStream::ConsumePrefix(
    kj::ArrayPtr<const kj::byte> prefix) {
  const size_t have = end_ - begin_;
  if (memcmp(buffer_.begin() + begin_, prefix.begin(),
             std::min(have, prefix.size())) != 0) {
    return false;
  }
  if (have >= prefix.size()) {
    begin_ += prefix.size();
    if (begin_ == end_) begin_ = end_ = 0;
    return true;
  }
  if (begin_ > 0) {  // room for the rest of the prefix after what we have
    memmove(buffer_.begin(), buffer_.begin() + begin_, have);
    begin_ = 0;
    end_ = have;
  }
  return inner_->tryRead(buffer_.begin() + end_, 1, buffer_.size() - end_)
      .then([this, prefix](size_t n) -> kj::Promise<bool> {
        if (n == 0) return false;  // ended first
        bytes_read_ += n;
        end_ += n;
        return ConsumePrefix(prefix);
      });
}

kj::Promise<void> BufferedStream::write(const void* buffer, size_t size) {
  kj::ArrayPtr<const kj::byte> piece(static_cast<const kj::byte*>(buffer),
                                     size);
  return Queue(kj::arrayPtr(&piece, 1));
}

kj::Promise<void> BufferedStream::write(
    kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces) {
  return Queue(pieces);
}

kj::Promise<void> BufferedStream::Queue(
    kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces) {
  KJ_IF_MAYBE (error, write_error_) {
    return kj::cp(*error);
  }
  for (auto piece : pieces) {
    pending_.insert(pending_.end(), piece.begin(), piece.end());
  }
  ScheduleFlush();
  if (pending_.size() + in_flight_.size() < kMaxPendingBytes) {
    return kj::READY_NOW;
  }
  auto paf = kj::newPromiseAndFulfiller<void>();
  blocked_.push_back(kj::mv(paf.fulfiller));
  return kj::mv(paf.promise);
}

void BufferedStream::ScheduleFlush() {
  if (writing_ || flush_scheduled_ || pending_.empty()) return;
  flush_scheduled_ = true;
  // Runs once nothing else is ready: everything this turn wrote goes at once.
  tasks_.add(kj::evalLast([this] { Flush(); }));
}

void BufferedStream::Flush() {
  flush_scheduled_ = false;
  if (writing_ || pending_.empty()) return;
  writing_ = true;
  in_flight_.swap(pending_);
  ++flushes_;
  tasks_.add(inner_->write(in_flight_.data(), in_flight_.size()).then([this] {
    WriteDone();
  }));
}

void BufferedStream::WriteDone() {
  writing_ = false;
  in_flight_.clear();
  if (pending_.size() < kMaxPendingBytes) {
    for (auto& writer : blocked_) writer->fulfill();
    blocked_.clear();
  }
  ScheduleFlush();
  if (!writing_ && !flush_scheduled_ && shutdown_requested_) {
    shutdown_requested_ = false;
    inner_->shutdownWrite();
  }
}

void BufferedStream::WriteFailed(kj::Exception&& e) {
  writing_ = false;
  pending_.clear();
  in_flight_.clear();
  for (auto& writer : blocked_) writer->reject(kj::cp(e));
  blocked_.clear();
  write_error_ = kj::mv(e);
}

void BufferedStream::shutdownWrite() {
  if (writing_ || flush_scheduled_) {
    shutdown_requested_ = true;  // once the pending bytes are out
    return;
  }
  inner_->shutdownWrite();
}

}  // namespace raftkv::net
