// The front door without a protocol: connections whose "library" blocks in
// a read and ignores close(), as FreeRDP's TLS accept does.
#include "gateway/listener.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace vigil::gateway {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Reads until the socket ends; "AUTH" authenticates. close() is ignored on
// purpose: only the listener's shutdown can end a blocked read.
class BlockingConnection final : public ClientConnection {
 public:
  BlockingConnection(int fd, DoorPass pass, std::atomic<int>& running)
      : fd_(fd), pass_(std::move(pass)), running_(running) {}
  ~BlockingConnection() override { ::close(fd_); }
  void run() override {
    ++running_;
    char buf[64];
    ssize_t n;
    while ((n = ::recv(fd_, buf, sizeof buf, 0)) > 0)
      if (std::string(buf, static_cast<std::size_t>(n)).find("AUTH") != std::string::npos)
        pass_.authenticated();
    --running_;
  }
  void close(const std::string&) override {}

 private:
  int fd_;
  DoorPass pass_;
  std::atomic<int>& running_;
};

class ListenerTest : public ::testing::Test {
 protected:
  Listener::Factory factory() {
    return [this](int fd, const std::string&, DoorPass pass) {
      ++accepted_;
      return std::make_unique<BlockingConnection>(fd, std::move(pass), running_);
    };
  }
  void start(DoorLimits limits, std::shared_ptr<DoorGroup> group = nullptr) {
    auto l = Listener::start(HostPort{"127.0.0.1", 0}, "test", limits, factory(), std::move(group));
    ASSERT_TRUE(l.ok()) << l.message();
    listener_ = std::move(l.value());
  }
  // A client socket from `from` (any 127.x address reaches the listener) to
  // `port` (default: the fixture's listener).
  int connectFrom(const char* from, std::uint16_t port = 0) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in src{};
    src.sin_family = AF_INET;
    ::inet_pton(AF_INET, from, &src.sin_addr);
    EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src), 0);
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(port ? port : listener_->port());
    dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst), 0);
    fds_.push_back(fd);
    return fd;
  }
  // How long until the server ends the connection (nullopt: not within `limit`).
  static std::optional<std::chrono::milliseconds> closedWithin(int fd, std::chrono::milliseconds limit) {
    const auto t0 = Clock::now();
    while (Clock::now() - t0 < limit) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) > 0) {
        char c;
        if (::recv(fd, &c, 1, 0) <= 0)
          return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
      }
    }
    return std::nullopt;
  }
  void TearDown() override {
    if (listener_) listener_->stop();
    for (int fd : fds_) ::close(fd);
  }

  std::atomic<int> accepted_{0}, running_{0};
  std::unique_ptr<Listener> listener_;
  std::vector<int> fds_;
};

TEST_F(ListenerTest, AStalledHandshakeIsCutFromOutsideTheLibrary) {
  start({.handshake_timeout = 1s});
  const int fd = connectFrom("127.0.0.7");
  auto took = closedWithin(fd, 3s);
  ASSERT_TRUE(took) << "the blocked connection was never cut";
  EXPECT_GE(*took, 900ms);
  EXPECT_LE(*took, 1300ms) << "deadline + sweep";
  EXPECT_TRUE([&] {
    for (int i = 0; i < 50 && running_ > 0; ++i) std::this_thread::sleep_for(20ms);
    return running_ == 0;
  }()) << "the connection's thread did not end";
}

TEST_F(ListenerTest, AnAuthenticatedConnectionHasNoDeadline) {
  start({.handshake_timeout = 1s});
  const int fd = connectFrom("127.0.0.1");
  ASSERT_EQ(::send(fd, "AUTH", 4, 0), 4);
  EXPECT_FALSE(closedWithin(fd, 2s));
}

TEST_F(ListenerTest, OneAddressCannotTakeEverySlot) {
  start({.handshake_timeout = 30s, .max_unauthenticated_per_address = 8, .max_unauthenticated = 64});
  for (int i = 0; i < 8; ++i) connectFrom("127.0.0.7");
  ASSERT_TRUE([&] {
    for (int i = 0; i < 100 && accepted_ < 8; ++i) std::this_thread::sleep_for(10ms);
    return accepted_ == 8;
  }());
  // Past the cap, more from that address are closed at once...
  for (int i = 0; i < 20; ++i) {
    auto took = closedWithin(connectFrom("127.0.0.7"), 1s);
    ASSERT_TRUE(took) << "connection " << i << " past the cap was kept";
  }
  EXPECT_EQ(accepted_, 8);
  // ...while another address still gets in, and stays.
  const int good = connectFrom("127.0.0.1");
  EXPECT_FALSE(closedWithin(good, 500ms));
  EXPECT_EQ(accepted_, 9);
}

TEST_F(ListenerTest, TheGlobalCapHoldsAcrossAddresses) {
  start({.handshake_timeout = 30s, .max_unauthenticated_per_address = 8, .max_unauthenticated = 4});
  for (const char* a : {"127.0.0.7", "127.0.0.8", "127.0.0.9", "127.0.0.10"}) connectFrom(a);
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(closedWithin(connectFrom("127.0.0.11"), 1s));
  // An authenticated connection frees its slot.
  ASSERT_EQ(::send(fds_[0], "AUTH", 4, 0), 4);
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(closedWithin(connectFrom("127.0.0.12"), 500ms));
}

TEST_F(ListenerTest, TheCapsHoldAcrossTheListenersOfAGroup) {
  auto group = std::make_shared<DoorGroup>();
  const DoorLimits limits{.handshake_timeout = 30s, .max_unauthenticated_per_address = 8};
  start(limits, group);
  auto other = Listener::start(HostPort{"127.0.0.1", 0}, "other", limits, factory(), group);
  ASSERT_TRUE(other.ok()) << other.message();
  const std::uint16_t other_port = (*other)->port();
  // 5 handshakes on one port and 3 on the other from one address: its 8.
  for (int i = 0; i < 5; ++i) connectFrom("127.0.0.7");
  for (int i = 0; i < 3; ++i) connectFrom("127.0.0.7", other_port);
  ASSERT_TRUE([&] {
    for (int i = 0; i < 100 && accepted_ < 8; ++i) std::this_thread::sleep_for(10ms);
    return accepted_ == 8;
  }());
  EXPECT_TRUE(closedWithin(connectFrom("127.0.0.7"), 1s)) << "a 9th on the first port was kept";
  EXPECT_TRUE(closedWithin(connectFrom("127.0.0.7", other_port), 1s)) << "a 9th on the second port was kept";
  EXPECT_FALSE(closedWithin(connectFrom("127.0.0.1", other_port), 500ms)) << "another address was turned away";
  (*other)->stop();
}

TEST_F(ListenerTest, StopEndsBlockedConnectionsAtOnce) {
  start({.handshake_timeout = 60s});
  for (int i = 0; i < 30; ++i) connectFrom(i % 2 ? "127.0.0.7" : "127.0.0.8");
  std::this_thread::sleep_for(300ms);
  const auto t0 = Clock::now();
  listener_->stop();
  EXPECT_LT(Clock::now() - t0, 2s);
  EXPECT_EQ(running_, 0);
}

}  // namespace
}  // namespace vigil::gateway
