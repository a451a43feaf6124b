// BufferedStream: an AsyncIoStream that reads its underlying stream in 64 KiB
// gulps.
//
// Cap'n Proto reads a message as several small reads (the segment table, then
// each segment); on a TCP socket each is a read() syscall, and with one small
// request per client operation those dominate the kernel time a profile of the
// leader shows. Reading ahead into a buffer turns them into about one syscall
// per burst of messages. Writes pass straight through. Thread safety: like any
// kj stream, one event loop thread. Invariant: bytes are delivered to readers
// exactly once and in order; the buffer holds only bytes not yet delivered.
#ifndef RAFTKV_NET_BUFFERED_STREAM_H_
#define RAFTKV_NET_BUFFERED_STREAM_H_

#include <kj/async-io.h>

namespace raftkv::net {

class BufferedStream final : public kj::AsyncIoStream {
 public:
  explicit BufferedStream(kj::Own<kj::AsyncIoStream> inner);

  kj::Promise<size_t> tryRead(void* buffer, size_t min_bytes,
                              size_t max_bytes) override;
  kj::Promise<void> write(const void* buffer, size_t size) override {
    return inner_->write(buffer, size);
  }
  kj::Promise<void> write(
      kj::ArrayPtr<const kj::ArrayPtr<const kj::byte>> pieces) override {
    return inner_->write(pieces);
  }
  kj::Promise<void> whenWriteDisconnected() override {
    return inner_->whenWriteDisconnected();
  }
  void shutdownWrite() override { inner_->shutdownWrite(); }
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

  // Bytes read from the underlying stream so far (an idle connection's
  // count stands still).
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  // Copies buffered bytes into `out`; returns how many.
  size_t Drain(kj::byte* out, size_t max_bytes);
  kj::Promise<size_t> ReadMore(kj::byte* out, size_t min_bytes,
                               size_t max_bytes, size_t done);

  kj::Own<kj::AsyncIoStream> inner_;
  kj::Array<kj::byte> buffer_;
  size_t begin_ = 0;
  size_t end_ = 0;
  uint64_t bytes_read_ = 0;
};

}  // namespace raftkv::net

#endif  // RAFTKV_NET_BUFFERED_STREAM_H_
