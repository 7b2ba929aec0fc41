// `vigil trust-target NAME [--yes]`: an operator checks an RDP target's TLS
// certificate and trusts it, so that the gateway hands it the vaulted
// credentials (gateway/rdp/target_pins.h). No credentials are sent: the
// connection stops at the certificate. Needs the config only (no Redis).
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "gateway/cli/cli.h"
#include "gateway/rdp/rdp_client.h"
#include "gateway/rdp/target_pins.h"

namespace vigil::cli {
namespace {

class NoScreen final : public gateway::rdp::RdpClientObserver {
 public:
  void onPaint(const Frame&, const DirtyRegion&) override {}
};

void printJson(const nlohmann::json& j) {
  std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

bool confirmed(const std::string& question) {
  std::cerr << question << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer)) {
    std::cerr << "\n";
    return false;
  }
  answer.erase(std::remove_if(answer.begin(), answer.end(),
                              [](unsigned char c) { return std::isspace(c); }),
               answer.end());
  std::transform(answer.begin(), answer.end(), answer.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return answer == "y" || answer == "yes";
}

}  // namespace

int trustTarget(const Common& c, const std::string& name, bool yes) {
  Config config;
  try {
    config = Config::load(c.config_path);
  } catch (const ConfigError& e) {
    return fail(e.what());
  }
  const TargetConfig* target = config.findTarget(name);
  if (!target) return fail("no target \"" + name + "\" in " + c.config_path);
  if (target->protocol != Protocol::Rdp) {
    return fail("target " + name + " is a VNC target; trust-target checks RDP targets' TLS "
                "certificates");
  }
  const std::string where = target->host + ":" + std::to_string(target->port);

  // FreeRDP would log the refused certificate (all of it) and its own
  // errors on stderr; the command says what matters itself. WLOG_LEVEL set
  // by the operator (e.g. DEBUG) still wins.
  setenv("WLOG_LEVEL", "OFF", 0);
  // Connect with no credentials and refuse every certificate: FreeRDP checks
  // the certificate during the TLS handshake, before NLA or the Client Info
  // PDU, so the connection ends there and nothing secret leaves.
  gateway::rdp::RdpClientOptions o;
  o.host = target->host;
  o.port = target->port;
  o.target_name = target->name;
  o.gfx = false;
  o.remotefx = false;
  o.clipboard = false;
  o.check_certificate = [](const std::string&) {
    return Status::Error("trust-target reads the certificate only");
  };
  NoScreen screen;
  gateway::rdp::RdpClient client(o, &screen);
  const Status st = client.connect();
  const std::string fingerprint = client.serverFingerprint();
  const std::string subject = client.serverSubject();
  client.stop();
  if (st.ok() || fingerprint.empty()) {
    return fail("cannot read the TLS certificate of target " + name + " at " + where +
                (st.ok() ? std::string(" (it offered none)") : ": " + st.message()));
  }

  if (!c.json) {
    std::cerr << "target " << name << " at " << where << " presents this TLS certificate:\n"
              << "  subject: " << (subject.empty() ? "(unreadable)" : subject) << "\n"
              << "  SHA-256: " << fingerprint << "\n";
  }
  auto result = [&](bool trusted, const std::string& note) {
    if (c.json) {
      printJson({{"target", name}, {"address", where}, {"fingerprint", fingerprint},
                 {"subject", subject}, {"trusted", trusted}, {"note", note}});
    } else {
      std::cerr << note << "\n";
    }
  };

  if (!target->tls_fingerprint.empty()) {
    // The config decides for this target; nothing to record.
    if (target->tls_fingerprint == fingerprint) {
      result(true, "it matches the tls_fingerprint configured for " + name);
      return 0;
    }
    return fail("the certificate of target " + name + " does not match the tls_fingerprint " +
                target->tls_fingerprint + " in " + c.config_path +
                "; if the server's certificate was replaced, put the new fingerprint there");
  }

  gateway::rdp::TargetPins pins(config.state_dir + "/rdp/known_targets");
  auto known = pins.trusted(*target);
  if (!known.ok()) return fail(known.message());
  if (*known == fingerprint) {
    result(true, "already trusted for " + name + " (" + pins.path() + ")");
    return 0;
  }
  if (!known->empty()) {
    std::cerr << "WARNING: this is not the certificate trusted for " << name << " until now ("
              << *known << "). Replace it only if you know the server's certificate was "
              << "replaced.\n";
    if (yes) {
      return fail("the certificate of target " + name + " changed; --yes does not replace a "
                  "trusted certificate: run `vigil trust-target " + name +
                  "` without --yes to check and confirm it");
    }
  }
  if (!yes && !confirmed("Trust this certificate for " + name + "? [y/N] ")) {
    return fail("not trusted; nothing recorded for target " + name);
  }
  if (Status t = pins.trust(*target, fingerprint); !t.ok()) return fail(t.message());
  result(true, "trusted for " + name + " (kept in " + pins.path() + ")");
  return 0;
}

}  // namespace vigil::cli
