// BufferedStream: an AsyncIoStream that reads its underlying stream in 64 KiB
// gulps and writes, per event-loop turn, everything written during the turn at
// once.
//
// Cap'n Proto reads a message as several small reads (the segment table, then
// each segment) and writes each message with its own write; on a TCP socket
// each is a syscall, and with one small request per client operation those
// dominate the kernel time a profile of the leader shows. Reading ahead into a
// buffer turns the reads into about one syscall per burst of messages. Writes
// are copied into a pending buffer and reported done at once; the buffer goes
// out in one write when the event loop has nothing else ready (kj::evalLast),
// so the answers to every request that arrived together leave together. While
// one write is in progress, later bytes gather for the next. A writer that
// gets more than kMaxPendingBytes ahead of the socket waits for it. Thread
// safety: like any kj stream, one event loop thread. Invariants: bytes are
// delivered to readers exactly once and in order; bytes reach the underlying
// stream in the order written, at most one write at a time; after a failed
// write every later write fails with the same error.
#ifndef RAFTKV_NET_BUFFERED_STREAM_H_
#define RAFTKV_NET_BUFFERED_STREAM_H_

#include <kj/async-io.h>

#include <vector>

namespace raftkv::net {

class BufferedStream final : public kj::AsyncIoStream {
 public:
  explicit BufferedStream(kj::Own<kj::AsyncIoStream> inner);

  kj::Promise<size_t> tryRead(void* buffer, size_t min_bytes,
                              size_t max_bytes) override;
  static constexpr size_t kMaxPendingBytes = 4 << 20;

  kj::Promise<void> write(const void* buffer, size_t size) override;
  kj::Promise<void> write(
      kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces) override;
  kj::Promise<void> whenWriteDisconnected() override {
    return inner_->whenWriteDisconnected();
  }
  // After what is pending has been written.
  void shutdownWrite() override;
  void abortRead() override { inner_->abortRead(); }
  void getsockopt(int level, int option, void* value,
                  kj::uint* length) override {
    inner_->getsockopt(level, option, value, length);
  }
  void setsockopt(int level, int option, const void* value,
                  kj::uint length) override {
    inner_->setsockopt(level, option, value, length);
  }
  void getsockname(struct sockaddr* addr, kj::uint* length) override {
    inner_->getsockname(addr, length);
  }
  void getpeername(struct sockaddr* addr, kj::uint* length) override {
    inner_->getpeername(addr, length);
  }

  // Waits until the stream is known to start with `prefix` or not (a byte
  // differs, or the stream ends first). On a match the prefix is consumed;
  // otherwise nothing is, and the next read starts at the first byte.
  // `prefix` must outlive the promise and fit the read buffer.
  kj::Promise<bool> ConsumePrefix(kj::ArrayPtr<const kj::byte> prefix);

  // Bytes written to this stream that the underlying one has not taken yet.
  size_t unwritten_bytes() const { return pending_.size() + in_flight_.size(); }

  // Bytes read from the underlying stream so far (an idle connection's
  // count stands still).
  uint64_t bytes_read() const { return bytes_read_; }
  // Writes made to the underlying stream (each carries one or more of the
  // writes made to this one).
  uint64_t flushes() const { return flushes_; }

 private:
  // Copies buffered bytes into `out`; returns how many.
  size_t Drain(kj::byte* out, size_t max_bytes);
  kj::Promise<size_t> ReadMore(kj::byte* out, size_t min_bytes,
                               size_t max_bytes, size_t done);

  // Appends to pending_ and arranges for it to be written.
  kj::Promise<void> Queue(kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>>);
  void ScheduleFlush();
  void Flush();
  void WriteDone();
  void WriteFailed(kj::Exception&& e);

  class Errors final : public kj::TaskSet::ErrorHandler {
   public:
    explicit Errors(BufferedStream& stream) : stream_(stream) {}
    void taskFailed(kj::Exception&& e) override {
      stream_.WriteFailed(kj::mv(e));
    }

   private:
    BufferedStream& stream_;
  };

  kj::Own<kj::AsyncIoStream> inner_;
  kj::Array<kj::byte> buffer_;
  size_t begin_ = 0;
  size_t end_ = 0;
  uint64_t bytes_read_ = 0;
  std::vector<kj::byte> pending_;    // written to us, not yet to inner_
  std::vector<kj::byte> in_flight_;  // being written to inner_
  bool writing_ = false;
  bool flush_scheduled_ = false;
  bool shutdown_requested_ = false;
  uint64_t flushes_ = 0;
  kj::Maybe<kj::Exception> write_error_;
  // Writers held back until the socket catches up.
  std::vector<kj::Own<kj::PromiseFulfiller<void>>> blocked_;
  Errors errors_{*this};
  kj::TaskSet tasks_{errors_};  // destroyed first: cancels pending flushes
};

}  // namespace raftkv::net

#endif  // RAFTKV_NET_BUFFERED_STREAM_H_
