// `vigil serve`: wires the parts of one gateway node together and runs
// until SIGINT/SIGTERM.
#include <malloc.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <stop_token>
#include <thread>

#include "gateway/api/api_server.h"
#include "gateway/auth/access_codes.h"
#include "gateway/auth/config_gatekeeper.h"
#include "gateway/auth/file_modes.h"
#include "gateway/auth/password.h"
#include "gateway/cli/cli.h"
#include "gateway/gateway_sessions.h"
#include "gateway/rdp/rdp_listener.h"
#include "gateway/siem/siem_output.h"
#include "gateway/vnc/vnc_listener.h"
#include "ocr/title_tracker.h"
#include "storage/control_bus.h"
#include "storage/key_ring.h"
#include "storage/redis_store.h"
#include "storage/redis_url.h"
#include "storage/signing_key.h"

namespace vigil::cli {

namespace {

// Every kAuditCheckpointEvery, signs the audit chain's head if it moved.
class AuditCheckpointer {
 public:
  explicit AuditCheckpointer(storage::RedisStore& store)
      : thread_([this, &store](std::stop_token stop) { run(store, stop); }) {}

 private:
  void run(storage::RedisStore& store, std::stop_token stop) {
    std::mutex mu;
    std::condition_variable_any cv;
    bool failing = false;
    std::unique_lock lock(mu);
    for (;;) {
      cv.wait_for(lock, stop, storage::kAuditCheckpointEvery, [] { return false; });
      if (stop.stop_requested()) return;
      if (Status st = store.checkpointAudit(); !st.ok()) {
        if (!failing) spdlog::warn("event=audit_checkpoint_failed error=\"{}\"", st.message());
        failing = true;
      } else {
        failing = false;
      }
    }
  }
  std::jthread thread_;  // stopped and joined first on destruction
};

// Blocks SIGINT/SIGTERM in every thread (call before starting any), then
// waits for one of them on the main thread.
class ShutdownSignal {
 public:
  ShutdownSignal() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
    signal(SIGPIPE, SIG_IGN);  // a peer closing mid-write is an error value, not a crash
  }
  int wait() {
    int sig = 0;
    sigwait(&set_, &sig);
    return sig;
  }

 private:
  sigset_t set_;
};

// The web-player folder: $VIGIL_WEB_ROOT, else the one in the source tree
// this binary was built from.
std::string webRoot() {
  if (const char* env = getenv("VIGIL_WEB_ROOT"); env && *env) return env;
  return VIGIL_WEB_ROOT;
}

void setupLogging(const Config& config) {
  auto level = spdlog::level::from_str(config.log_level);
  spdlog::set_level(level == spdlog::level::off && config.log_level != "off" ? spdlog::level::info : level);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
}

// One warning line per secret-holding path that group or others may open,
// saying what to run. Missing paths are made owner-only later.
void warnLoosePermissions(const std::string& config_path, const Config& config) {
  const std::string state = config.state_dir;
  gateway::auth::warnLooseModes({config_path, state, (std::filesystem::path(state) / "gateway.key").string(),
                                 (std::filesystem::path(state) / storage::kSigningKeyFile).string(),
                                 storage::KeyRing::folder(state), config.recordings_dir});
}

}  // namespace

int serve(const Common& c) {
  ShutdownSignal shutdown;
  Config config;
  try {
    config = Config::load(c.config_path);
  } catch (const ConfigError& e) {
    return fail(e.what());
  }
  setupLogging(config);
  spdlog::info("event=config path={} redis={}", c.config_path, storage::redis::redactUrl(config.redis_url));
  // Every session runs several threads; glibc would give each its own heap
  // arena (up to 8 per core), where freed session buffers fragment and stay
  // resident. Four arenas keep allocation uncontended enough on the relay
  // threads (small blocks come from per-thread caches anyway).
  mallopt(M_ARENA_MAX, 4);
  // Big buffers (frames, FreeRDP's codec and compression contexts, most of
  // them calloc'd and barely used) get their own mappings: pages never
  // touched stay out of RSS, and freed ones go back at once. glibc would
  // otherwise raise the threshold after the first big free and serve them
  // from the arenas, zeroed page by page. Measured: -16 MiB per idle RDP
  // session (docs/BENCHMARKS.md).
  mallopt(M_MMAP_THRESHOLD, 256 << 10);
  // FreeRDP's own log (WLog) reads this at first use; our adapter logs what matters.
  setenv("WLOG_LEVEL", spdlog::should_log(spdlog::level::debug) ? "INFO" : "FATAL", 0);

  warnLoosePermissions(c.config_path, config);
  // The deployment's signing key signs the audit log's head and every
  // session's evidence; without it the gateway does not start.
  auto signing = storage::SigningKey::loadOrCreate(config.state_dir);
  if (!signing) return fail(signing.message());
  storage::AuditOptions audit;
  audit.retain = std::chrono::days(config.retention_audit_days);
  audit.signer = std::make_shared<const storage::SigningKey>(*signing);
  auto store = storage::RedisStore::connect(config.redis_url, audit);
  if (!store) return fail(store.message());
  // Appends sign when the newest checkpoint is 10 s old; this signs the tail
  // of a burst that no later append would cover.
  AuditCheckpointer checkpointer(**store);
  auto key = gateway::auth::SecretKey::loadOrCreate(config.state_dir);
  if (!key) return fail(key.message());
  // Every session's evidence is signed with the same key (GatewaySessions
  // loads it too): one that cannot be made or read stopped the gateway above.
  spdlog::info("event=signing_key fingerprint={}", storage::keyFingerprint(signing->publicKey()));
  auto bus = storage::ControlBus::connect(config.redis_url, key->controlBusKey());
  if (!bus) return fail(bus.message());
  if (std::string err; !gateway::auth::createPrivateDirectories(config.recordings_dir, err))
    return fail("cannot create [recordings] dir: " + err);
  if (config.recordings_encrypt) {
    // Made (or checked) now so that a gateway that could record nothing
    // does not start; each session loads the ring again (rotation).
    auto keys = storage::KeyRing::loadOrCreate(config.state_dir, config.recordings_dir);
    if (!keys) return fail("recordings are encrypted ([recordings] encrypt) but: " + keys.message());
    spdlog::info("event=recording_keys current={} kept={}", keys->current()->id, keys->ids().size());
  } else {
    spdlog::warn("event=recordings_unencrypted reason=\"[recordings] encrypt = false\"");
  }

  // [siem]: started before any session and stopped after the last, so
  // every event of the configured kinds goes out (or into the spool).
  std::unique_ptr<siem::SiemOutput> siem_out;
  if (config.siem) {
    // A spool overflow is an alert here too (GET /api/alerts, the toast),
    // not only in the SIEM that missed the messages.
    storage::RedisStore* alerts = store->get();
    auto out = siem::SiemOutput::start(config, VIGIL_VERSION, [alerts](const siem::SiemEvent& e) {
      if (Status st = alerts->putAlert({"", 0, e.at, e.rule, std::string(toString(e.severity)), e.text, "", ""});
          !st.ok())
        spdlog::error("event=alert_store_failed rule={} error=\"{}\"", e.rule, st.message());
    });
    if (!out) return fail(out.message());
    siem_out = std::move(out.value());
  }
  ocr::OcrPool ocr_pool(1);
  gateway::GatewaySessions sessions(config, **store, bus->get(), &ocr_pool);
  sessions.setObserver(siem_out.get());
  sessions.recoverInterrupted();
  gateway::auth::AccessCodes codes(**store, *key);
  gateway::auth::ConfigGatekeeper gatekeeper(config, **store, codes, sessions);
  (*bus)->start();

  // One front door: the caps on handshakes hold across every listener.
  auto door = std::make_shared<gateway::DoorGroup>();
  std::vector<std::unique_ptr<gateway::vnc::VncListener>> vnc;
  for (const auto& target : config.targets) {
    if (target.protocol != Protocol::Vnc) continue;
    gateway::vnc::VncOptions vnc_opts;
    vnc_opts.door_group = door;
    auto listener = gateway::vnc::VncListener::start(config, target, gatekeeper, sessions, vnc_opts);
    if (!listener) return fail("VNC listener for " + target.name + ": " + listener.message());
    vnc.push_back(std::move(listener.value()));
  }
  std::unique_ptr<gateway::rdp::RdpListener> rdp;
  {
    auto tls = gateway::rdp::ensureTlsFiles(config);
    if (!tls) return fail(tls.message());
    gateway::rdp::RdpOptions rdp_opts;
    rdp_opts.door_group = door;
    rdp_opts.client_gfx = config.rdp_avc420;
    rdp_opts.pass_remotefx = config.rdp_pass_remotefx;
    auto listener =
        gateway::rdp::RdpListener::start(config.rdp_listen, *tls, config, gatekeeper, sessions, rdp_opts);
    if (!listener) return fail("RDP listener on " + config.rdp_listen.str() + ": " + listener.message());
    rdp = std::move(listener.value());
  }
  gateway::api::ApiDeps deps{**store, sessions, gateway::api::issueWith(codes),
                             &gateway::auth::verifyPassword, config.recordings_dir, webRoot(),
                             store->get(), &*signing};
  auto api = gateway::api::ApiServer::start(config, deps);
  if (!api) return fail("web server on " + config.web_listen.str() + ": " + api.message());

  const bool tls_web = !config.web_tls_cert.empty();
  std::printf("vigil: node %s ready\n", config.node_id.c_str());
  std::printf("  web UI and API  %s://%s:%u/\n", tls_web ? "https" : "http",
              config.web_listen.host.c_str(), (*api)->port());
  std::printf("  RDP             %s:%u  (username USER#TARGET)\n", config.rdp_listen.host.c_str(), rdp->port());
  for (std::size_t i = 0, v = 0; i < config.targets.size(); ++i) {
    if (config.targets[i].protocol != Protocol::Vnc) continue;
    std::printf("  VNC %-11s %s:%u  (password: a code from `vigil grant`)\n", config.targets[i].name.c_str(),
                config.targets[i].vnc_listen->host.c_str(), vnc[v++]->port());
  }
  if (config.siem) {
    const SiemConfig& sc = *config.siem;
    static const char* kSchemes[] = {"udp", "tcp", "tls"};
    if (sc.syslog_transport)
      std::printf("  SIEM syslog     %s://%s  (%s)\n", kSchemes[static_cast<int>(*sc.syslog_transport)],
                  sc.syslog_addr.str().c_str(), sc.format == SiemFormat::Cef ? "cef" : "json");
    // The URL's path often holds the hook's token: the host only.
    if (!sc.webhook.empty())
      std::printf("  SIEM webhook    %s/...\n", sc.webhook.substr(0, sc.webhook.find('/', 8)).c_str());
  }
  std::fflush(stdout);
  spdlog::info("event=ready node={}", config.node_id);

  const int sig = shutdown.wait();
  spdlog::info("event=stopping signal={}", sig);
  api.value()->stop();
  rdp->stop();
  for (auto& l : vnc) l->stop();
  sessions.shutdown(5000);
  if (siem_out) siem_out->stop();  // what the receiver cannot take now stays in the spool
  (*bus)->stop();
  return 0;
}

}  // namespace vigil::cli
