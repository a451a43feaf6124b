#include "net/buffered_stream.h"

#include <gtest/gtest.h>
#include <kj/async-io.h>

#include <string>

namespace raftkv::net {
namespace {

TEST(BufferedStreamTest, DeliversEveryByteInOrderAcrossSmallAndLargeReads) {
  kj::AsyncIoContext io = kj::setupAsyncIo();
  kj::TwoWayPipe pipe = io.provider->newTwoWayPipe();
  BufferedStream reader(kj::mv(pipe.ends[0]));
  std::string sent;
  for (int i = 0; i < 200000; ++i)
    sent.push_back(static_cast<char>('a' + i % 26));
  auto writing = pipe.ends[1]->write(sent.data(), sent.size());

  std::string received;
  char buffer[100000];
  for (size_t want : {1u, 7u, 8u, 3000u, 100000u, 5u, 90000u}) {
    size_t got = reader.tryRead(buffer, want, want).wait(io.waitScope);
    ASSERT_EQ(got, want);
    received.append(buffer, got);
  }
  writing.wait(io.waitScope);
  pipe.ends[1]->shutdownWrite();
  // The rest, then end of stream.
  while (true) {
    size_t got = reader.tryRead(buffer, 1, sizeof(buffer)).wait(io.waitScope);
    if (got == 0) break;
    received.append(buffer, got);
  }
  EXPECT_EQ(received.size(), sent.size());
  EXPECT_EQ(received, sent);
}

}  // namespace
}  // namespace raftkv::net
