// No C++ exception may unwind through a C library's frames (FreeRDP,
// libvncserver, libvncclient): that is undefined behaviour and leaves the
// library's locks and state half-changed. Every callback body the adapters
// hand a C library runs in here; a throw becomes an error log line and
// `on_error`. Header-only: the adapters link spdlog.
#pragma once

#include <spdlog/spdlog.h>

#include <exception>

namespace vigil::gateway {

template <class R, class F>
R guarded(const char* what, R on_error, F&& body) noexcept {
  try {
    return body();
  } catch (const std::exception& e) {
    spdlog::error("{} failed: {}", what, e.what());
  } catch (...) {
    spdlog::error("{} failed", what);
  }
  return on_error;
}

template <class F>
void guardedVoid(const char* what, F&& body) noexcept {
  guarded(what, 0, [&] {
    body();
    return 0;
  });
}

}  // namespace vigil::gateway
