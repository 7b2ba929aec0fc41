// Starts a private redis-server for a test (unix socket in a fresh temp dir,
// no persistence unless asked) and kills it at destruction, even on failure.
// With setPassword() it wants that password (requirepass, from a 0600 config
// file as scripts/run does, so it is not on the command line) and command()
// sends it.
#pragma once

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace vigil::storage::testing {

class RedisServer {
 public:
  // `tcp_port` 0: unix socket only. `extra` is appended to the command line.
  explicit RedisServer(int tcp_port = 0, std::vector<std::string> extra = {})
      : tcp_port_(tcp_port), extra_(std::move(extra)) {
    char tmpl[] = "/tmp/vigil-redis-XXXXXX";
    if (char* d = mkdtemp(tmpl)) dir_ = d;
    socket_ = dir_ + "/redis.sock";
  }
  ~RedisServer() {
    kill();
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
  }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // Before start(): the password clients must send (AUTH).
  void setPassword(std::string password) { password_ = std::move(password); }
  const std::string& password() const { return password_; }

  // Empty on success, else why it failed.
  std::string start() {
    if (dir_.empty()) return "cannot create a temp dir";
    std::vector<std::string> args = {"redis-server"};
    if (!password_.empty()) {
      // A config file must be redis-server's first argument.
      const std::string conf = dir_ + "/redis.conf";
      const int fd = ::open(conf.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (fd < 0) return "cannot write " + conf;
      const std::string line = "requirepass \"" + password_ + "\"\n";
      const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
      ::close(fd);
      if (!ok) return "cannot write " + conf;
      args.push_back(conf);
    }
    args.insert(args.end(), {"--port", std::to_string(tcp_port_),
                                     "--bind", "127.0.0.1", "--unixsocket", socket_,
                                     "--dir", dir_, "--logfile", dir_ + "/redis.log",
                                     "--save", "", "--appendonly", "no", "--daemonize", "no"});
    args.insert(args.end(), extra_.begin(), extra_.end());
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawnp(&pid_, "redis-server", nullptr, nullptr, argv.data(), environ) != 0) {
      pid_ = -1;
      return "redis-server is not installed (apt-get install redis-server)";
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      const std::string pong = command("PING");
      if (pong == "PONG") return "";
      if (pong.starts_with("NOAUTH") && password_.empty()) return "";  // up, --requirepass in `extra`
      if (pong.starts_with("NOAUTH") || pong.starts_with("WRONGPASS"))
        return "redis-server wants another password than setPassword() gave";
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return "redis-server exited at start; see its log";
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return "redis-server did not answer within 20 s";
  }

  // Saves the data set (RDB in the temp dir) and exits, so a later start()
  // loads it again.
  void shutdownSave() {
    command("SHUTDOWN", "SAVE");
    waitExit();
  }
  void kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    waitExit();
  }

  // The socket's URL, with the password when there is one.
  std::string url() const {
    return "unix://" + socket_ + (password_.empty() ? "" : "?password=" + password_);
  }
  // redis://[:password@]127.0.0.1:PORT/db (a TCP port must have been given).
  std::string tcpUrl(int db = 0) const {
    return "redis://" + (password_.empty() ? "" : ":" + password_ + "@") + "127.0.0.1:" +
           std::to_string(tcp_port_) + "/" + std::to_string(db);
  }
  pid_t pid() const { return pid_; }
  const std::string& socketPath() const { return socket_; }

  // One command over the socket (after AUTH when there is a password), as
  // redis-cli would send it; returns the reply text (errors too) or "" when
  // unreachable.
  std::string command(const char* a, const char* b = nullptr) const {
    std::vector<std::string> args{a};
    if (b) args.emplace_back(b);
    return command(args);
  }
  std::string command(const std::vector<std::string>& args) const {
    timeval tv{1, 0};
    redisContext* c = redisConnectUnixWithTimeout(socket_.c_str(), tv);
    std::string out;
    if (c && !c->err) {
      redisSetTimeout(c, tv);
      if (!password_.empty())
        if (auto* r = static_cast<redisReply*>(redisCommand(c, "AUTH %s", password_.c_str())))
          freeReplyObject(r);
      std::vector<const char*> argv;
      std::vector<size_t> lens;
      for (const std::string& x : args) {
        argv.push_back(x.data());
        lens.push_back(x.size());
      }
      auto* r = static_cast<redisReply*>(
          redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
      if (r) {
        if (r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_ERROR)
          out.assign(r->str, r->len);
        if (r->type == REDIS_REPLY_INTEGER) out = std::to_string(r->integer);
        freeReplyObject(r);
      }
    }
    if (c) redisFree(c);
    return out;
  }

  // A TCP port that was free a moment ago.
  static int freePort() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
      port = ntohs(a.sin_port);
    ::close(fd);
    return port;
  }

 private:
  void waitExit() {
    if (pid_ <= 0) return;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) ::kill(pid_, SIGKILL);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_ = -1;
  }

  int tcp_port_;
  std::vector<std::string> extra_;
  std::string dir_, socket_, password_;
  pid_t pid_ = -1;
};

// Polls `cond` every 10 ms until it holds or `within` passes.
template <class F>
bool eventually(F cond, std::chrono::milliseconds within = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return cond();
}

}  // namespace vigil::storage::testing
