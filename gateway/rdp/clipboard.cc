#include "gateway/rdp/clipboard.h"

#include <freerdp/client/cliprdr.h>
#include <freerdp/server/cliprdr.h>
#include <winpr/user.h>

#include <type_traits>

#include <spdlog/spdlog.h>

namespace vigil::gateway::rdp {

std::string utf16leToUtf8(const std::uint8_t* data, std::size_t bytes) {
  std::string out;
  const std::size_t n = bytes / 2;
  for (std::size_t i = 0; i < n && out.size() < kMaxClipboardBytes; ++i) {
    std::uint32_t cp = data[2 * i] | (data[2 * i + 1] << 8);
    if (cp == 0) break;
    if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < n) {
      const std::uint32_t lo = data[2 * i + 2] | (data[2 * i + 3] << 8);
      if (lo >= 0xdc00 && lo <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        ++i;
      }
    }
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd;
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xc0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xe0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      out += static_cast<char>(0xf0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      out += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }
  // Windows clipboard text uses CRLF; the log wants plain newlines.
  std::string clean;
  clean.reserve(out.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i] == '\r' && i + 1 < out.size() && out[i + 1] == '\n') continue;
    clean += out[i];
  }
  return clean;
}

std::string utf8ToUtf16le(const std::string& s) {
  std::string out;
  auto put = [&out](std::uint32_t u) {
    out += static_cast<char>(u & 0xff);
    out += static_cast<char>((u >> 8) & 0xff);
  };
  for (std::size_t i = 0; i < s.size() && out.size() < 2 * kMaxClipboardBytes;) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::uint32_t cp = 0xfffd;
    std::size_t len = 1;
    if (c < 0x80) {
      cp = c;
    } else if ((c >> 5) == 6 && i + 1 < s.size()) {
      cp = ((c & 0x1f) << 6) | (s[i + 1] & 0x3f);
      len = 2;
    } else if ((c >> 4) == 14 && i + 2 < s.size()) {
      cp = ((c & 0x0f) << 12) | ((s[i + 1] & 0x3f) << 6) | (s[i + 2] & 0x3f);
      len = 3;
    } else if ((c >> 3) == 30 && i + 3 < s.size()) {
      cp = ((c & 0x07) << 18) | ((s[i + 1] & 0x3f) << 12) | ((s[i + 2] & 0x3f) << 6) |
           (s[i + 3] & 0x3f);
      len = 4;
    }
    i += len;
    if (cp == '\n') put('\r');
    if (cp >= 0x10000) {
      cp -= 0x10000;
      put(0xd800 + (cp >> 10));
      put(0xdc00 + (cp & 0x3ff));
    } else {
      put(cp);
    }
  }
  put(0);
  return out;
}

template <class Ctx>
void TextClipboard<Ctx>::attach(Ctx* ctx, OnText on_text, bool is_server_side) {
  ctx_ = ctx;
  on_text_ = std::move(on_text);
  server_side_ = is_server_side;
}

template <class Ctx>
void TextClipboard<Ctx>::detach() {
  std::lock_guard lock(mutex_);
  ctx_ = nullptr;
  ready_ = false;
}

template <class Ctx>
UINT TextClipboard<Ctx>::sendFormatList() {
  CLIPRDR_FORMAT format{};
  format.formatId = CF_UNICODETEXT;
  CLIPRDR_FORMAT_LIST list{};
  list.msgType = CB_FORMAT_LIST;
  {
    std::lock_guard lock(mutex_);
    list.numFormats = text_.empty() ? 0 : 1;
  }
  list.formats = &format;
  if constexpr (std::is_same_v<Ctx, CliprdrServerContext>) {
    return ctx_->ServerFormatList(ctx_, &list);
  } else {
    return ctx_->ClientFormatList(ctx_, &list);
  }
}

template <class Ctx>
bool TextClipboard<Ctx>::setText(const std::string& utf8) {
  {
    std::lock_guard lock(mutex_);
    text_ = utf8.substr(0, kMaxClipboardBytes);
    if (!ctx_ || !ready_) return false;
  }
  return sendFormatList() == CHANNEL_RC_OK;
}

template <class Ctx>
UINT TextClipboard<Ctx>::onCapabilities() {
  return CHANNEL_RC_OK;
}

template <class Ctx>
UINT TextClipboard<Ctx>::onMonitorReady() {
  // Only a client receives Monitor Ready: answer with capabilities and what
  // we hold.
  if constexpr (std::is_same_v<Ctx, CliprdrClientContext>) {
    CLIPRDR_GENERAL_CAPABILITY_SET general{};
    general.capabilitySetType = CB_CAPSTYPE_GENERAL;
    general.capabilitySetLength = CB_CAPSTYPE_GENERAL_LEN;
    general.version = CB_CAPS_VERSION_2;
    general.generalFlags = CB_USE_LONG_FORMAT_NAMES;
    CLIPRDR_CAPABILITIES caps{};
    caps.cCapabilitiesSets = 1;
    caps.capabilitySets = reinterpret_cast<CLIPRDR_CAPABILITY_SET*>(&general);
    if (UINT rc = ctx_->ClientCapabilities(ctx_, &caps); rc != CHANNEL_RC_OK) return rc;
    {
      std::lock_guard lock(mutex_);
      ready_ = true;
    }
    return sendFormatList();
  }
  return CHANNEL_RC_OK;
}

template <class Ctx>
UINT TextClipboard<Ctx>::onFormatList(const CLIPRDR_FORMAT_LIST* list) {
  {
    std::lock_guard lock(mutex_);
    ready_ = true;
  }
  CLIPRDR_FORMAT_LIST_RESPONSE resp{};
  resp.msgType = CB_FORMAT_LIST_RESPONSE;
  resp.msgFlags = CB_RESPONSE_OK;
  UINT rc;
  if constexpr (std::is_same_v<Ctx, CliprdrServerContext>) {
    rc = ctx_->ServerFormatListResponse(ctx_, &resp);
  } else {
    rc = ctx_->ClientFormatListResponse(ctx_, &resp);
  }
  if (rc != CHANNEL_RC_OK) return rc;
  bool has_text = false;
  for (UINT32 i = 0; i < list->numFormats; ++i) {
    if (list->formats[i].formatId == CF_UNICODETEXT) has_text = true;
  }
  if (!has_text) return CHANNEL_RC_OK;
  CLIPRDR_FORMAT_DATA_REQUEST req{};
  req.msgType = CB_FORMAT_DATA_REQUEST;
  req.requestedFormatId = CF_UNICODETEXT;
  req.dataLen = 4;  // the channel writes the header from this field
  if constexpr (std::is_same_v<Ctx, CliprdrServerContext>) {
    return ctx_->ServerFormatDataRequest(ctx_, &req);
  } else {
    return ctx_->ClientFormatDataRequest(ctx_, &req);
  }
}

template <class Ctx>
UINT TextClipboard<Ctx>::onFormatDataRequest(const CLIPRDR_FORMAT_DATA_REQUEST* req) {
  std::string data;
  if (req->requestedFormatId == CF_UNICODETEXT) {
    std::lock_guard lock(mutex_);
    data = utf8ToUtf16le(text_);
  }
  CLIPRDR_FORMAT_DATA_RESPONSE resp{};
  resp.msgType = CB_FORMAT_DATA_RESPONSE;
  resp.msgFlags = data.empty() ? CB_RESPONSE_FAIL : CB_RESPONSE_OK;
  resp.dataLen = static_cast<UINT32>(data.size());
  resp.requestedFormatData = reinterpret_cast<const BYTE*>(data.data());
  if constexpr (std::is_same_v<Ctx, CliprdrServerContext>) {
    return ctx_->ServerFormatDataResponse(ctx_, &resp);
  } else {
    return ctx_->ClientFormatDataResponse(ctx_, &resp);
  }
}

template <class Ctx>
UINT TextClipboard<Ctx>::onFormatDataResponse(const CLIPRDR_FORMAT_DATA_RESPONSE* resp) {
  if ((resp->msgFlags & CB_RESPONSE_OK) == 0 || !resp->requestedFormatData) return CHANNEL_RC_OK;
  const std::size_t bytes = std::min<std::size_t>(resp->dataLen, 2 * kMaxClipboardBytes);
  std::string text = utf16leToUtf8(resp->requestedFormatData, bytes);
  if (on_text_ && !text.empty()) on_text_(text);
  return CHANNEL_RC_OK;
}

template class TextClipboard<CliprdrClientContext>;
template class TextClipboard<CliprdrServerContext>;

}  // namespace vigil::gateway::rdp
