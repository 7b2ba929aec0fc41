// libvncserver and libvncclient log through process-wide function pointers
// (rfbLog/rfbErr, rfbClientLog/rfbClientErr). routeVncLogsToSpdlog() points
// them at spdlog (debug level, "libvncserver:"/"libvncclient:" prefixes) once
// per process; it is idempotent and thread-safe. These four pointers are the
// only process-wide state the VNC adapter touches, besides ignoring SIGPIPE
// (libvncserver writes with write(), a closed peer would kill the process).
#pragma once

#include <string>

namespace vigil::gateway::vnc {

void routeVncLogsToSpdlog();

// The last libvncclient error logged on the calling thread ("" if none):
// libvncclient reports why a connection failed only through its log.
std::string lastClientErrorOnThisThread();
void clearClientErrorOnThisThread();

}  // namespace vigil::gateway::vnc
