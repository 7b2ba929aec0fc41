#include "gateway/rdp/target_pins.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include <spdlog/spdlog.h>

namespace vigil::gateway::rdp {
namespace {

std::string hostPort(const TargetConfig& t) { return t.host + ":" + std::to_string(t.port); }

std::string trustHint(const TargetConfig& t) {
  return "run `vigil trust-target " + t.name + "` on the gateway to check and trust it";
}

}  // namespace

TargetPins::TargetPins(std::string path) : path_(std::move(path)) {}

Result<std::string> TargetPins::trustedLocked(const std::string& host_port) {
  std::error_code ec;
  if (!std::filesystem::exists(path_, ec)) return std::string();
  std::ifstream in(path_);
  if (!in) return Status::Error("cannot read " + path_ + " (" + std::strerror(errno) + ")");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string where, known;
    if (!(fields >> where >> known) || where[0] == '#' || where != host_port) continue;
    return known;
  }
  return std::string();
}

Result<std::string> TargetPins::trusted(const TargetConfig& target) {
  std::lock_guard lock(mutex_);
  return trustedLocked(hostPort(target));
}

Status TargetPins::check(const TargetConfig& target, const std::string& fingerprint) {
  const std::string where = hostPort(target);
  if (!target.tls_fingerprint.empty()) {
    if (fingerprint == target.tls_fingerprint) return Status::Ok();
    return Status::Error("target " + target.name + " (" + where +
                         ") presented a TLS certificate with SHA-256 " + fingerprint +
                         ", not the tls_fingerprint configured for it; if the server's "
                         "certificate was replaced, put the new fingerprint in the config");
  }
  std::lock_guard lock(mutex_);
  auto known = trustedLocked(where);
  if (!known.ok()) return known.status();
  if (known->empty()) {
    return Status::Error("target " + target.name + " (" + where +
                         ") presented a TLS certificate (SHA-256 " + fingerprint +
                         ") that no operator has trusted: " + trustHint(target));
  }
  if (*known == fingerprint) return Status::Ok();
  return Status::Error("target " + target.name + " (" + where +
                       ") presented a TLS certificate with SHA-256 " + fingerprint + ", but " +
                       *known + " is the one trusted for it (" + path_ +
                       "): the certificate changed, or something is in between; if the "
                       "server's certificate was replaced, " + trustHint(target));
}

Status TargetPins::trust(const TargetConfig& target, const std::string& fingerprint) {
  const std::string where = hostPort(target);
  std::lock_guard lock(mutex_);
  std::vector<std::string> keep;
  std::error_code ec;
  if (std::filesystem::exists(path_, ec)) {
    std::ifstream in(path_);
    if (!in) return Status::Error("cannot read " + path_ + " (" + std::strerror(errno) + ")");
    for (std::string line; std::getline(in, line);) {
      std::istringstream fields(line);
      std::string first;
      if ((fields >> first) && first == where) continue;  // replaced below
      keep.push_back(line);
    }
  }
  std::filesystem::create_directories(std::filesystem::path(path_).parent_path(), ec);
  const std::string tmp = path_ + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    for (const auto& line : keep) out << line << '\n';
    out << where << ' ' << fingerprint << '\n';
    out.flush();
    if (!out) {
      std::filesystem::remove(tmp, ec);
      return Status::Error("cannot record the certificate of " + where + " in " + path_ +
                           " (check the state_dir permissions)");
    }
  }
  std::filesystem::rename(tmp, path_, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return Status::Error("cannot write " + path_ + ": " + ec.message());
  }
  spdlog::info("rdp: trusted the TLS certificate of target={} at {} fingerprint={} (kept in {})",
               target.name, where, fingerprint, path_);
  return Status::Ok();
}

}  // namespace vigil::gateway::rdp
