// Internal: process-wide FreeRDP state, set up once before sessions run in
// parallel.
#pragma once

#include <set>
#include <string>

#include "core/status.h"

namespace vigil::gateway::rdp {

// FreeRDP 2 creates some process-wide state lazily and without a lock. The
// one that bites: WinPR's WLog_Get appends each logger it has not seen to an
// unlocked, realloc'd array, so two connections logging under a new name at
// once corrupt the heap ("realloc(): invalid next size"; seen with ten
// clients connecting together). This registers every logger name found in
// the loaded FreeRDP and WinPR libraries, and the channel addin provider,
// once; afterwards WLog_Get only reads. It also fills FreeRDP's TLS BIO
// method table, made lazily and unlocked as well. Call it before the first
// FreeRDP object of any connection; safe from any thread.
Status prepareFreerdpProcess();

// The logger names ("com.freerdp.core.nego", ...) present in the FreeRDP and
// WinPR libraries loaded into this process.
std::set<std::string> freerdpLoggerNames();

}  // namespace vigil::gateway::rdp
