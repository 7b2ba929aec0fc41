// Names the calling thread as `top -H`, `ps -L` and /proc/<pid>/task/*/comm
// show it, so an operator (and the recorder benchmark) can tell a session's
// recorder from its OCR or relay threads.
#pragma once

#include <pthread.h>

#include <string>

namespace vigil {

// Linux keeps the first 15 bytes.
inline void nameThisThread(const std::string& name) {
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace vigil
