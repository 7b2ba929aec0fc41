#include "gateway/rdp/target_pins.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

namespace vigil::gateway::rdp {

TargetPins::TargetPins(std::string path) : path_(std::move(path)) {}

Status TargetPins::check(const TargetConfig& target, const std::string& fingerprint) {
  const std::string where = target.host + ":" + std::to_string(target.port);
  if (!target.tls_fingerprint.empty()) {
    if (fingerprint == target.tls_fingerprint) return Status::Ok();
    return Status::Error("target " + target.name + " (" + where +
                         ") presented a TLS certificate with SHA-256 " + fingerprint +
                         ", not the tls_fingerprint configured for it; if the server's "
                         "certificate was replaced, put the new fingerprint in the config");
  }

  std::lock_guard lock(mutex_);
  std::error_code ec;
  if (std::filesystem::exists(path_, ec)) {
    std::ifstream in(path_);
    if (!in) return Status::Error("cannot read " + path_ + " (" + std::strerror(errno) + ")");
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string host_port, known;
      if (!(fields >> host_port >> known) || host_port[0] == '#' || host_port != where) continue;
      if (known == fingerprint) return Status::Ok();
      return Status::Error("target " + target.name + " (" + where +
                           ") presented a TLS certificate with SHA-256 " + fingerprint + ", but " +
                           known + " was trusted on first use (" + path_ +
                           "); if the server's certificate was replaced, delete that line or "
                           "set tls_fingerprint for the target");
    }
  }
  std::filesystem::create_directories(std::filesystem::path(path_).parent_path(), ec);
  std::ofstream out(path_, std::ios::app);
  out << where << ' ' << fingerprint << '\n';
  out.flush();
  if (!out) return Status::Error("cannot record the certificate of " + where + " in " + path_);
  spdlog::info("rdp-client: trusting the TLS certificate of target={} at {} on first use "
               "fingerprint={} (kept in {})",
               target.name, where, fingerprint, path_);
  return Status::Ok();
}

}  // namespace vigil::gateway::rdp
