#include <gtest/gtest.h>

#include "gateway/rdp/handshake_refusal.h"

namespace vigil::gateway::rdp {
namespace {

TEST(HandshakeRefusal, NlaOnlyRequest) {
  HandshakeFacts f;
  f.requested_protocols = 0x2;
  EXPECT_NE(explainHandshakeEnd(f).find("only NLA"), std::string::npos);
}

TEST(HandshakeRefusal, NlaRequiredClientLeavesBeforeTls) {
  HandshakeFacts f;
  f.requested_protocols = 0x3;
  f.selected_protocol = 0x1;
  f.negotiated = true;
  f.client_data_segments = 1;
  EXPECT_NE(explainHandshakeEnd(f).find("requires NLA"), std::string::npos);
  // A client that went on to TLS (and e.g. refused the certificate) is not
  // blamed on NLA; neither is one the kernel could not count.
  f.client_data_segments = 2;
  EXPECT_EQ(explainHandshakeEnd(f), "");
  f.client_data_segments = 0;
  EXPECT_EQ(explainHandshakeEnd(f), "");
  f.requested_protocols = 0x1;  // TLS only: nothing to do with NLA
  f.client_data_segments = 1;
  EXPECT_EQ(explainHandshakeEnd(f), "");
}

TEST(HandshakeRefusal, ErectDomainRefusalNamesTheClient) {
  HandshakeFacts f;
  f.requested_protocols = 0x1;
  f.selected_protocol = 0x1;
  f.negotiated = true;
  f.mcs_connected = true;
  f.client_name = std::string("host\"x\n") + std::string(40, 'a');
  f.client_build = 2600;
  const std::string why = explainHandshakeEnd(f);
  EXPECT_NE(why.find("Erect Domain Request"), std::string::npos) << why;
  EXPECT_NE(why.find("build 2600"), std::string::npos) << why;
  EXPECT_NE(why.find("'host?x?aaaa"), std::string::npos) << why;
  EXPECT_EQ(why.find('\n'), std::string::npos);
  EXPECT_EQ(why.find(std::string(30, 'a')), std::string::npos) << "name not bounded";
}

TEST(HandshakeRefusal, OrdinaryDeparturesAreNotExplained) {
  EXPECT_EQ(explainHandshakeEnd(HandshakeFacts{}), "");
}

}  // namespace
}  // namespace vigil::gateway::rdp

namespace vigil::gateway::rdp {
namespace {

TEST(HandshakeRefusal, ExplanationsAreBudgetedPerMinute) {
  ExplainBudget budget(3);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(budget.take(t0));
  EXPECT_TRUE(budget.take(t0 + std::chrono::seconds(1)));
  EXPECT_TRUE(budget.take(t0 + std::chrono::seconds(2)));
  EXPECT_FALSE(budget.take(t0 + std::chrono::seconds(3)));  // a flood goes to debug
  EXPECT_FALSE(budget.take(t0 + std::chrono::seconds(59)));
  EXPECT_TRUE(budget.take(t0 + std::chrono::seconds(61)));  // next minute
}

}  // namespace
}  // namespace vigil::gateway::rdp
