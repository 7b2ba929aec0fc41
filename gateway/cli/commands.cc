#include <sodium.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <thread>

#include "codecs/exporter.h"
#include "core/clock.h"
#include "gateway/auth/access_codes.h"
#include "gateway/auth/duration.h"
#include "gateway/auth/password.h"
#include "gateway/cli/cli.h"
#include "gateway/record_json.h"
#include "storage/control_bus.h"
#include "storage/key_ring.h"
#include "storage/redis_store.h"
#include "storage/signing_key.h"

namespace vigil::cli {

namespace {

void printJson(const nlohmann::json& j) {
  std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

std::string humanBytes(long long b) {
  char buf[32];
  if (b >= 1LL << 30) std::snprintf(buf, sizeof buf, "%.1f GB", b / double(1LL << 30));
  else if (b >= 1LL << 20) std::snprintf(buf, sizeof buf, "%.1f MB", b / double(1LL << 20));
  else if (b >= 1LL << 10) std::snprintf(buf, sizeof buf, "%.0f kB", b / double(1LL << 10));
  else std::snprintf(buf, sizeof buf, "%lld B", b);
  return buf;
}

std::string clockTime(long long ms) {
  char buf[32];
  const long long s = ms / 1000;
  std::snprintf(buf, sizeof buf, "%02lld:%02lld:%02lld.%03lld", s / 3600, s / 60 % 60, s % 60, ms % 1000);
  return buf;
}

// 2026-11-22 14:03:05 (UTC), for humans.
std::string shortTime(EpochMillis t) {
  std::string s = formatRfc3339(t);
  return s.substr(0, 10) + " " + s.substr(11, 8);
}

Result<storage::SessionRecord> findSession(Env& env, const std::string& id) {
  auto rec = env.store->getSession(id);
  if (!rec) return rec.status();
  if (!rec->has_value())
    return Status::Error("no session \"" + id + "\" (see `vigil sessions` for ids)");
  return **rec;
}

void audit(Env& env, const std::string& action, const std::string& object, const std::string& detail = {}) {
  (void)env.store->appendAudit({epochNowMs(), cliActor(), action, object, detail});
}

}  // namespace

int fail(const std::string& message) {
  std::cerr << "vigil: " << message << "\n";
  return 1;
}

std::string cliActor() {
  const char* login = getenv("SUDO_USER");
  if (!login || !*login) login = getenv("USER");
  return std::string("cli:") + (login && *login ? login : "unknown");
}

std::unique_ptr<Env> openEnv(const Common& c) {
  auto env = std::make_unique<Env>();
  try {
    env->config = Config::load(c.config_path);
  } catch (const ConfigError& e) {
    fail(e.what());
    return nullptr;
  }
  storage::AuditOptions audit;
  audit.retain = std::chrono::days(env->config.retention_audit_days);
  // The CLI signs the audit head too when it can read the deployment key; it
  // never makes one (that is `vigil serve`'s), and without it the gateway's
  // next checkpoint covers the CLI's entries.
  if (auto key = storage::SigningKey::load(env->config.state_dir); key.ok())
    audit.signer = std::make_shared<const storage::SigningKey>(*key);
  auto store = storage::RedisStore::connect(env->config.redis_url, audit);
  if (!store) {
    fail(store.message());
    return nullptr;
  }
  env->store = std::move(store.value());
  return env;
}

int hashPassword(const Common& c) {
  std::string password;
  const bool tty = isatty(STDIN_FILENO);
  termios saved{};
  if (tty) {
    std::cerr << "Password: " << std::flush;
    tcgetattr(STDIN_FILENO, &saved);
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::getline(std::cin, password);
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    std::cerr << "\n";
  }
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.empty()) return fail("no password on stdin (try: echo -n 'secret' | vigil hash-password)");
  auto hash = gateway::auth::hashPassword(password);
  sodium_memzero(password.data(), password.size());
  if (!hash) return fail(hash.message());
  if (c.json) printJson({{"password_hash", *hash}});
  else std::cout << *hash << "\n";
  return 0;
}

int grant(const Common& c, const std::string& user, const std::string& target, const std::string& ttl) {
  auto env = openEnv(c);
  if (!env) return 1;
  auto ttl_ms = gateway::auth::parseDuration(ttl);
  if (!ttl_ms) return fail(ttl_ms.message());
  if (!env->config.findUser(user)) return fail("no user \"" + user + "\" in " + c.config_path);
  if (!env->config.findTarget(target)) return fail("no target \"" + target + "\" in " + c.config_path);
  bool granted = false;
  for (const auto& g : env->config.grants) granted |= g.user == user && g.target == target;
  if (!granted)
    return fail("user \"" + user + "\" has no grant for \"" + target + "\"; add a [[grants]] entry to " +
                c.config_path);
  auto key = gateway::auth::SecretKey::loadOrCreate(env->config.state_dir);
  if (!key) return fail(key.message());
  gateway::auth::AccessCodes codes(*env->store, *key);
  auto issued = codes.issue(user, target, *ttl_ms, cliActor());
  if (!issued) return fail(issued.message());
  audit(*env, "grant", user + "#" + target, "expires " + formatRfc3339(issued->expires_at));
  if (c.json) {
    printJson({{"code", issued->code}, {"user", user}, {"target", target},
               {"expires_at", formatRfc3339(issued->expires_at)}});
  } else {
    std::cout << issued->code << "\n";
    std::cerr << "one-time access code for " << user << " on " << target << ", valid until "
              << formatRfc3339(issued->expires_at) << "\n";
  }
  return 0;
}

int sessions(const Common& c, bool live_only, bool refused, const std::string& user,
             const std::string& target, std::size_t limit) {
  auto env = openEnv(c);
  if (!env) return 1;
  storage::SessionFilter f;
  if (live_only) f.state = "live";
  if (refused) f.state = "refused";
  if (!user.empty()) f.user = user;
  if (!target.empty()) f.target = target;
  f.limit = limit;
  auto list = env->store->listSessions(f);
  if (!list) return fail(list.message());
  if (c.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& s : *list) arr.push_back(gateway::toJson(s));
    printJson({{"sessions", arr}});
    return 0;
  }
  if (list->empty()) {
    std::cerr << (live_only ? "no live sessions\n" : refused ? "no refusals\n" : "no sessions yet\n");
    return 0;
  }
  if (refused) {
    std::printf("%-35s %-5s %-15s %-19s %-19s %6s %-20s %-20s %s\n", "REFUSAL", "PROTO", "FROM",
                "FIRST (UTC)", "LAST (UTC)", "COUNT", "USERS", "TARGETS", "LAST REASON");
    auto names = [](const std::vector<std::string>& v) {
      std::string out;
      for (const std::string& n : v) out += (out.empty() ? "" : ",") + (n.empty() ? "-" : n);
      return out.empty() ? std::string("-") : out;
    };
    for (const auto& s : *list)
      std::printf("%-35s %-5s %-15s %-19s %-19s %6lld %-20s %-20s %s\n", s.id.c_str(),
                  s.protocol.c_str(), s.client_addr.c_str(), shortTime(s.started_at).c_str(),
                  shortTime(s.ended_at).c_str(), s.refusals, names(s.claimed_users).c_str(),
                  names(s.claimed_targets).c_str(), s.end_reason.c_str());
    return 0;
  }
  std::printf("%-23s %-6s %-12s %-12s %-5s %-19s %-12s %-9s %s\n", "SESSION", "STATE", "USER",
              "TARGET", "PROTO", "STARTED (UTC)", "DURATION", "VIDEO", "END");
  for (const auto& s : *list)
    std::printf("%-23s %-6s %-12s %-12s %-5s %-19s %-12s %-9s %s\n", s.id.c_str(), s.state.c_str(),
                s.user.c_str(), s.target.c_str(), s.protocol.c_str(), shortTime(s.started_at).c_str(),
                clockTime(s.durationMs()).substr(0, 8).c_str(), humanBytes(s.video_bytes).c_str(),
                s.end_reason.c_str());
  return 0;
}

int events(const Common& c, const std::string& session, const std::string& kinds) {
  std::vector<EventKind> wanted;
  std::stringstream ks(kinds);
  for (std::string k; std::getline(ks, k, ',');) {
    if (k.empty()) continue;
    auto kind = parseEventKind(k);
    if (!kind) {
      std::cerr << "vigil: unknown event kind \"" << k << "\" (use key, title, clipboard, alert, lifecycle)\n";
      return 2;
    }
    wanted.push_back(*kind);
  }
  auto env = openEnv(c);
  if (!env) return 1;
  auto rec = findSession(*env, session);
  if (!rec) return fail(rec.message());
  auto list = env->store->events(session, wanted);
  if (!list) return fail(list.message());
  audit(*env, "view", session, "events");
  if (c.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& e : *list) arr.push_back(gateway::toJson(e));
    printJson({{"session_id", session}, {"events", arr}});
    return 0;
  }
  for (const auto& e : *list) {
    std::printf("%s  %-9s %s", clockTime(e.t_ms).c_str(), std::string(toString(e.kind)).c_str(), e.text.c_str());
    if (!e.window.empty()) std::printf("   [%s]", e.window.c_str());
    if (e.direction) std::printf("   (%s)", std::string(toString(*e.direction)).c_str());
    std::printf("\n");
  }
  return 0;
}

int search(const Common& c, const std::string& query, const std::string& user,
           const std::string& target, std::size_t limit) {
  auto env = openEnv(c);
  if (!env) return 1;
  storage::SessionFilter f;
  if (!user.empty()) f.user = user;
  if (!target.empty()) f.target = target;
  f.limit = limit;
  auto hits = env->store->search(query, f);
  if (!hits) return fail(hits.message());
  audit(*env, "search", query, std::to_string(hits->size()) + " hits");
  if (c.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& h : *hits) arr.push_back(gateway::toJson(h));
    printJson({{"query", query}, {"hits", arr}});
    return 0;
  }
  if (hits->empty()) {
    std::cerr << "no hits for " << query << "\n";
    return 0;
  }
  for (const auto& h : *hits)
    std::printf("%s  %s  %s  %-9s %s@%s  %s\n", h.session_id.c_str(), shortTime(h.started_at).c_str(),
                clockTime(h.event.t_ms).c_str(), std::string(toString(h.event.kind)).c_str(),
                h.user.c_str(), h.target.c_str(), h.event.text.c_str());
  return 0;
}

int exportVideo(const Common& c, const std::string& session, const std::string& out) {
  auto env = openEnv(c);
  if (!env) return 1;
  auto rec = findSession(*env, session);
  if (!rec) return fail(rec.message());
  if (rec->video_path.empty()) return fail("session " + session + " has no recording (" + rec->end_reason + ")");
  const std::string in = env->config.recordings_dir + "/" + rec->video_path;
  // Sealed or plain, whatever [recordings] encrypt says now: the file tells.
  auto keys = storage::KeyRing::load(env->config.state_dir);
  if (!keys) return fail(keys.message());
  const bool tty = isatty(STDERR_FILENO);
  int last_pct = -1;
  Status st = codecs::exportMp4(in, out, [&](double fraction) {
    const int pct = static_cast<int>(fraction * 100);
    if (tty && pct != last_pct) {
      std::fprintf(stderr, "\rexporting %s: %3d%%", session.c_str(), pct);
      last_pct = pct;
    }
  }, *keys);
  if (tty) std::fprintf(stderr, "\n");
  if (!st.ok()) return fail(st.message());
  audit(*env, "export", session, out);
  if (c.json) printJson({{"session_id", session}, {"file", out}});
  else std::cerr << "wrote " << out << "\n";
  return 0;
}

int terminate(const Common& c, const std::string& session) {
  auto env = openEnv(c);
  if (!env) return 1;
  auto rec = findSession(*env, session);
  if (!rec) return fail(rec.message());
  if (rec->state != "live") return fail("session " + session + " is not live (" + rec->end_reason + ")");
  // The nodes drop control messages not signed with their gateway key.
  auto key = gateway::auth::SecretKey::load(env->config.state_dir);
  if (!key) return fail(key.message());
  auto bus = storage::ControlBus::connect(env->config.redis_url, key->controlBusKey());
  if (!bus) return fail(bus.message());
  if (Status st = (*bus)->publishTerminate(session, cliActor()); !st.ok()) return fail(st.message());
  audit(*env, "terminate", session);
  // Wait for the holding node to confirm, so scripts can rely on the exit code.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    auto now = findSession(*env, session);
    if (now && now->state != "live") {
      if (c.json) printJson({{"session_id", session}, {"state", now->state}, {"end_reason", now->end_reason}});
      else std::cerr << "terminated " << session << "\n";
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return fail("asked node " + rec->node + " to end session " + session +
              " but it has not confirmed within 5 s; is that node running, with the same gateway.key "
              "(its log says control_message_dropped if not)?");
}

}  // namespace vigil::cli
