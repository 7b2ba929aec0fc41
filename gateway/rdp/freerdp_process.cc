#include "gateway/rdp/freerdp_process.h"

#include <freerdp/addin.h>
#include <freerdp/client/channels.h>
#include <link.h>
#include <winpr/wlog.h>

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
    }
  });
  // Other lazily made FreeRDP 2 statics (its OpenSSL BIO method tables) race
  // only within a few instructions of the very first use; not handled here.
  return result;
}

}  // namespace vigil::gateway::rdp
