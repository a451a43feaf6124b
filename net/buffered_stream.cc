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

}  // namespace raftkv::net
