#include "gateway/rdp/freerdp_process.h"

#include <freerdp/addin.h>
#include <freerdp/client/channels.h>
#include <freerdp/crypto/tls.h>
#include <freerdp/settings.h>
#include <dlfcn.h>
#include <freerdp/version.h>
#include <link.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <winpr/wlog.h>

#include <atomic>

#include <cstring>
#include <mutex>
#include <string_view>

#include <spdlog/spdlog.h>

namespace vigil::gateway::rdp {

namespace {

bool isLoggerNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

// Logger names are string literals (FREERDP_TAG("core.nego") and the like),
// so they sit NUL-terminated in the libraries' read-only data. A literal may
// share its bytes with the tail of a longer one, so matches are taken
// wherever they start.
void collectNames(std::string_view data, std::string_view prefix, std::set<std::string>* out) {
  constexpr std::size_t kMaxName = 128;
  for (std::size_t at = data.find(prefix); at != std::string_view::npos;
       at = data.find(prefix, at + prefix.size())) {
    std::size_t end = at + prefix.size();
    while (end < data.size() && end - at < kMaxName && isLoggerNameChar(data[end])) ++end;
    if (end < data.size() && data[end] == '\0' && end > at + prefix.size()) {
      out->emplace(data.substr(at, end - at));
    }
  }
}

int scanObject(dl_phdr_info* info, std::size_t, void* arg) {
  const char* name = info->dlpi_name ? info->dlpi_name : "";
  if (!std::strstr(name, "libfreerdp") && !std::strstr(name, "libwinpr")) return 0;
  auto* out = static_cast<std::set<std::string>*>(arg);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    // Read-only data only: not code, not writable state.
    if (ph.p_type != PT_LOAD || !(ph.p_flags & PF_R) || (ph.p_flags & (PF_W | PF_X))) continue;
    const std::string_view data(reinterpret_cast<const char*>(info->dlpi_addr + ph.p_vaddr),
                                ph.p_filesz);
    collectNames(data, "com.freerdp.", out);
    collectNames(data, "com.winpr.", out);
  }
  return 0;
}

// FreeRDP 2 fills its TLS BIO method table on first use without a lock
// (BIO_s_rdp_tls in tls.c): a connection starting TLS while another one is
// filling it gets a BIO without its SSL and crashes in tls_accept (seen
// about once in 40 runs of a test whose client connects to a listener in
// the same process). One server-mode TLS setup here fills the table; it
// then stops, as meant, for want of a private key (its error is muted).
bool fillTlsMethodTable() {
  rdpSettings* settings = freerdp_settings_new(FREERDP_SETTINGS_SERVER_MODE);
  if (!settings) return false;
  rdpTls* tls = tls_new(settings);
  BIO* underlying = BIO_new(BIO_s_mem());
  const bool made = tls && underlying;
  if (made) {
    wLog* log = WLog_Get("com.freerdp.crypto");
    const DWORD level = WLog_GetLogLevel(log);
    WLog_SetLogLevel(log, WLOG_OFF);
    tls_accept(tls, underlying, settings);
    WLog_SetLogLevel(log, level);
  }
  // Once set up, the TLS BIO owns the memory BIO under it.
  if (underlying && (!tls || !tls->underlying)) BIO_free(underlying);
  tls_free(tls);
  freerdp_settings_free(settings);
  return made;
}

// FreeRDP 2 (through 2.11.7, Debian 12's) reads the server's key and
// certificate for every TLS accept, hands them to SSL_use_PrivateKey and
// SSL_use_certificate, and never drops its own reference: about 7.7 KB per
// connection, kept forever (valgrind: "definitely lost" under tls_accept;
// +85 MB per 10 000 abandoned handshakes). While `drop_caller_ref` is set,
// the wrappers below drop FreeRDP's reference once the SSL holds its own, so
// the objects live exactly as long as the connection; only for calls from
// FreeRDP (libpq, loaded through OpenCV's GDAL and never used, frees its own)
// and only for the FreeRDP versions known to leak.
std::atomic<bool> g_drop_caller_ref{false};

template <class Fn>
Fn nextSymbol(const char* name) {
  return reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, name));
}

// Whether the code at `return_address` is FreeRDP's (it calls through its PLT).
bool calledFromFreerdp(void* return_address) {
  Dl_info info{};
  return ::dladdr(return_address, &info) != 0 && info.dli_fname &&
         std::strstr(info.dli_fname, "libfreerdp") != nullptr;
}

bool freerdpLeaksTlsPair() {
  int major = 0, minor = 0, rev = 0;
  freerdp_get_version(&major, &minor, &rev);
  return major == 2 && (minor < 11 || (minor == 11 && rev <= 7));
}

}  // namespace

std::set<std::string> freerdpLoggerNames() {
  std::set<std::string> names;
  dl_iterate_phdr(scanObject, &names);
  return names;
}

Status prepareFreerdpProcess() {
  static std::once_flag once;
  static Status result;
  std::call_once(once, [] {
    const std::set<std::string> names = freerdpLoggerNames();
    if (names.empty()) {
      result = Status::Error("found no FreeRDP logger names in the loaded libraries");
      return;
    }
    for (const std::string& n : names) WLog_Get(n.c_str());
    spdlog::debug("rdp: registered {} FreeRDP loggers before any session", names.size());
    // The channel addin provider is one process-wide variable too.
    if (freerdp_register_addin_provider(freerdp_channels_load_static_addin_entry, 0) !=
        CHANNEL_RC_OK) {
      result = Status::Error("cannot register FreeRDP's channel addins");
    } else if (!fillTlsMethodTable()) {
      result = Status::Error("cannot set up FreeRDP's TLS (out of memory?)");
    }
    g_drop_caller_ref = freerdpLeaksTlsPair();
  });
  // FreeRDP 2's socket BIO method tables are made lazily too, but a
  // connection makes them as it opens its socket, before any peer can
  // connect to it, so they do not race in practice.
  return result;
}

}  // namespace vigil::gateway::rdp

// Interposed over libssl's (see g_drop_caller_ref): the executable's
// definitions win over the library's for every caller in the process.
extern "C" int SSL_use_PrivateKey(SSL* ssl, EVP_PKEY* pkey) {
  using Fn = int (*)(SSL*, EVP_PKEY*);
  static const Fn real = vigil::gateway::rdp::nextSymbol<Fn>("SSL_use_PrivateKey");
  const int rc = real(ssl, pkey);
  if (rc == 1 && pkey && vigil::gateway::rdp::g_drop_caller_ref.load() &&
      vigil::gateway::rdp::calledFromFreerdp(__builtin_return_address(0)))
    EVP_PKEY_free(pkey);
  return rc;
}

extern "C" int SSL_use_certificate(SSL* ssl, X509* x509) {
  using Fn = int (*)(SSL*, X509*);
  static const Fn real = vigil::gateway::rdp::nextSymbol<Fn>("SSL_use_certificate");
  const int rc = real(ssl, x509);
  if (rc == 1 && x509 && vigil::gateway::rdp::g_drop_caller_ref.load() &&
      vigil::gateway::rdp::calledFromFreerdp(__builtin_return_address(0)))
    X509_free(x509);
  return rc;
}
