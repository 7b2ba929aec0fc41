// FFmpeg (and libx264 through it) logs to stderr by default; Vigil's logs
// are quiet and structured, so route them through spdlog instead.
#pragma once

namespace vigil::codecs {

// Process-wide (FFmpeg's log callback is global): call once at startup.
// FFmpeg warnings and errors become spdlog warnings; its chatter is debug.
void routeFfmpegLogsToSpdlog();

}  // namespace vigil::codecs
