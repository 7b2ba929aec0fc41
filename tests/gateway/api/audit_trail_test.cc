// The audit log as an admin reads it after a day of use: one entry per
// action kind with who, what and from where; repeated looks coalesced but
// counted; and no action taken whose entry could not be written.
#include <gtest/gtest.h>

#include "tests/gateway/api/api_fixture.h"

namespace vigil::gateway::api::testing {
namespace {

class AuditTrailApiTest : public ApiServerTest {
 protected:
  // Entries of `action`, oldest first.
  std::vector<storage::AuditEntry> entries(const std::string& action) {
    std::vector<storage::AuditEntry> out;
    for (const auto& a : store_.auditEntries())
      if (a.action == action) out.push_back(a);
    return out;
  }
};

TEST_F(AuditTrailApiTest, EveryActionKindLeavesOneEntryWithWhoWhatAndWhere) {
  const std::string sec = login("sec1", "secpw");
  httpRequest(port_, "POST", "/api/login", {{"Content-Type", "application/json"}},
              R"({"user":"aud1","password":"wrong"})");
  ASSERT_EQ(get(sec, "/api/search?q=ipconfig").status, 200);
  ASSERT_EQ(get(sec, "/api/sessions/s1/events").status, 200);
  ASSERT_EQ(get(sec, "/api/sessions/s1/video", {{"Range", "bytes=100-199"}}).status, 206);
  ASSERT_EQ(get(sec, "/api/sessions/s1/video").status, 200);
  ASSERT_EQ(get(sec, "/api/sessions/s1/video?download=1").status, 200);
  waitFor([&] { return get(sec, "/api/sessions/s2/thumbnail").status == 200; });
  {
    WsClient w;
    ASSERT_FALSE(w.connect(port_, "/api/sessions/s2/live", sec));
  }
  ASSERT_EQ(post(sec, "/api/grants", R"({"user":"vend1","target":"dc01","ttl_s":600})").status, 200);
  ASSERT_EQ(post(sec, "/api/sessions/s2/terminate").status, 202);
  ASSERT_EQ(post(sec, "/api/logout").status, 200);

  struct Want {
    std::string action, actor, object, detail_has;
  };
  const std::vector<Want> wants = {
      {"login", "sec1", "", "password from 127.0.0.1"},
      {"login_failed", "aud1", "", "wrong user name or password, password from 127.0.0.1"},
      {"search", "sec1", "ipconfig", "from 127.0.0.1"},
      {"view", "sec1", "s1", "events"},
      {"download", "sec1", "s1", "whole file"},
      {"export", "sec1", "s1", "download"},
      {"thumbnail", "sec1", "s2", "live page"},
      {"live", "sec1", "s2", "from 127.0.0.1"},
      {"grant", "sec1", "vend1#dc01", "ttl_s=600"},
      {"terminate", "sec1", "s2", "from 127.0.0.1"},
      {"logout", "sec1", "", "from 127.0.0.1"},
  };
  for (const Want& w : wants) {
    auto got = entries(w.action);
    ASSERT_EQ(got.size(), 1u) << w.action;
    EXPECT_EQ(got[0].actor, w.actor) << w.action;
    EXPECT_EQ(got[0].object, w.object) << w.action;
    EXPECT_NE(got[0].detail.find(w.detail_has), std::string::npos) << w.action << ": " << got[0].detail;
    EXPECT_GT(got[0].at, epochNowMs() - 60000) << w.action;
  }
}

TEST_F(AuditTrailApiTest, UnknownUsersFailedSignInIsAuditedUnderTheClaimedName) {
  // ghost:x
  Resp r = httpRequest(port_, "GET", "/api/sessions", {{"Authorization", "Basic Z2hvc3Q6eA=="}});
  EXPECT_EQ(r.status, 401);
  auto failed = entries("login_failed");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].actor, "ghost");
  EXPECT_NE(failed[0].detail.find("basic from 127.0.0.1"), std::string::npos);
}

class CoalescedAuditTest : public AuditTrailApiTest {
 protected:
  ApiOptions options() override {
    ApiOptions opt = AuditTrailApiTest::options();
    opt.view_audit_interval = std::chrono::seconds(1);
    return opt;
  }
};

TEST_F(CoalescedAuditTest, RepeatedLooksAreCoalescedAndCountedNeverDropped) {
  const std::string aud = login("aud1", "audpw");
  for (int i = 0; i < 12; ++i)
    ASSERT_EQ(get(aud, "/api/sessions/s1/video", {{"Range", "bytes=0-99"}}).status, 206);
  EXPECT_EQ(entries("view").size(), 1u);  // the first look, at once
  // When the interval ends, the other 11 are written as one counted entry.
  ASSERT_TRUE(waitFor([&] { return entries("view").size() == 2u; }, std::chrono::seconds(15)));
  auto views = entries("view");
  EXPECT_EQ(views[1].actor, "aud1");
  EXPECT_EQ(views[1].object, "s1");
  EXPECT_EQ(views[1].detail.rfind("11 more between ", 0), 0u) << views[1].detail;
  // Another viewer's looks are their own entries.
  const std::string sec = login("sec1", "secpw");
  ASSERT_EQ(get(sec, "/api/sessions/s1/video", {{"Range", "bytes=0-99"}}).status, 206);
  EXPECT_EQ(entries("view").size(), 3u);
}

TEST_F(AuditTrailApiTest, AnActionWhoseEntryCannotBeWrittenIsRefused) {
  const std::string sec = login("sec1", "secpw");
  store_.failAudit(true);
  EXPECT_EQ(post(sec, "/api/sessions/s2/terminate").status, 503);
  EXPECT_EQ(manager_.terminateCalls().size(), 0u);
  EXPECT_EQ(post(sec, "/api/grants", R"({"user":"vend1","target":"dc01","ttl_s":600})").status, 503);
  EXPECT_TRUE(issued_.empty());
  Resp s = get(sec, "/api/search?q=ipconfig");
  EXPECT_EQ(s.status, 503);
  EXPECT_EQ(s.body.find("ipconfig"), std::string::npos);
  EXPECT_EQ(get(sec, "/api/sessions/s1/video").status, 503);
  EXPECT_EQ(get(sec, "/api/sessions/s1/events").status, 503);
  EXPECT_EQ(get(sec, "/api/sessions/s2/thumbnail").status, 503);
  Resp l = httpRequest(port_, "POST", "/api/login", {{"Content-Type", "application/json"}},
                       R"({"user":"aud1","password":"audpw"})");
  EXPECT_EQ(l.status, 503);
  EXPECT_EQ(l.header("set-cookie"), "");
  WsClient w;
  EXPECT_TRUE(w.connect(port_, "/api/sessions/s2/live", sec));
  store_.failAudit(false);
  EXPECT_EQ(post(sec, "/api/sessions/s2/terminate").status, 202);
}

}  // namespace
}  // namespace vigil::gateway::api::testing
