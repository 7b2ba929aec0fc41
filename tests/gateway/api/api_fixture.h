// The API tests' fixture: an ApiServer over the fakes with four users (one
// per role), an ended session s1 with a recording and events, a live session
// s2, and three records whose video paths try to leave the recordings dir.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "gateway/api/api_server.h"
#include "tests/gateway/api/api_test_util.h"

namespace vigil::gateway::api::testing {

namespace fs = std::filesystem;
using json = nlohmann::json;

class ApiServerTest : public ::testing::Test {
 protected:
  // What a test needs to differ from production: a few tests change more.
  virtual ApiOptions options() {
    ApiOptions opt;
    opt.max_failures_per_user = 3;
    opt.max_failures_per_address = 1000;
    opt.request_timeout = std::chrono::seconds(5);
    return opt;
  }
  // Called before the server starts, for tests that need more config.
  virtual void configure(Config&) {}
  // ... and for tests that give the server more dependencies (evidence).
  virtual void addDeps(ApiDeps&) {}

  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("vigil_api_test_" + std::to_string(::getpid()) + "_" +
                                        std::to_string(counter_++));
    fs::remove_all(dir_);
    writeFile(dir_ / "web/index.html", "<!doctype html><title>Vigil app</title>");
    writeFile(dir_ / "web/login.html", "<!doctype html><title>Vigil sign in</title>");
    writeFile(dir_ / "web/js/app.js", "console.log('app');");
    writeFile(dir_ / "web/js/login.js", "console.log('login');");
    writeFile(dir_ / "web/css/vigil.css", "body{}");
    writeFile(dir_ / "secret.txt", "top secret");
    video_.resize(100000);
    for (std::size_t i = 0; i < video_.size(); ++i) video_[i] = static_cast<char>((i * 7) & 0xFF);
    writeFile(dir_ / "rec/s1.mp4", video_);
    fs::create_directories(dir_ / "rec");
    fs::create_symlink(dir_ / "secret.txt", dir_ / "rec/link.mp4");

    config_.web_listen = {"127.0.0.1", 0};
    config_.users = {{"admin1", "plain:adminpw", {Role::Admin}},
                     {"sec1", "plain:secpw", {Role::Security}},
                     {"aud1", "plain:audpw", {Role::Auditor}},
                     {"vend1", "plain:vendpw", {Role::Vendor}}};
    TargetConfig t;
    t.name = "dc01";
    t.host = "10.0.0.5";
    t.port = 3389;
    config_.targets = {t};
    config_.grants = {{"vend1", "dc01", std::nullopt, std::nullopt}};

    const EpochMillis now = epochNowMs();
    storage::SessionRecord s1{"s1", "vend1", "dc01", "rdp", "ended", now - 600000, now - 300000,
                              1280, 800, static_cast<long long>(video_.size()),
                              "client disconnected", "node1", "10.1.1.1", "s1.mp4"};
    storage::SessionRecord s2{"s2", "vend1", "dc01", "rdp", "live", now - 60000, 0, 640, 480, 0,
                              "", "node1", "10.1.1.2", "s2.mp4"};
    storage::SessionRecord bad1 = s1, bad2 = s1, bad3 = s1;
    bad1.id = "evil1";
    bad1.video_path = "../secret.txt";
    bad2.id = "evil2";
    bad2.video_path = (dir_ / "secret.txt").string();
    bad3.id = "evil3";
    bad3.video_path = "link.mp4";
    for (auto* s : {&s1, &s2, &bad1, &bad2, &bad3}) ASSERT_TRUE(store_.putSession(*s).ok());
    ASSERT_TRUE(store_.appendEvents("s1", {{0, EventKind::Lifecycle, "connect", {}},
                                           {1500, EventKind::Key, "ipconfig /all", {}},
                                           {4000, EventKind::Title, "Command Prompt", {}},
                                           {9000, EventKind::Key, "net user admin", {}}})
                    .ok());
    AccessGrant g;
    g.user = "vend1";
    g.target = &config_.targets[0];
    g.via = "password";
    live_ = std::make_shared<FakeSession>("s2", g);
    live_->draw(640, 480, {0, 0, 640, 480}, 0x204080);
    manager_.add(live_);

    ApiDeps deps{store_, manager_,
                 [this](const std::string& u, const std::string& tg, long long ttl,
                        const std::string& by) -> Result<auth::IssuedCode> {
                   issued_.push_back(u + "#" + tg + ":" + std::to_string(ttl) + " by " + by);
                   return auth::IssuedCode{"ABCD2345", epochNowMs() + ttl};
                 },
                 fakeVerify, (dir_ / "rec").string(), (dir_ / "web").string()};
    configure(config_);
    addDeps(deps);
    auto server = ApiServer::start(config_, std::move(deps), options());
    ASSERT_TRUE(server.ok()) << server.message();
    server_ = std::move(server.value());
    port_ = server_->port();
  }

  void TearDown() override {
    if (server_) server_->stop();
    fs::remove_all(dir_);
  }

  std::string login(const std::string& user, const std::string& pw) {
    Resp r = httpRequest(port_, "POST", "/api/login", {{"Content-Type", "application/json"}},
                         json{{"user", user}, {"password", pw}}.dump());
    EXPECT_EQ(r.status, 200) << r.body;
    std::string cookie = r.header("set-cookie");
    return cookie.substr(0, cookie.find(';'));
  }
  Resp get(const std::string& cookie, const std::string& target, Headers extra = {}) {
    extra.push_back({"Cookie", cookie});
    return httpRequest(port_, "GET", target, extra);
  }
  Resp post(const std::string& cookie, const std::string& target, const std::string& body = "{}") {
    return httpRequest(port_, "POST", target,
                       {{"Cookie", cookie}, {"Content-Type", "application/json"}}, body);
  }
  int countAudit(const std::string& action, const std::string& object) {
    int n = 0;
    for (const auto& a : store_.auditEntries())
      if (a.action == action && (object.empty() || a.object == object)) ++n;
    return n;
  }

  static inline int counter_ = 0;
  fs::path dir_;
  std::string video_;
  Config config_;
  FakeStore store_;
  FakeSessionManager manager_{store_};
  std::shared_ptr<FakeSession> live_;
  std::vector<std::string> issued_;
  std::unique_ptr<ApiServer> server_;
  std::uint16_t port_ = 0;
};

}  // namespace vigil::gateway::api::testing
