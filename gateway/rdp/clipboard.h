// Internal (includes FreeRDP): text-only clipboard over cliprdr, the same
// logic for both ends of the gateway. The client leg's cliprdr *server*
// context and the target leg's cliprdr *client* context carry the same PDUs,
// so one template serves both: it answers format lists, fetches
// CF_UNICODETEXT when the peer offers it, and serves the text it offered.
// All calls happen on the channel's thread; `text_` is guarded by mutex_
// because setText() comes from the other leg.
#pragma once

#include <freerdp/channels/cliprdr.h>

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

namespace vigil::gateway::rdp {

// Bounded like the recording: longer clipboard text is cut.
inline constexpr std::size_t kMaxClipboardBytes = 1 << 20;

std::string utf16leToUtf8(const std::uint8_t* data, std::size_t bytes);
std::string utf8ToUtf16le(const std::string& utf8);  // with the terminating NUL

template <class Ctx>
class TextClipboard {
 public:
  using OnText = std::function<void(const std::string&)>;

  // `ctx` is owned by FreeRDP (client addin) or by the caller (server).
  void attach(Ctx* ctx, OnText on_text, bool is_server_side);
  void detach();
  // Offers text to the peer (a Format List with CF_UNICODETEXT).
  bool setText(const std::string& utf8);

  // --- PDU handlers the context's callbacks forward to ---
  UINT onCapabilities();
  UINT onMonitorReady();
  UINT onFormatList(const CLIPRDR_FORMAT_LIST* list);
  UINT onFormatDataRequest(const CLIPRDR_FORMAT_DATA_REQUEST* req);
  UINT onFormatDataResponse(const CLIPRDR_FORMAT_DATA_RESPONSE* resp);

 private:
  UINT sendFormatList();

  Ctx* ctx_ = nullptr;
  bool server_side_ = false;
  OnText on_text_;
  std::mutex mutex_;
  std::string text_;  // what we offer to the peer, UTF-8
  bool ready_ = false;
};

}  // namespace vigil::gateway::rdp
