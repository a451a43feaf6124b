#include "kv/admission.h"

#include <capnp/message.h>

#include "gtest/gtest.h"
#include "net/bytes.h"

namespace raftkv::kv {
namespace {

Limits Small() {
  Limits limits;
  limits.max_key_bytes = 8;
  limits.max_value_bytes = 100;
  limits.max_request_bytes = 200;
  limits.max_list_page = 50;
  return limits;
}

std::string MessageOf(const std::optional<Outcome>& refused) {
  EXPECT_TRUE(refused.has_value());
  if (!refused) return "";
  EXPECT_EQ(refused->code, Code::kInvalidArgument);
  return refused->message;
}

TEST(AdmissionTest, KeysWithinTheLimitPassOthersNameIt) {
  const Admission admission(Small());
  EXPECT_FALSE(admission.Key("12345678").has_value());
  EXPECT_EQ(MessageOf(admission.Key("")), "key must not be empty");
  EXPECT_EQ(MessageOf(admission.Key("123456789")),
            "key of 9 bytes exceeds the limit of 8 bytes (--max-key-bytes)");
}

TEST(AdmissionTest, EveryPartOfACommandIsChecked) {
  const Admission admission(Small());
  capnp::MallocMessageBuilder message;
  auto command = message.initRoot<net::wire::Command>();
  command.initPut().setKey(net::AsData("k"));
  command.getPut().setValue(net::AsData(std::string(100, 'v')));
  EXPECT_FALSE(admission.Command(command.asReader()).has_value());
  command.getPut().setValue(net::AsData(std::string(101, 'v')));
  EXPECT_EQ(
      MessageOf(admission.Command(command.asReader())),
      "value of 101 bytes exceeds the limit of 100 bytes (--max-value-bytes)");

  auto cas = command.initCas();
  cas.setKey(net::AsData("k"));
  cas.setValue(net::AsData("new"));
  cas.setExpected(net::AsData(std::string(101, 'e')));
  EXPECT_NE(MessageOf(admission.Command(command.asReader()))
                .find("expected value of 101 bytes"),
            std::string::npos);
  command.initDelete().setKey(net::AsData(std::string(9, 'k')));
  EXPECT_NE(MessageOf(admission.Command(command.asReader())).find("key of 9"),
            std::string::npos);
}

TEST(AdmissionTest, TheWholeRequestHasALimitOfItsOwn) {
  // A cas with a value and an expected value each within the value limit
  // is over the request limit together.
  const Admission admission(Small());
  capnp::MallocMessageBuilder message;
  auto cas = message.initRoot<net::wire::Command>().initCas();
  cas.setKey(net::AsData("k"));
  cas.setValue(net::AsData(std::string(100, 'v')));
  cas.setExpected(net::AsData(std::string(100, 'e')));
  const std::string refused = MessageOf(
      admission.Command(message.getRoot<net::wire::Command>().asReader()));
  EXPECT_NE(
      refused.find("exceeds the limit of 200 bytes (--max-request-bytes)"),
      std::string::npos)
      << refused;
}

TEST(AdmissionTest, ListPages) {
  const Admission admission(Small());
  EXPECT_FALSE(admission.ListPage(0).has_value());
  EXPECT_FALSE(admission.ListPage(50).has_value());
  EXPECT_EQ(MessageOf(admission.ListPage(51)),
            "list limit 51 exceeds the maximum of 50 per page");
}

}  // namespace
}  // namespace raftkv::kv
