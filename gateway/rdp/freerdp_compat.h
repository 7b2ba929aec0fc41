// Internal: FreeRDP 2 version shims and small owners, in one place (the
// adapter is written against FreeRDP 2.11; 2.x before 2.7 lacks some
// settings getters, 3.x renamed much of this).
#pragma once

#include <freerdp/freerdp.h>
#include <freerdp/version.h>

#include <string>

#if FREERDP_VERSION_MAJOR != 2
#error "the RDP adapter is written for FreeRDP 2.x"
#endif

namespace vigil::gateway::rdp {

// A FreeRDP error code as text for logs and Status messages.
inline std::string freerdpError(rdpContext* ctx) {
  if (!ctx) return "no context";
  const UINT32 code = freerdp_get_last_error(ctx);
  if (code == 0) return "connection closed";
  const char* s = freerdp_get_last_error_string(code);
  const char* n = freerdp_get_last_error_name(code);
  return std::string(n ? n : "error") + ": " + (s ? s : "unknown");
}

// Large Pointer Capability Set flags (MS-RDPBCGR 2.2.7.2.7); FreeRDP 2 keeps
// its names for them in a private header.
inline constexpr UINT32 kLargePointer96x96 = 0x0001;
inline constexpr UINT32 kLargePointer384x384 = 0x0002;

// Settings accessors moved from struct fields to getters during 2.x; the
// getters exist in every 2.x we build against.
inline bool getBool(rdpSettings* s, size_t id) { return freerdp_settings_get_bool(s, id) != FALSE; }
inline UINT32 getU32(rdpSettings* s, size_t id) { return freerdp_settings_get_uint32(s, id); }
inline std::string getString(rdpSettings* s, size_t id) {
  const char* v = freerdp_settings_get_string(s, id);
  return v ? v : "";
}
inline bool setBool(rdpSettings* s, size_t id, bool v) {
  return freerdp_settings_set_bool(s, id, v ? TRUE : FALSE) != FALSE;
}
inline bool setU32(rdpSettings* s, size_t id, UINT32 v) {
  return freerdp_settings_set_uint32(s, id, v) != FALSE;
}
inline bool setString(rdpSettings* s, size_t id, const std::string& v) {
  return freerdp_settings_set_string(s, id, v.c_str()) != FALSE;
}

}  // namespace vigil::gateway::rdp
