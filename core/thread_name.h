// Names the calling thread as `top -H`, `ps -L` and /proc/<pid>/task/*/comm
// show it, so an operator (and the recorder benchmark) can tell a session's
// recorder from its OCR or relay threads.
#pragma once

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <string>

namespace vigil {

// Linux keeps the first 15 bytes.
inline void nameThisThread(const std::string& name) {
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

// Background work (recording, OCR) gives way to the relay threads when the
// node's cores are busy: nice +10 for the calling thread only (Linux keeps a
// nice value per thread; threads it starts, such as x264's, inherit it).
inline void lowerThisThreadPriority() {
  (void)setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 10);
}

}  // namespace vigil
