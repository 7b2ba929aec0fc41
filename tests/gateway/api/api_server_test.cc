#include "gateway/api/api_server.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "tests/gateway/api/api_fixture.h"

namespace vigil::gateway::api::testing {
namespace {

struct Route {
  std::string method, target;
};
const std::vector<Route> kRoutes = {
    {"GET", "/api/sessions"},         {"GET", "/api/sessions/s1"},
    {"GET", "/api/sessions/s1/events"}, {"GET", "/api/search?q=ipconfig"},
    {"GET", "/api/sessions/s1/video"}, {"GET", "/api/sessions/s2/thumbnail"},
    {"POST", "/api/sessions/s2/terminate"}, {"POST", "/api/grants"},
    {"GET", "/api/audit"},            {"GET", "/api/me"},
    {"GET", "/api/alerts"},
    {"GET", "/api/sessions/s2/live"}, {"GET", "/js/app.js"},
};

TEST_F(ApiServerTest, EveryRouteNeedsCredentials) {
  for (const auto& r : kRoutes) {
    Headers h;
    if (r.method == "POST") h.push_back({"Content-Type", "application/json"});
    Resp res = httpRequest(port_, r.method, r.target, h, r.method == "POST" ? "{}" : "");
    EXPECT_EQ(res.status, 401) << r.method << " " << r.target;
    EXPECT_NE(res.body.find("\"error\""), std::string::npos) << r.target;
  }
  // A stale or forged cookie is no better.
  EXPECT_EQ(get("vigil_session=" + std::string(64, 'a'), "/api/sessions").status, 401);
  EXPECT_EQ(manager_.terminateCalls().size(), 0u);
}

TEST_F(ApiServerTest, RolesAreEnforcedOnEveryRoute) {
  const std::map<std::string, std::string> cookies = {{"admin1", login("admin1", "adminpw")},
                                                      {"sec1", login("sec1", "secpw")},
                                                      {"aud1", login("aud1", "audpw")},
                                                      {"vend1", login("vend1", "vendpw")}};
  // Expected status per route for vendor, auditor, security, admin. The
  // terminate/grant/live routes are checked for 403 only (success below).
  struct Case {
    std::string method, target;
    int vendor, auditor, security, admin;
  };
  const std::vector<Case> cases = {
      {"GET", "/api/sessions", 403, 200, 200, 200},
      {"GET", "/api/sessions/s1", 403, 200, 200, 200},
      {"GET", "/api/sessions/s1/events", 403, 200, 200, 200},
      {"GET", "/api/search?q=ipconfig", 403, 200, 200, 200},
      {"GET", "/api/sessions/s1/video", 403, 200, 200, 200},
      {"GET", "/api/sessions/s2/thumbnail", 403, 403, 200, 200},
      {"GET", "/api/audit", 403, 403, 403, 200},
      {"GET", "/api/alerts", 403, 403, 200, 200},
      {"GET", "/api/me", 200, 200, 200, 200},
      {"GET", "/api/sessions/s2/live", 403, 403, 426, 426},
      {"POST", "/api/sessions/s2/terminate", 403, 403, -1, -1},
      {"POST", "/api/grants", 403, 403, 400, 400},
  };
  const std::vector<std::string> users = {"vend1", "aud1", "sec1", "admin1"};
  for (const auto& c : cases) {
    const int want[] = {c.vendor, c.auditor, c.security, c.admin};
    for (int i = 0; i < 4; ++i) {
      if (want[i] < 0) continue;
      const std::string& cookie = cookies.at(users[i]);
      Resp r = c.method == "GET" ? get(cookie, c.target) : post(cookie, c.target);
      EXPECT_EQ(r.status, want[i]) << users[i] << " " << c.method << " " << c.target << " " << r.body;
      if (r.status >= 400) {
        EXPECT_TRUE(json::parse(r.body).contains("error")) << r.body;
      }
    }
  }
  EXPECT_EQ(manager_.terminateCalls().size(), 0u);
}

TEST_F(ApiServerTest, LoginSetsAStrictHttpOnlyCookieAndLogoutEndsIt) {
  Resp r = httpRequest(port_, "POST", "/api/login", {{"Content-Type", "application/json"}},
                       R"({"user":"aud1","password":"audpw"})");
  ASSERT_EQ(r.status, 200);
  const std::string cookie = r.header("set-cookie");
  EXPECT_NE(cookie.find("vigil_session="), std::string::npos);
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos);
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos);
  EXPECT_NE(cookie.find("Path=/"), std::string::npos);
  EXPECT_EQ(json::parse(r.body)["roles"][0], "auditor");
  const std::string c = cookie.substr(0, cookie.find(';'));
  EXPECT_EQ(c.size(), std::string("vigil_session=").size() + 64);
  EXPECT_EQ(get(c, "/api/sessions").status, 200);
  EXPECT_EQ(post(c, "/api/logout").status, 200);
  EXPECT_EQ(get(c, "/api/sessions").status, 401);

  // Wrong password, unknown user: the same 401 and message.
  Resp bad1 = httpRequest(port_, "POST", "/api/login", {{"Content-Type", "application/json"}},
                          R"({"user":"aud1","password":"nope"})");
  Resp bad2 = httpRequest(port_, "POST", "/api/login", {{"Content-Type", "application/json"}},
                          R"({"user":"ghost","password":"nope"})");
  EXPECT_EQ(bad1.status, 401);
  EXPECT_EQ(bad2.status, 401);
  EXPECT_EQ(bad1.body, bad2.body);
  EXPECT_EQ(bad1.header("set-cookie"), "");
}

TEST_F(ApiServerTest, BasicAuthIsAnAlternative) {
  // "aud1:audpw"
  Resp ok = httpRequest(port_, "GET", "/api/sessions", {{"Authorization", "Basic YXVkMTphdWRwdw=="}});
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(json::parse(ok.body)["sessions"].size(), 5u);
  // "aud1:wrong"
  Resp bad = httpRequest(port_, "GET", "/api/sessions", {{"Authorization", "Basic YXVkMTp3cm9uZw=="}});
  EXPECT_EQ(bad.status, 401);
  EXPECT_NE(bad.header("www-authenticate").find("Basic"), std::string::npos);
  EXPECT_EQ(httpRequest(port_, "GET", "/api/sessions", {{"Authorization", "Basic !!!"}}).status, 401);
  EXPECT_EQ(httpRequest(port_, "GET", "/api/sessions", {{"Authorization", "Bearer x"}}).status, 401);
}

TEST_F(ApiServerTest, LoginIsThrottledPerUser) {
  for (int i = 0; i < 3; ++i) {
    Resp r = httpRequest(port_, "POST", "/api/login", {{"Content-Type", "application/json"}},
                         R"({"user":"sec1","password":"guess"})");
    EXPECT_EQ(r.status, 401);
  }
  // Even the right password waits now.
  Resp r = httpRequest(port_, "POST", "/api/login", {{"Content-Type", "application/json"}},
                       R"({"user":"sec1","password":"secpw"})");
  EXPECT_EQ(r.status, 429);
  EXPECT_FALSE(r.header("retry-after").empty());
  // Basic for the same user is throttled too; other users are not.
  EXPECT_EQ(httpRequest(port_, "GET", "/api/sessions", {{"Authorization", "Basic c2VjMTpzZWNwdw=="}}).status,
            429);
  login("aud1", "audpw");
}

TEST_F(ApiServerTest, PostsMustBeJsonFromOurOrigin) {
  const std::string c = login("sec1", "secpw");
  Resp form = httpRequest(port_, "POST", "/api/sessions/s2/terminate",
                          {{"Cookie", c}, {"Content-Type", "application/x-www-form-urlencoded"}}, "a=b");
  EXPECT_EQ(form.status, 415);
  Resp cross = httpRequest(port_, "POST", "/api/sessions/s2/terminate",
                           {{"Cookie", c}, {"Content-Type", "application/json"}, {"Origin", "http://evil.example"}},
                           "{}");
  EXPECT_EQ(cross.status, 403);
  Resp login_form = httpRequest(port_, "POST", "/api/login", {{"Content-Type", "text/plain"}},
                                R"({"user":"sec1","password":"secpw"})");
  EXPECT_EQ(login_form.status, 415);
  EXPECT_EQ(manager_.terminateCalls().size(), 0u);
  // Same origin is fine.
  Resp same = httpRequest(port_, "POST", "/api/sessions/s2/terminate",
                          {{"Cookie", c}, {"Content-Type", "application/json; charset=utf-8"},
                           {"Origin", "http://127.0.0.1:" + std::to_string(port_)}},
                          "{}");
  EXPECT_EQ(same.status, 202);
}

TEST_F(ApiServerTest, SessionsListAndFilters) {
  const std::string c = login("aud1", "audpw");
  Resp all = get(c, "/api/sessions");
  ASSERT_EQ(all.status, 200);
  auto sessions = json::parse(all.body)["sessions"];
  ASSERT_EQ(sessions.size(), 5u);
  Resp live = get(c, "/api/sessions?state=live");
  auto l = json::parse(live.body)["sessions"];
  ASSERT_EQ(l.size(), 1u);
  EXPECT_EQ(l[0]["id"], "s2");
  EXPECT_TRUE(l[0]["ended_at"].is_null());
  EXPECT_GE(l[0]["duration_ms"].get<long long>(), 60000);
  EXPECT_EQ(json::parse(get(c, "/api/sessions?user=nobody").body)["sessions"].size(), 0u);
  EXPECT_EQ(json::parse(get(c, "/api/sessions?limit=2").body)["sessions"].size(), 2u);
  EXPECT_EQ(json::parse(get(c, "/api/sessions?from=2000-01-01T00:00:00Z&to=2100-01-01T00:00:00Z").body)["sessions"].size(), 5u);

  Resp one = get(c, "/api/sessions/s1");
  ASSERT_EQ(one.status, 200);
  auto s = json::parse(one.body);
  for (const char* k : {"id", "user", "target", "protocol", "state", "started_at", "ended_at",
                        "duration_ms", "width", "height", "video_bytes", "end_reason"})
    EXPECT_TRUE(s.contains(k)) << k;
  EXPECT_EQ(s["duration_ms"], 300000);
  EXPECT_EQ(s["end_reason"], "client disconnected");
  EXPECT_TRUE(parseRfc3339(s["started_at"].get<std::string>()).has_value());
  EXPECT_EQ(s["started_at"].get<std::string>().back(), 'Z');

  for (const char* bad : {"/api/sessions?limit=0", "/api/sessions?limit=1001", "/api/sessions?limit=abc",
                          "/api/sessions?limit=-1", "/api/sessions?from=yesterday", "/api/sessions?state=bogus",
                          "/api/sessions?from=2030-01-01T00:00:00Z&to=2020-01-01T00:00:00Z",
                          "/api/sessions?user=%ff%fe", "/api/sessions?user=%zz", "/api/search?q=",
                          "/api/search", "/api/sessions/s1/events?kind=keys"}) {
    Resp r = get(c, bad);
    EXPECT_EQ(r.status, 400) << bad << " " << r.body;
    EXPECT_TRUE(json::parse(r.body).contains("error")) << bad;
  }
}

TEST_F(ApiServerTest, BadIdsAre404) {
  const std::string c = login("sec1", "secpw");
  for (const char* t : {"/api/sessions/nope", "/api/sessions/nope/events", "/api/sessions/nope/video",
                        "/api/sessions/..%2F..%2Fetc%2Fpasswd/video", "/api/sessions/%2e%2e/video",
                        "/api/sessions/a%00b", "/api/sessions/s1%20x", "/api/sessions/s1/bogus",
                        "/api/nothing", "/api/sessions/nope/thumbnail",
                        "/api/sessions/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}) {
    Resp r = get(c, t);
    EXPECT_TRUE(r.status == 404 || r.status == 400) << t << " " << r.status;
  }
  EXPECT_EQ(post(c, "/api/sessions/nope/terminate").status, 404);
  EXPECT_EQ(post(c, "/api/sessions/s1/terminate").status, 409);  // already ended
}

TEST_F(ApiServerTest, EventsInTimeOrderWithKindFilter) {
  const std::string c = login("aud1", "audpw");
  auto all = json::parse(get(c, "/api/sessions/s1/events").body)["events"];
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[1]["t_ms"], 1500);
  EXPECT_EQ(all[1]["kind"], "key");
  EXPECT_EQ(all[1]["text"], "ipconfig /all");
  auto keys = json::parse(get(c, "/api/sessions/s1/events?kind=key,title").body)["events"];
  EXPECT_EQ(keys.size(), 3u);
}

TEST_F(ApiServerTest, VideoHonoursRange) {
  const std::string c = login("aud1", "audpw");
  Resp full = get(c, "/api/sessions/s1/video");
  ASSERT_EQ(full.status, 200);
  EXPECT_EQ(full.header("content-type"), "video/mp4");
  EXPECT_EQ(full.header("accept-ranges"), "bytes");
  EXPECT_EQ(full.header("content-length"), std::to_string(video_.size()));
  EXPECT_EQ(full.body, video_);

  Resp r1 = get(c, "/api/sessions/s1/video", {{"Range", "bytes=0-9"}});
  EXPECT_EQ(r1.status, 206);
  EXPECT_EQ(r1.body, video_.substr(0, 10));
  EXPECT_EQ(r1.header("content-range"), "bytes 0-9/100000");
  EXPECT_EQ(r1.header("content-length"), "10");

  Resp r2 = get(c, "/api/sessions/s1/video", {{"Range", "bytes=99990-"}});
  EXPECT_EQ(r2.status, 206);
  EXPECT_EQ(r2.body, video_.substr(99990));
  EXPECT_EQ(r2.header("content-range"), "bytes 99990-99999/100000");

  Resp r3 = get(c, "/api/sessions/s1/video", {{"Range", "bytes=-5"}});
  EXPECT_EQ(r3.status, 206);
  EXPECT_EQ(r3.body, video_.substr(99995));

  Resp r4 = get(c, "/api/sessions/s1/video", {{"Range", "bytes=50000-50099"}});
  EXPECT_EQ(r4.status, 206);
  EXPECT_EQ(r4.body, video_.substr(50000, 100));

  Resp r5 = get(c, "/api/sessions/s1/video", {{"Range", "bytes=99000-200000"}});
  EXPECT_EQ(r5.status, 206);
  EXPECT_EQ(r5.body, video_.substr(99000));

  Resp bad = get(c, "/api/sessions/s1/video", {{"Range", "bytes=100000-"}});
  EXPECT_EQ(bad.status, 416);
  EXPECT_EQ(bad.header("content-range"), "bytes */100000");
  EXPECT_EQ(get(c, "/api/sessions/s1/video", {{"Range", "bytes=200000-300000"}}).status, 416);
  // Malformed or multi-range: the whole file, as RFC 9110 allows.
  EXPECT_EQ(get(c, "/api/sessions/s1/video", {{"Range", "bytes=abc"}}).status, 200);
  EXPECT_EQ(get(c, "/api/sessions/s1/video", {{"Range", "bytes=0-1,5-6"}}).status, 200);

  Resp head = httpRequest(port_, "HEAD", "/api/sessions/s1/video", {{"Cookie", c}});
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("content-length"), "100000");
  EXPECT_TRUE(head.body.empty());

  // Many Range requests, one audit entry.
  EXPECT_EQ(countAudit("view", "s1"), 1);

  Resp dl = get(c, "/api/sessions/s1/video?download=1");
  EXPECT_EQ(dl.status, 200);
  EXPECT_NE(dl.header("content-disposition").find("attachment"), std::string::npos);
  EXPECT_EQ(countAudit("export", "s1"), 1);
}

TEST_F(ApiServerTest, NoPathTraversal) {
  const std::string c = login("admin1", "adminpw");
  for (const char* id : {"evil1", "evil2", "evil3"}) {
    Resp r = get(c, std::string("/api/sessions/") + id + "/video");
    EXPECT_EQ(r.status, 404) << id;
    EXPECT_EQ(r.body.find("top secret"), std::string::npos);
  }
  for (const char* p : {"/../secret.txt", "/%2e%2e/secret.txt", "/js/../../secret.txt",
                        "/..%2f..%2fsecret.txt", "/js/%2e%2e%2f%2e%2e%2fsecret.txt", "//etc/passwd",
                        "/index.html%00.js"}) {
    Resp r = get(c, p);
    EXPECT_TRUE(r.status == 404 || r.status == 400) << p << " " << r.status;
    EXPECT_EQ(r.body.find("top secret"), std::string::npos) << p;
  }
  std::string raw = rawExchange(port_, "GET /../../secret.txt HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: " + c +
                                           "\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(raw.find("top secret"), std::string::npos);
}

TEST_F(ApiServerTest, HugeAndGarbageInput) {
  const std::string c = login("admin1", "adminpw");
  // Headers over 16 KiB.
  std::string big_header = "GET /api/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + std::string(20000, 'a') +
                           "\r\n\r\n";
  EXPECT_EQ(rawStatus(rawExchange(port_, big_header)), 431);
  // A target over 16 KiB.
  EXPECT_EQ(rawStatus(rawExchange(port_, "GET /api/search?q=" + std::string(20000, 'a') +
                                             " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")),
            431);
  // Bodies over 64 KiB.
  std::string big_body = "POST /api/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         "Content-Length: 100000\r\n\r\n" + std::string(100000, '{');
  EXPECT_EQ(rawStatus(rawExchange(port_, big_body)), 413);
  // Garbage.
  EXPECT_EQ(rawStatus(rawExchange(port_, "\x16\x03\x01\x02\x00garbage\r\n\r\n")), 400);
  EXPECT_EQ(rawStatus(rawExchange(port_, "GET\r\n\r\n")), 400);
  EXPECT_EQ(rawStatus(rawExchange(port_, "GET / HTTP/1.1\r\nContent-Length: -5\r\n\r\n")), 400);
  EXPECT_EQ(rawStatus(rawExchange(port_, "BREW /api/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")), 405);
  // Malformed and non-UTF-8 JSON.
  for (const std::string& body : {std::string("{"), std::string("[]"), std::string("null"),
                                 std::string("{\"user\":1,\"password\":2}"),
                                 std::string("{\"user\":\"a\xff\xfe\",\"password\":\"x\"}"),
                                 std::string("\xff\xfe\xfd"), std::string(5000, '[')}) {
    Resp r = httpRequest(port_, "POST", "/api/login", {{"Content-Type", "application/json"}}, body);
    EXPECT_EQ(r.status, 400) << body.substr(0, 40);
    Resp g = post(c, "/api/grants", body);
    EXPECT_EQ(g.status, 400) << body.substr(0, 40);
  }
  // Non-UTF-8 in the query.
  EXPECT_EQ(get(c, "/api/search?q=%C3%28").status, 400);
  EXPECT_EQ(get(c, "/api/search?q=a&q=b").status, 400);
  // The server is still fine.
  EXPECT_EQ(get(c, "/api/sessions").status, 200);
}

TEST_F(ApiServerTest, SearchIsAuditedAndReturnsHits) {
  const std::string c = login("aud1", "audpw");
  Resp r = get(c, "/api/search?q=IPCONF");
  ASSERT_EQ(r.status, 200);
  auto hits = json::parse(r.body)["hits"];
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0]["session_id"], "s1");
  EXPECT_EQ(hits[0]["t_ms"], 1500);
  EXPECT_EQ(hits[0]["kind"], "key");
  EXPECT_EQ(hits[0]["user"], "vend1");
  EXPECT_EQ(hits[0]["target"], "dc01");
  EXPECT_TRUE(parseRfc3339(hits[0]["started_at"].get<std::string>()).has_value());
  EXPECT_EQ(countAudit("search", "IPCONF"), 1);
}

TEST_F(ApiServerTest, TerminateIsAcceptedRecordedAndAudited) {
  const std::string c = login("sec1", "secpw");
  Resp r = post(c, "/api/sessions/s2/terminate");
  EXPECT_EQ(r.status, 202) << r.body;
  ASSERT_EQ(manager_.terminateCalls().size(), 1u);
  EXPECT_EQ(manager_.terminateCalls()[0].second, "sec1");
  EXPECT_TRUE(live_->terminated());
  EXPECT_EQ(countAudit("terminate", "s2"), 1);
  EXPECT_EQ(json::parse(get(c, "/api/sessions/s2").body)["end_reason"], "terminated by sec1");
  EXPECT_EQ(post(c, "/api/sessions/s2/terminate").status, 409);
}

TEST_F(ApiServerTest, GrantsIssueCodesForConfiguredGrantsOnly) {
  const std::string c = login("sec1", "secpw");
  Resp ok = post(c, "/api/grants", R"({"user":"vend1","target":"dc01","ttl_s":600})");
  ASSERT_EQ(ok.status, 200) << ok.body;
  auto j = json::parse(ok.body);
  EXPECT_EQ(j["code"], "ABCD2345");
  EXPECT_TRUE(parseRfc3339(j["expires_at"].get<std::string>()).has_value());
  ASSERT_EQ(issued_.size(), 1u);
  EXPECT_EQ(issued_[0], "vend1#dc01:600000 by sec1");
  EXPECT_EQ(countAudit("grant", "vend1#dc01"), 1);
  for (const auto& a : store_.auditEntries()) EXPECT_EQ(a.detail.find("ABCD2345"), std::string::npos);

  EXPECT_EQ(post(c, "/api/grants", R"({"user":"ghost","target":"dc01"})").status, 404);
  EXPECT_EQ(post(c, "/api/grants", R"({"user":"vend1","target":"nowhere"})").status, 404);
  EXPECT_EQ(post(c, "/api/grants", R"({"user":"aud1","target":"dc01"})").status, 409);
  EXPECT_EQ(post(c, "/api/grants", R"({"user":"vend1","target":"dc01","ttl_s":5})").status, 400);
  EXPECT_EQ(post(c, "/api/grants", R"({"user":"vend1","target":"dc01","ttl_s":"1h"})").status, 400);
  EXPECT_EQ(issued_.size(), 1u);
}

TEST_F(ApiServerTest, AuditLogForAdmins) {
  const std::string c = login("admin1", "adminpw");
  get(c, "/api/search?q=net");
  Resp r = get(c, "/api/audit?limit=10");
  ASSERT_EQ(r.status, 200);
  auto entries = json::parse(r.body)["entries"];
  ASSERT_GE(entries.size(), 2u);
  EXPECT_EQ(entries[0]["action"], "search");
  EXPECT_EQ(entries[0]["actor"], "admin1");
  EXPECT_EQ(entries[0]["object"], "net");
  EXPECT_TRUE(parseRfc3339(entries[0]["at"].get<std::string>()).has_value());
  EXPECT_EQ(get(c, "/api/audit?limit=5000").status, 400);
}

TEST_F(ApiServerTest, AlertsForSecurityNewestFirstWithSince) {
  const EpochMillis now = epochNowMs();
  ASSERT_TRUE(store_.putAlert({"s1", 9000, now - 120'000, "local account created", "high",
                               "local account created: net user eve [masked] /add", "vend1", "dc01"})
                  .ok());
  ASSERT_TRUE(store_.putAlert({"s2", 500, now - 1000, "shutdown", "critical",
                               "shutdown: shutdown /s", "vend1", "dc01"})
                  .ok());
  const std::string c = login("sec1", "secpw");
  Resp r = get(c, "/api/alerts");
  ASSERT_EQ(r.status, 200) << r.body;
  auto alerts = json::parse(r.body)["alerts"];
  ASSERT_EQ(alerts.size(), 2u);
  EXPECT_EQ(alerts[0]["session_id"], "s2");
  EXPECT_EQ(alerts[1]["session_id"], "s1");
  EXPECT_EQ(alerts[1]["t_ms"], 9000);
  EXPECT_EQ(alerts[1]["rule"], "local account created");
  EXPECT_EQ(alerts[1]["severity"], "high");
  EXPECT_EQ(alerts[1]["text"], "local account created: net user eve [masked] /add");
  EXPECT_EQ(alerts[1]["user"], "vend1");
  EXPECT_EQ(alerts[1]["target"], "dc01");
  EXPECT_TRUE(parseRfc3339(alerts[1]["at"].get<std::string>()).has_value());

  const std::string since = formatRfc3339(now - 60'000);
  r = get(c, "/api/alerts?since=" + since);
  ASSERT_EQ(r.status, 200) << r.body;
  alerts = json::parse(r.body)["alerts"];
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0]["rule"], "shutdown");
  EXPECT_EQ(json::parse(get(c, "/api/alerts?limit=1").body)["alerts"].size(), 1u);
  EXPECT_EQ(get(c, "/api/alerts?since=yesterday").status, 400);
  EXPECT_EQ(get(c, "/api/alerts?limit=0").status, 400);
}

TEST_F(ApiServerTest, StaticFilesAndSecurityHeaders) {
  Resp anon = httpRequest(port_, "GET", "/");
  EXPECT_EQ(anon.status, 200);
  EXPECT_NE(anon.body.find("sign in"), std::string::npos);
  EXPECT_EQ(httpRequest(port_, "GET", "/css/vigil.css").status, 200);
  EXPECT_EQ(httpRequest(port_, "GET", "/js/login.js").status, 200);
  EXPECT_EQ(httpRequest(port_, "GET", "/js/app.js").status, 401);
  const std::string csp = anon.header("content-security-policy");
  EXPECT_NE(csp.find("default-src 'self'"), std::string::npos);
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos);
  EXPECT_EQ(anon.header("x-content-type-options"), "nosniff");

  const std::string c = login("vend1", "vendpw");
  Resp app = get(c, "/");
  EXPECT_EQ(app.status, 200);
  EXPECT_NE(app.body.find("Vigil app"), std::string::npos);
  EXPECT_EQ(get(c, "/js/app.js").header("content-type"), "text/javascript; charset=utf-8");
  EXPECT_EQ(get(c, "/nope.js").status, 404);
  Resp api = get(c, "/api/me");
  EXPECT_EQ(api.header("cache-control"), "no-store");
  EXPECT_EQ(api.header("x-content-type-options"), "nosniff");
}

TEST_F(ApiServerTest, ThumbnailIsAJpegOfTheLiveScreen) {
  const std::string c = login("sec1", "secpw");
  // The first look subscribes; the picture follows (never waited for on a worker).
  Resp r;
  ASSERT_TRUE(waitFor([&] {
    r = get(c, "/api/sessions/s2/thumbnail");
    return r.status == 200;
  })) << r.status << " " << r.body;
  EXPECT_EQ(r.header("content-type"), "image/jpeg");
  ASSERT_GT(r.body.size(), 100u);
  EXPECT_EQ(static_cast<unsigned char>(r.body[0]), 0xFF);
  EXPECT_EQ(static_cast<unsigned char>(r.body[1]), 0xD8);
  EXPECT_EQ(get(c, "/api/sessions/s1/thumbnail").status, 404);  // not live
}

TEST_F(ApiServerTest, LiveViewStreamsTilesAndEventsAndEnds) {
  {  // Roles, credentials and origin first.
    Headers upgrade = {{"Connection", "Upgrade"}, {"Upgrade", "websocket"},
                       {"Sec-WebSocket-Version", "13"}, {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}};
    EXPECT_EQ(httpRequest(port_, "GET", "/api/sessions/s2/live", upgrade).status, 401);
    Headers aud = upgrade;
    aud.push_back({"Cookie", login("aud1", "audpw")});
    EXPECT_EQ(httpRequest(port_, "GET", "/api/sessions/s2/live", aud).status, 403);
    Headers cross = upgrade;
    cross.push_back({"Cookie", login("sec1", "secpw")});
    cross.push_back({"Origin", "http://evil.example"});
    EXPECT_EQ(httpRequest(port_, "GET", "/api/sessions/s2/live", cross).status, 403);
    Headers gone = upgrade;
    gone.push_back({"Cookie", login("sec1", "secpw")});
    EXPECT_EQ(httpRequest(port_, "GET", "/api/sessions/s1/live", gone).status, 404);
    WsClient anon;
    EXPECT_TRUE(anon.connect(port_, "/api/sessions/s2/live", ""));
  }
  const std::string c = login("sec1", "secpw");
  WsClient w;
  ASSERT_FALSE(w.connect(port_, "/api/sessions/s2/live", c));
  bool binary = false;
  auto hello = json::parse(w.read(binary));
  EXPECT_FALSE(binary);
  EXPECT_EQ(hello["type"], "hello");
  EXPECT_EQ(hello["user"], "vend1");
  EXPECT_EQ(hello["target"], "dc01");
  ASSERT_TRUE(waitFor([&] { return live_->subscribers() >= 2; }));
  EXPECT_EQ(countAudit("live", "s2"), 1);

  std::string first = w.read(binary);
  ASSERT_TRUE(binary);
  ASSERT_GE(first.size(), 16u);
  EXPECT_EQ(first[0], 1);
  EXPECT_EQ(first[1], 1);  // full frame
  auto u16 = [](const std::string& s, std::size_t o) {
    return static_cast<int>(static_cast<unsigned char>(s[o]) | (static_cast<unsigned char>(s[o + 1]) << 8));
  };
  EXPECT_EQ(u16(first, 2), 640);
  EXPECT_EQ(u16(first, 4), 480);
  EXPECT_EQ(u16(first, 6), 1);

  // A small change: only its tile comes, not the whole screen.
  live_->draw(640, 480, {10, 10, 20, 20}, 0xFF0000);
  live_->emit({1234, EventKind::Key, "whoami", {}});
  bool got_tile = false, got_event = false;
  for (int i = 0; i < 10 && !(got_tile && got_event); ++i) {
    std::string m = w.read(binary);
    if (binary) {
      EXPECT_EQ(m[1], 0);
      EXPECT_EQ(u16(m, 6), 1);
      EXPECT_EQ(u16(m, 16), 0);  // x
      EXPECT_EQ(u16(m, 18), 0);  // y
      EXPECT_EQ(u16(m, 20), 64);  // w
      EXPECT_LT(m.size(), first.size());
      got_tile = true;
    } else {
      auto j = json::parse(m);
      if (j["type"] == "event") {
        EXPECT_EQ(j["text"], "whoami");
        EXPECT_EQ(j["kind"], "key");
        got_event = true;
      }
    }
  }
  EXPECT_TRUE(got_tile);
  EXPECT_TRUE(got_event);

  // Terminated elsewhere: the viewer hears why, then the socket closes.
  ASSERT_TRUE(manager_.terminate("s2", "admin1").ok());
  std::string reason;
  boost::system::error_code ec;
  for (int i = 0; i < 20 && reason.empty(); ++i) {
    w.buf.clear();
    w.stream.read(w.buf, ec);
    if (ec) break;
    if (!w.stream.got_binary()) {
      auto j = json::parse(boost::beast::buffers_to_string(w.buf.data()));
      if (j["type"] == "ended") reason = j["reason"];
    }
  }
  EXPECT_EQ(reason, "terminated by admin1");
  ASSERT_TRUE(waitFor([&] { return live_->subscribers() == 0; }, std::chrono::seconds(3)));
  // Then the server closes the socket.
  for (int i = 0; i < 50 && !ec; ++i) {
    w.buf.clear();
    w.stream.read(w.buf, ec);
  }
  EXPECT_TRUE(ec);
}

TEST_F(ApiServerTest, StopUnsubscribesLiveViewers) {
  const std::string c = login("sec1", "secpw");
  WsClient w;
  ASSERT_FALSE(w.connect(port_, "/api/sessions/s2/live", c));
  ASSERT_TRUE(waitFor([&] { return live_->subscribers() >= 2; }));
  server_->stop();
  EXPECT_EQ(live_->subscribers(), 0u);
}

TEST_F(ApiServerTest, StartFailsClearly) {
  Config cfg = config_;
  cfg.web_listen = {"127.0.0.1", port_};  // taken
  ApiDeps deps{store_, manager_, [](auto&, auto&, long long, auto&) -> Result<auth::IssuedCode> {
                 return Status::Error("no");
               },
               fakeVerify, (dir_ / "rec").string(), (dir_ / "web").string()};
  auto taken = ApiServer::start(cfg, deps);
  ASSERT_FALSE(taken.ok());
  EXPECT_NE(taken.message().find("listen"), std::string::npos);
  cfg.web_listen = {"127.0.0.1", 0};
  deps.web_root = (dir_ / "nowhere").string();
  auto no_web = ApiServer::start(cfg, deps);
  ASSERT_FALSE(no_web.ok());
  EXPECT_NE(no_web.message().find("index.html"), std::string::npos);
  cfg.web_tls_cert = (dir_ / "missing.pem").string();
  cfg.web_tls_key = (dir_ / "missing.key").string();
  deps.web_root = (dir_ / "web").string();
  auto no_tls = ApiServer::start(cfg, deps);
  ASSERT_FALSE(no_tls.ok());
  EXPECT_NE(no_tls.message().find("tls_cert"), std::string::npos);
}

}  // namespace
}  // namespace vigil::gateway::api::testing
