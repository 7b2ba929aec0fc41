// The RDP listener's TLS certificate and key.
#pragma once

#include <string>

#include "core/config.h"
#include "core/status.h"

namespace vigil::gateway::rdp {

struct TlsFiles {
  std::string cert_pem_path;
  std::string key_pem_path;
};

// The configured [rdp] tls_cert/tls_key when both are set; otherwise a
// self-signed pair kept as <state_dir>/rdp/server.crt and server.key, made
// (RSA 2048, 10 years, CN=vigil-gateway) on first use and reused after.
// Call at startup, from one thread.
Result<TlsFiles> ensureTlsFiles(const Config& cfg);

// Writes a fresh self-signed pair to the two paths (key file mode 0600).
Status makeSelfSignedPair(const std::string& cert_path, const std::string& key_path,
                          const std::string& common_name);

// SHA-256 fingerprint "AB:CD:..." of a PEM certificate, for the log.
Result<std::string> certificateFingerprint(const std::string& cert_pem);

// The subject of a PEM certificate, one line ("CN=host, O=org"), printable
// characters only (it comes from the network and goes to a terminal).
Result<std::string> certificateSubject(const std::string& cert_pem);

}  // namespace vigil::gateway::rdp
