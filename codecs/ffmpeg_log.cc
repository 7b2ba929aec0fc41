#include "codecs/ffmpeg_log.h"

#include <spdlog/spdlog.h>

#include <cstdarg>
#include <cstdio>
#include <string>

extern "C" {
#include <libavutil/log.h>
}

namespace vigil::codecs {
namespace {

void onFfmpegLog(void* avcl, int level, const char* fmt, va_list args) {
  const bool important = level <= AV_LOG_WARNING;
  if (!important && !spdlog::should_log(spdlog::level::debug)) return;
  char line[1024];
  int prefix = 1;
  av_log_format_line(avcl, level, fmt, args, line, sizeof line, &prefix);
  std::string text(line);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.empty()) return;
  if (important) spdlog::warn("ffmpeg: {}", text);
  else spdlog::debug("ffmpeg: {}", text);
}

}  // namespace

void routeFfmpegLogsToSpdlog() { av_log_set_callback(onFfmpegLog); }

}  // namespace vigil::codecs
