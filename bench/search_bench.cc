// Search over 1M events in a real Redis (started here): RedisStore::search
// latency (p50/p95/p99) for typical queries, insert throughput, memory; the
// same queries through the real HTTP API (GET /api/search, HTTP Basic, the
// audit entry included) as a browser sends them; and a naive peer in the same
// run — read each session's events newest first and match in C++ — over a
// ~100k-event subset, to show the ratio.
//
//   search_bench [--events N] [--sessions S] [--rounds R]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "core/clock.h"
#include "gateway/api/api_server.h"
#include "storage/redis_store.h"
#include "storage/search_query.h"
#include "tests/gateway/api/fakes.h"
#include "tests/storage/redis_server.h"

using namespace vigil;
using namespace vigil::storage;
using BenchClock = std::chrono::steady_clock;

namespace {

double ms(BenchClock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

struct Stats {
  double p50, p95, p99, max;
};
Stats stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  auto at = [&](double p) { return v[std::min(v.size() - 1, static_cast<std::size_t>(p * v.size()))]; };
  return {at(0.50), at(0.95), at(0.99), v.back()};
}

// Realistic admin activity: commands, paths, hosts, titles, clipboard bits.
class TextGen {
 public:
  explicit TextGen(unsigned seed) : rng_(seed) {}
  int n(int hi) { return std::uniform_int_distribution<int>(0, hi - 1)(rng_); }
  template <class T>
  const T& pick(const std::vector<T>& v) { return v[n(static_cast<int>(v.size()))]; }
  std::string host() { return pick(kHostKinds) + "-" + std::to_string(n(400)); }
  std::string ip() { return "10." + std::to_string(n(8)) + "." + std::to_string(n(256)) + "." + std::to_string(n(256)); }
  std::string user() { return pick(kPeople) + std::to_string(n(50)); }
  std::string hex() {
    char b[16];
    std::snprintf(b, sizeof b, "%08x", static_cast<unsigned>(rng_()));
    return b;
  }
  std::string file() { return pick(kFileStems) + "_" + std::to_string(n(3000)) + "." + pick(kExts); }

  Event event(Millis t) {
    const int r = n(100);
    if (r < 70) return {t, EventKind::Key, keyLine(), ""};
    if (r < 90) return {t, EventKind::Title, title(), ""};
    if (r < 97) return {t, EventKind::Clipboard, "copied " + file() + " token " + hex() + " from " + host(), ""};
    if (r < 99) return {t, EventKind::Alert, "rule " + pick(kRules) + " matched on " + host(), ""};
    return {t, EventKind::Lifecycle, "resize 1280x800", ""};
  }

  std::string keyLine() {
    switch (n(24)) {
      case 0: return "netstat -ano | findstr " + std::to_string(n(65535));
      case 1: return "net user " + user() + " " + hex() + " /add";
      case 2: return "ipconfig /all";
      case 3: return "ping -n 4 " + ip();
      case 4: return "cd C:\\Users\\" + user() + "\\Documents\\" + pick(kFileStems);
      case 5: return "dir C:\\Windows\\System32\\" + pick(kFileStems) + "*";
      case 6: return "Get-Process | Where-Object CPU -gt " + std::to_string(n(500));
      case 7: return "Get-ADUser -Identity " + user() + " -Properties *";
      case 8: return "sc query " + pick(kServices);
      case 9: return "systemctl restart " + pick(kServices);
      case 10: return "tail -f /var/log/" + pick(kServices) + ".log";
      case 11: return "kubectl get pods -n " + pick(kServices) + "-" + std::to_string(n(20));
      case 12: return "ssh admin@" + host();
      case 13: return "tasklist /v | findstr " + pick(kServices);
      case 14: return "notepad " + file();
      case 15: return "whoami /priv";
      case 16: return "reg query HKLM\\Software\\" + pick(kVendors) + "\\" + pick(kFileStems);
      case 17: return "copy " + file() + " \\\\" + host() + "\\share\\" + hex();
      case 18: return "Restart-Service -Name " + pick(kServices) + " -Force";
      case 19: return "psql -h " + host() + " -U " + user() + " -c \"select count(*) from " + pick(kFileStems) + "\"";
      case 20: return "<Ctrl+C>";
      case 21: return "<Alt+Tab>";
      case 22: return "echo " + pick(kWords) + " " + pick(kWords) + " " + pick(kWords) + " > " + file();
      default: return "git log --oneline -n " + std::to_string(n(50)) + " " + pick(kFileStems);
    }
  }
  std::string title() {
    switch (n(8)) {
      case 0: return "Administrator: Command Prompt";
      case 1: return "Administrator: Windows PowerShell";
      case 2: return file() + " - Notepad";
      case 3: return "Server Manager - " + host();
      case 4: return "Event Viewer (Local)";
      case 5: return "Registry Editor - " + pick(kVendors);
      case 6: return "admin@" + host() + ": ~";
      default: return "Services - " + pick(kServices);
    }
  }

  std::mt19937 rng_;
  const std::vector<std::string> kHostKinds = {"srv", "dc", "db", "web", "app", "fs", "k8s", "build"};
  const std::vector<std::string> kPeople = {"jsmith", "adoe", "mgarcia", "lchen", "pkumar", "svc_backup", "oracle", "admin"};
  const std::vector<std::string> kServices = {"nginx", "postgresql", "sshd", "spooler", "wuauserv", "w32time", "mssqlserver", "redis", "docker", "kubelet", "winrm", "dnscache"};
  const std::vector<std::string> kFileStems = {"report", "backup", "config", "invoice", "payroll", "export", "drivers", "inventory", "customers", "deploy", "notes", "audit"};
  const std::vector<std::string> kExts = {"txt", "csv", "xlsx", "log", "ps1", "sql", "json", "conf"};
  const std::vector<std::string> kVendors = {"Microsoft", "Oracle", "VMware", "Citrix", "Adobe", "Veeam"};
  const std::vector<std::string> kRules = {"new-local-admin", "credential-dump", "disable-defender", "mass-delete", "exfil-share"};
  const std::vector<std::string> kWords = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango"};
};

struct QueryCase {
  std::string label;
  std::string query;
  SessionFilter filter;
};

// Reads sessions newest first and matches every event in C++, stopping at the
// limit (the best a scan can do).
std::vector<SearchHit> naiveSearch(RedisStore& store, const std::vector<SessionRecord>& sessions,
                                   const std::string& query, std::size_t limit) {
  auto q = parseSearchQuery(query);
  std::vector<SearchHit> hits;
  for (const SessionRecord& s : sessions) {
    auto evs = store.events(s.id, {});
    if (!evs) continue;
    for (Event& e : *evs) {
      if (!isSearchableKind(e.kind) || !matchesQuery(*q, e.text)) continue;
      hits.push_back({s.id, std::move(e), s.user, s.target, s.started_at});
    }
    if (hits.size() >= limit) break;
  }
  if (hits.size() > limit) hits.resize(limit);
  return hits;
}

// One keep-alive HTTP/1.1 connection, as a browser tab holds; blocking.
// Beast does the HTTP, as in the API tests' httpRequest (which opens a
// connection per request).
class HttpClient {
 public:
  explicit HttpClient(std::uint16_t port) : sock_(ioc_) {
    boost::system::error_code ec;
    sock_.connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
    if (!ec) sock_.set_option(boost::asio::ip::tcp::no_delay(true), ec);
  }
  // GET `target`; returns the status code and fills `body` (-1: I/O error).
  int get(const std::string& target, const std::string& basic_auth, std::string* body) {
    namespace http = boost::beast::http;
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.set(http::field::authorization, "Basic " + basic_auth);
    boost::beast::error_code ec;
    http::write(sock_, req, ec);
    http::response<http::string_body> res;
    if (!ec) http::read(sock_, buf_, res, ec);
    if (ec) return -1;
    *body = std::move(res.body());
    return static_cast<int>(res.result_int());
  }

 private:
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::socket sock_;
  boost::beast::flat_buffer buf_;
};

std::string urlEncode(const std::string& s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string apiTarget(const QueryCase& c) {
  std::string t = "/api/search?q=" + urlEncode(c.query) +
                  "&limit=" + std::to_string(c.filter.limit ? c.filter.limit : 100);
  if (c.filter.user) t += "&user=" + urlEncode(*c.filter.user);
  if (c.filter.from) t += "&from=" + urlEncode(formatRfc3339(*c.filter.from));
  if (c.filter.to) t += "&to=" + urlEncode(formatRfc3339(*c.filter.to));
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  long long total_events = 1'000'000;
  int sessions = 2000;
  int rounds = 30;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--events")) total_events = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--sessions")) sessions = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--rounds")) rounds = std::atoi(argv[i + 1]);
  }
  vigil::storage::testing::RedisServer server;
  if (std::string err = server.start(); !err.empty()) {
    std::fprintf(stderr, "search_bench: %s\n", err.c_str());
    return 1;
  }
  auto connected = RedisStore::connect(server.url());
  if (!connected) {
    std::fprintf(stderr, "search_bench: %s\n", connected.message().c_str());
    return 1;
  }
  RedisStore& store = **connected;

  // Fill: sessions of uneven length (a few long ones), events in batches of
  // 256 as BatchedEventWriter sends them.
  TextGen gen(42);
  const EpochMillis t0 = 1'790'000'000'000;
  std::vector<long long> lengths(sessions);
  {
    double sum = 0;
    std::vector<double> w(sessions);
    for (double& x : w) sum += (x = std::exponential_distribution<double>(1.0)(gen.rng_) + 0.05);
    long long assigned = 0;
    for (int i = 0; i < sessions; ++i) assigned += (lengths[i] = static_cast<long long>(w[i] / sum * total_events));
    lengths[0] += total_events - assigned;
  }
  std::printf("filling Redis: %lld events across %d sessions ...\n", total_events, sessions);
  const auto fill_began = BenchClock::now();
  std::vector<double> batch_ms;
  for (int s = 0; s < sessions; ++s) {
    SessionRecord r;
    r.id = "sess-" + std::to_string(100000 + s);
    r.user = gen.pick(gen.kPeople);
    r.target = gen.host();
    r.protocol = s % 3 ? "rdp" : "vnc";
    r.state = "ended";
    r.started_at = t0 + static_cast<EpochMillis>(s) * 600'000;
    r.ended_at = r.started_at + 3'600'000;
    if (Status st = store.putSession(r); !st.ok()) {
      std::fprintf(stderr, "putSession: %s\n", st.message().c_str());
      return 1;
    }
    std::vector<Event> batch;
    for (long long e = 0; e < lengths[s]; ++e) {
      batch.push_back(gen.event(e * 1500));
      if (batch.size() == 256 || e + 1 == lengths[s]) {
        const auto b = BenchClock::now();
        if (Status st = store.appendEvents(r.id, batch); !st.ok()) {
          std::fprintf(stderr, "appendEvents: %s\n", st.message().c_str());
          return 1;
        }
        batch_ms.push_back(ms(BenchClock::now() - b));
        batch.clear();
      }
    }
  }
  const double fill_s = ms(BenchClock::now() - fill_began) / 1000;
  const Stats bs = stats(batch_ms);
  std::string mem = server.command("INFO", "memory");
  auto field = [&](const std::string& k) {
    auto p = mem.find(k + ":");
    return p == std::string::npos ? std::string("?") : mem.substr(p + k.size() + 1, mem.find('\r', p) - p - k.size() - 1);
  };
  std::printf("insert: %.1f s, %.0f events/s (1 writer thread, batches of 256: p50 %.2f ms, p99 %.2f ms)\n",
              fill_s, total_events / fill_s, bs.p50, bs.p99);
  std::printf("redis memory: used_memory_human=%s  keys=%s  vocabulary=%s words\n",
              field("used_memory_human").c_str(), server.command("DBSIZE").c_str(),
              server.command("ZCARD", "vigil:vocab").c_str());

  // Typical queries. Limit 100 (the API default) unless noted.
  std::vector<QueryCase> cases = {
      {"common word", "ipconfig", {}},
      {"prefix", "net", {}},
      {"two words", "net user", {}},
      {"word + punct", "net user /add", {}},
      {"phrase", "\"command prompt\"", {}},
      {"path", "C:\\Windows\\System32\\drivers", {}},
      {"host", "srv-123", {}},
      {"rare word", "payroll_17", {}},
      {"no hit", "mimikatz", {}},
      {"rare pair", "kilo restart", {}},
      {"words not together", "ipconfig whoami", {}},
      {"prefix pair", "get-ad prop", {}},
      {"user filter", "restart", {.user = std::string("oracle")}},
      {"time window", "ssh", {.from = t0 + 600'000LL * 500, .to = t0 + 600'000LL * 520}},
      {"limit 1000", "whoami", {.limit = 1000}},
  };
  std::printf("\n%-20s %-32s %6s %8s %8s %8s %8s\n", "query", "text", "hits", "p50 ms", "p95 ms",
              "p99 ms", "max ms");
  std::vector<double> all;
  std::vector<std::size_t> direct_hits;
  for (const QueryCase& c : cases) {
    std::vector<double> lat;
    std::size_t hits = 0;
    for (int r = 0; r < rounds; ++r) {
      const auto b = BenchClock::now();
      auto res = store.search(c.query, c.filter);
      lat.push_back(ms(BenchClock::now() - b));
      if (!res) {
        std::fprintf(stderr, "search %s: %s\n", c.query.c_str(), res.message().c_str());
        return 1;
      }
      hits = res->size();
    }
    all.insert(all.end(), lat.begin(), lat.end());
    direct_hits.push_back(hits);
    const Stats s = stats(lat);
    std::printf("%-20s %-32s %6zu %8.2f %8.2f %8.2f %8.2f\n", c.label.c_str(), c.query.c_str(), hits,
                s.p50, s.p95, s.p99, s.max);
  }
  if (std::getenv("SEARCH_BENCH_DEBUG")) {
    spdlog::set_level(spdlog::level::debug);
    for (const QueryCase& c : cases) (void)store.search(c.query, c.filter);
    spdlog::set_level(spdlog::level::info);
  }
  const Stats as = stats(all);
  std::printf("%-20s %-32s %6s %8.2f %8.2f %8.2f %8.2f\n", "ALL", "", "", as.p50, as.p95, as.p99, as.max);

  // The same queries through the real HTTP API over the same Redis.
  Config config;
  config.web_listen = {"127.0.0.1", 0};
  config.users = {{"aud", "plain:aud-pw", {Role::Auditor}}};
  gateway::api::testing::FakeSessionManager no_live(store);
  gateway::api::ApiDeps deps{
      store, no_live,
      [](const std::string&, const std::string&, long long, const std::string&) -> Result<gateway::auth::IssuedCode> {
        return Status::Error("no codes in the bench");
      },
      [](const std::string& hash, const std::string& pw) { return hash == "plain:" + pw; },
      "/nonexistent", VIGIL_WEB_ROOT};
  auto api = gateway::api::ApiServer::start(config, std::move(deps));
  if (!api) {
    std::fprintf(stderr, "api server: %s\n", api.message().c_str());
    return 1;
  }
  const std::string kBasicAud = "YXVkOmF1ZC1wdw==";  // base64("aud:aud-pw")
  HttpClient http((*api)->port());
  std::printf("\nthrough the HTTP API (GET /api/search, HTTP Basic, keep-alive; audit entry written):\n");
  std::printf("%-20s %6s %8s %8s %8s %8s\n", "query", "hits", "p50 ms", "p95 ms", "p99 ms", "max ms");
  std::vector<double> all_api;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    std::vector<double> lat;
    std::size_t hits = 0;
    for (int r = 0; r < rounds; ++r) {
      std::string body;
      const auto b = BenchClock::now();
      const int status = http.get(apiTarget(cases[i]), kBasicAud, &body);
      lat.push_back(ms(BenchClock::now() - b));
      const auto j = nlohmann::json::parse(body, nullptr, false);
      if (status != 200 || !j.is_object() || !j["hits"].is_array()) {
        std::fprintf(stderr, "api search %s: HTTP %d %s\n", cases[i].query.c_str(), status, body.c_str());
        return 1;
      }
      hits = j["hits"].size();
    }
    if (hits != direct_hits[i]) {
      std::fprintf(stderr, "api search %s: %zu hits, the store found %zu\n", cases[i].query.c_str(), hits,
                   direct_hits[i]);
      return 1;
    }
    all_api.insert(all_api.end(), lat.begin(), lat.end());
    const Stats s = stats(lat);
    std::printf("%-20s %6zu %8.2f %8.2f %8.2f %8.2f\n", cases[i].label.c_str(), hits, s.p50, s.p95, s.p99, s.max);
  }
  const Stats aa = stats(all_api);
  std::printf("%-20s %6s %8.2f %8.2f %8.2f %8.2f\n", "ALL (API)", "", aa.p50, aa.p95, aa.p99, aa.max);
  (*api)->stop();

  // Peer: naive scan over the newest sessions holding ~100k events.
  std::vector<SessionRecord> subset;
  long long subset_events = 0;
  {
    SessionFilter f;
    f.limit = 10000;
    auto list = store.listSessions(f);
    if (!list) return 1;
    for (SessionRecord& s : *list) {
      if (subset_events >= total_events / 10) break;
      subset_events += static_cast<long long>(lengths[std::stoi(s.id.substr(5)) - 100000]);
      subset.push_back(std::move(s));
    }
  }
  std::printf("\nnaive peer (read events newest session first, match in C++) over %zu sessions / %lld events:\n",
              subset.size(), subset_events);
  std::printf("%-20s %6s %10s %12s %8s\n", "query", "hits", "naive ms", "indexed ms", "ratio");
  const int peer_rounds = std::max(1, rounds / 10);
  for (const QueryCase& c : cases) {
    if (c.filter.user || c.filter.from) continue;
    std::vector<double> lat;
    std::size_t hits = 0;
    for (int r = 0; r < peer_rounds; ++r) {
      const auto b = BenchClock::now();
      hits = naiveSearch(store, subset, c.query, c.filter.limit ? c.filter.limit : 100).size();
      lat.push_back(ms(BenchClock::now() - b));
    }
    std::vector<double> idx;
    for (int r = 0; r < peer_rounds; ++r) {
      const auto b = BenchClock::now();
      (void)store.search(c.query, c.filter);
      idx.push_back(ms(BenchClock::now() - b));
    }
    const double n50 = stats(lat).p50, i50 = stats(idx).p50;
    std::printf("%-20s %6zu %10.1f %12.2f %7.0fx\n", c.label.c_str(), hits, n50, i50, n50 / i50);
  }
  std::printf("(naive numbers cover a 10%% subset; over all %lld events a scan takes ~10x longer "
              "for queries with few hits)\n", total_events);
  return 0;
}
