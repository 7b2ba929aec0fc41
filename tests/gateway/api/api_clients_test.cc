// The API as scripts, SOAR playbooks and browsers meet it: HTTP Basic
// without a body, the order of 401/403/415, the Host and cross-site guards,
// and caller errors answered as 4xx, not as outages.
#include <gtest/gtest.h>

#include "tests/gateway/api/api_fixture.h"

namespace vigil::gateway::api::testing {
namespace {

const Headers kSecBasic = {{"Authorization", "Basic c2VjMTpzZWNwdw=="}};   // sec1:secpw
const Headers kAudBasic = {{"Authorization", "Basic YXVkMTphdWRwdw=="}};   // aud1:audpw
const Headers kVendBasic = {{"Authorization", "Basic dmVuZDE6dmVuZHB3"}};  // vend1:vendpw

Headers with(Headers h, const std::string& k, const std::string& v) {
  h.push_back({k, v});
  return h;
}

class ApiClientsTest : public ApiServerTest {
 protected:
  void configure(Config& c) override {
    c.web_public_url = "https://vigil.example.com";
    for (const char* name : {"soon", "later", "over"}) {
      TargetConfig t;
      t.name = name;
      t.host = "10.0.0.9";
      t.port = 3389;
      c.targets.push_back(t);
    }
    const EpochMillis now = epochNowMs();
    c.grants.push_back({"vend1", "soon", now + 10 * 60 * 1000, std::nullopt});
    c.grants.push_back({"vend1", "later", now + 2 * 3600 * 1000, std::nullopt});
    c.grants.push_back({"vend1", "over", std::nullopt, now - 1000});
  }
};

TEST_F(ApiClientsTest, BasicClientsPostWithoutBodyOrContentType) {
  // curl -X POST -u sec1:... .../terminate
  Resp r = httpRequest(port_, "POST", "/api/sessions/s2/terminate", kSecBasic);
  EXPECT_EQ(r.status, 202) << r.body;
  ASSERT_EQ(manager_.terminateCalls().size(), 1u);
  // A body still has to be JSON, and a browser's cross-site Origin is refused.
  EXPECT_EQ(httpRequest(port_, "POST", "/api/sessions/s2/terminate",
                        with(kSecBasic, "Content-Type", "application/x-www-form-urlencoded"), "a=b")
                .status,
            415);
  EXPECT_EQ(httpRequest(port_, "POST", "/api/sessions/s2/terminate",
                        with(kSecBasic, "Origin", "https://evil.example"))
                .status,
            403);
  // A cookie session keeps its guard: JSON only.
  const std::string c = login("sec1", "secpw");
  EXPECT_EQ(httpRequest(port_, "POST", "/api/sessions/s2/terminate", {{"Cookie", c}}).status, 415);
  EXPECT_EQ(manager_.terminateCalls().size(), 1u);
}

TEST_F(ApiClientsTest, WhoMayAskIsDecidedBeforeWhatIsAsked) {
  const Headers form = {{"Content-Type", "application/x-www-form-urlencoded"}};
  // No credentials: 401 whatever the content.
  EXPECT_EQ(httpRequest(port_, "POST", "/api/sessions/s2/terminate").status, 401);
  EXPECT_EQ(httpRequest(port_, "POST", "/api/grants", form, "a=b").status, 401);
  // A role that may not: 403, with or without a body, Basic or cookie.
  EXPECT_EQ(httpRequest(port_, "POST", "/api/sessions/s2/terminate", kAudBasic).status, 403);
  EXPECT_EQ(httpRequest(port_, "POST", "/api/sessions/s2/terminate", kVendBasic).status, 403);
  Headers aud_form = form;
  aud_form.push_back({"Cookie", login("aud1", "audpw")});
  EXPECT_EQ(httpRequest(port_, "POST", "/api/grants", aud_form, "a=b").status, 403);
  EXPECT_EQ(httpRequest(port_, "POST", "/api/sessions/s2/terminate", aud_form, "a=b").status, 403);
  // Wrong method on a known path: 405 naming the right one.
  Resp m = httpRequest(port_, "GET", "/api/sessions/s2/terminate", kSecBasic);
  EXPECT_EQ(m.status, 405);
  EXPECT_EQ(m.header("allow"), "POST");
  EXPECT_EQ(manager_.terminateCalls().size(), 0u);
}

TEST_F(ApiClientsTest, HostHeaderMustNameThisGateway) {
  const std::string port = std::to_string(port_);
  // DNS rebinding: a foreign name that resolves to our loopback address.
  for (const char* target : {"/", "/api/me", "/api/login"}) {
    Resp r = httpRequest(port_, "GET", target, with(kSecBasic, "Host", "rebind.evil.example:" + port));
    EXPECT_EQ(r.status, 421) << target;
    EXPECT_NE(r.body.find("public_url"), std::string::npos) << r.body;
  }
  EXPECT_EQ(httpRequest(port_, "GET", "/api/me", with(kSecBasic, "Host", "localhost:" + port)).status, 200);
  EXPECT_EQ(httpRequest(port_, "GET", "/api/me", with(kSecBasic, "Host", "127.0.0.1:" + port)).status, 200);
  EXPECT_EQ(httpRequest(port_, "GET", "/api/me", with(kSecBasic, "Host", "VIGIL.example.com")).status, 200);
  EXPECT_EQ(httpRequest(port_, "GET", "/api/me", with(kSecBasic, "Host", "")).status, 421);
}

TEST_F(ApiClientsTest, CrossSiteRequestsAreRefused) {
  const std::string c = login("aud1", "audpw");
  EXPECT_EQ(get(c, "/api/sessions", {{"Sec-Fetch-Site", "cross-site"}}).status, 403);
  EXPECT_EQ(get(c, "/api/sessions/s1/video", {{"Sec-Fetch-Site", "same-site"}}).status, 403);
  EXPECT_EQ(get(c, "/api/sessions", {{"Origin", "https://evil.example"}}).status, 403);
  EXPECT_EQ(get(c, "/api/sessions", {{"Sec-Fetch-Site", "same-origin"}}).status, 200);
  // A link from a ticket to the player still opens it.
  EXPECT_EQ(get(c, "/", {{"Sec-Fetch-Site", "cross-site"}, {"Sec-Fetch-Mode", "navigate"}}).status, 200);
  // Sign-in from another site is refused too (login CSRF).
  EXPECT_EQ(httpRequest(port_, "POST", "/api/login",
                        {{"Content-Type", "application/json"}, {"Sec-Fetch-Site", "cross-site"}},
                        R"({"user":"aud1","password":"audpw"})")
                .status,
            403);
}

TEST_F(ApiClientsTest, CallerMistakesAre4xxNotOutages) {
  const std::string c = login("aud1", "audpw");
  const std::size_t before = store_.auditEntries().size();
  for (const char* q : {"%22%22%22%22%22%22", "%22%22", "%20%20"}) {
    Resp r = get(c, std::string("/api/search?q=") + q);
    EXPECT_EQ(r.status, 400) << q << " " << r.body;
  }
  EXPECT_EQ(get(c, "/api/search?q=" + std::string(5000, 'a')).status, 400);
  EXPECT_EQ(store_.auditEntries().size(), before);  // nothing searched, nothing to account for
  EXPECT_EQ(get(c, "/api/sessions?limit=0").status, 400);
  EXPECT_EQ(get(c, "/api/sessions?from=yesterday").status, 400);
  EXPECT_EQ(get(c, "/api/sessions/s1/events?kind=keys").status, 400);
  EXPECT_EQ(get(c, "/api/nowhere").status, 404);
}

TEST_F(ApiClientsTest, GrantWindowIsCheckedTheRightWayRound) {
  const std::string c = login("sec1", "secpw");
  auto grant = [&](const std::string& target, int ttl_s) {
    return post(c, "/api/grants",
                json{{"user", "vend1"}, {"target", target}, {"ttl_s", ttl_s}}.dump())
        .status;
  };
  EXPECT_EQ(grant("dc01", 1800), 200);   // no window
  EXPECT_EQ(grant("soon", 1800), 200);   // opens in 10 min, inside the code's 30 min
  EXPECT_EQ(grant("soon", 300), 409);    // the code would expire before the window opens
  EXPECT_EQ(grant("later", 1800), 409);  // opens in 2 h
  EXPECT_EQ(grant("over", 1800), 409);   // closed a second ago
  EXPECT_EQ(issued_.size(), 2u);
}

}  // namespace
}  // namespace vigil::gateway::api::testing
