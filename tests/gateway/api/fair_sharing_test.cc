// One client cannot take the API from everyone else: slow connections from
// one address hold only that address's slots, headers and idle keep-alives
// have deadlines, thumbnails never hold a worker, and a live view ends soon
// after its viewer signs out.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "tests/gateway/api/api_fixture.h"

namespace vigil::gateway::api::testing {
namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
const Headers kSecBasic = {{"Authorization", "Basic c2VjMTpzZWNwdw=="}};  // sec1:secpw

// A connection from `source` (another loopback address) that sends part of
// a request and then nothing.
std::unique_ptr<asio::ip::tcp::socket> slowClient(asio::io_context& ioc, const char* source,
                                                  std::uint16_t port) {
  auto s = std::make_unique<asio::ip::tcp::socket>(ioc);
  boost::system::error_code ec;
  s->open(asio::ip::tcp::v4(), ec);
  s->bind({asio::ip::make_address(source), 0}, ec);
  s->connect({asio::ip::make_address("127.0.0.1"), port}, ec);
  if (ec) return nullptr;
  asio::write(*s, asio::buffer(std::string("GET /api/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")), ec);
  return s;
}

// True once the server has closed `s` (read returns EOF or an error).
bool closedByServer(asio::ip::tcp::socket& s, std::chrono::milliseconds wait) {
  s.non_blocking(true);
  const auto end = Clock::now() + wait;
  char b[64];
  while (Clock::now() < end) {
    boost::system::error_code ec;
    s.read_some(asio::buffer(b), ec);
    if (ec && ec != asio::error::would_block) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

TEST_F(ApiServerTest, SlowClientsFromOneAddressLeaveOthersServedWithinASecond) {
  asio::io_context ioc;
  std::vector<std::unique_ptr<asio::ip::tcp::socket>> slow;
  for (int i = 0; i < 300; ++i)
    if (auto s = slowClient(ioc, "127.0.0.2", port_)) slow.push_back(std::move(s));
  ASSERT_EQ(slow.size(), 300u);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // Beyond its 32 slots the attacker's connections are closed at once.
  int closed = 0;
  for (auto& s : slow) closed += closedByServer(*s, std::chrono::milliseconds(1)) ? 1 : 0;
  EXPECT_GE(closed, 300 - 32);

  std::vector<double> ms;
  for (int i = 0; i < 24; ++i) {
    const auto t0 = Clock::now();
    Resp r = httpRequest(port_, "GET", "/api/sessions?state=live", kSecBasic);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    EXPECT_EQ(r.status, 200);
  }
  std::sort(ms.begin(), ms.end());
  EXPECT_LE(ms.back(), 1000.0) << "slowest of 24 staff requests under attack, ms";
  // ... and a terminate gets through too.
  EXPECT_EQ(httpRequest(port_, "POST", "/api/sessions/s2/terminate", kSecBasic).status, 202);
}

class DeadlineTest : public ApiServerTest {
 protected:
  ApiOptions options() override {
    ApiOptions opt = ApiServerTest::options();
    opt.header_timeout = std::chrono::seconds(1);
    opt.keepalive_idle = std::chrono::seconds(1);
    opt.worker_threads = 1;
    return opt;
  }
};

TEST_F(DeadlineTest, HeadersThatNeverFinishAreCutOffAtTheDeadline) {
  asio::io_context ioc;
  auto s = slowClient(ioc, "127.0.0.1", port_);
  ASSERT_TRUE(s);
  const auto t0 = Clock::now();
  ASSERT_TRUE(closedByServer(*s, std::chrono::seconds(5)));
  const double took = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_GE(took, 0.8);
  EXPECT_LE(took, 2.5);
}

TEST_F(DeadlineTest, AnIdleKeepAliveConnectionIsClosed) {
  asio::io_context ioc;
  asio::ip::tcp::socket s(ioc);
  s.connect({asio::ip::make_address("127.0.0.1"), port_});
  const std::string req =
      "GET /api/me HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic c2VjMTpzZWNwdw==\r\n\r\n";
  asio::write(s, asio::buffer(req));
  boost::beast::flat_buffer buf;
  boost::beast::http::response<boost::beast::http::string_body> res;
  boost::beast::http::read(s, buf, res);
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_TRUE(res.keep_alive());
  const auto t0 = Clock::now();
  ASSERT_TRUE(closedByServer(s, std::chrono::seconds(5)));
  EXPECT_LE(std::chrono::duration<double>(Clock::now() - t0).count(), 2.5);
}

TEST_F(DeadlineTest, AThumbnailWithNoPictureYetNeverHoldsTheWorker) {
  // A live session that has drawn nothing: the only worker must not wait on it.
  AccessGrant g;
  g.user = "vend1";
  g.target = &config_.targets[0];
  g.via = "password";
  manager_.add(std::make_shared<FakeSession>("s3", g));
  const auto t0 = Clock::now();
  Resp r = httpRequest(port_, "GET", "/api/sessions/s3/thumbnail", kSecBasic);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.header("retry-after"), "1");
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  EXPECT_LE(ms, 300.0);
}

TEST_F(ApiServerTest, ALiveViewEndsWithinFiveSecondsOfSignOut) {
  const std::string c = login("sec1", "secpw");
  WsClient w;
  ASSERT_FALSE(w.connect(port_, "/api/sessions/s2/live", c));
  ASSERT_EQ(post(c, "/api/logout").status, 200);
  const auto t0 = Clock::now();
  bool binary = false;
  try {
    for (;;) w.read(binary);  // frames until the server closes
  } catch (const boost::system::system_error&) {
  }
  EXPECT_LE(std::chrono::duration<double>(Clock::now() - t0).count(), 5.0);
}

}  // namespace
}  // namespace vigil::gateway::api::testing
