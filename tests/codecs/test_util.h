// Helpers shared by the codecs tests.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "codecs/recorder.h"

namespace vigil::codecs::testing {

// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            ("vigil-codecs-" + std::to_string(::getpid()) + "-" + info->test_suite_name() + "-" +
             info->name());
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  // VIGIL_KEEP_TEST_FILES=1 keeps the recordings for a look with ffprobe.
  ~TempDir() {
    if (!std::getenv("VIGIL_KEEP_TEST_FILES")) std::filesystem::remove_all(path_);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline bool waitFor(const std::function<bool()>& pred,
                    std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

// Publishes and waits until the worker has taken it, so every publish is a frame.
inline void publishAndWait(Recorder& rec, const Frame& fb, const DirtyRegion& d, Millis t) {
  const long long before = rec.stats().publishesHandled();
  rec.onFrame(fb, d, t);
  ASSERT_TRUE(waitFor([&] { return rec.stats().publishesHandled() > before || !rec.healthy(); }));
  ASSERT_TRUE(rec.healthy()) << rec.lastError();
}

inline std::string readFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

// Runs a shell command, returns its stdout (trailing newline removed).
inline std::string run(const std::string& cmd, int* rc = nullptr) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = ::pclose(p);
  if (rc) *rc = status;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

// Decodes every frame of `path` with the ffmpeg CLI; returns its complaints
// ("" when clean), `rc` its exit status. The file's own millisecond clock is
// kept (-enc_time_base -1): by default ffmpeg re-times frames on a 1/fps grid
// guessed from the average rate, and two frames 1 ms apart (a change right
// before the end marker) would share a tick and be reported as out of order.
inline std::string decodeErrors(const std::string& path, int* rc) {
  return run("ffmpeg -v error -i '" + path + "' -enc_time_base -1 -f null - 2>&1", rc);
}

// Top-level MP4 box types in file order.
inline std::vector<std::string> topLevelBoxes(const std::string& bytes) {
  std::vector<std::string> boxes;
  std::size_t pos = 0;
  while (pos + 8 <= bytes.size()) {
    auto u8 = [&](std::size_t i) { return static_cast<unsigned char>(bytes[pos + i]); };
    std::uint64_t size = (std::uint64_t{u8(0)} << 24) | (u8(1) << 16) | (u8(2) << 8) | u8(3);
    const std::string type = bytes.substr(pos + 4, 4);
    if (size == 1 && pos + 16 <= bytes.size()) {
      size = 0;
      for (int i = 8; i < 16; ++i) size = (size << 8) | u8(i);
    } else if (size == 0) {
      size = bytes.size() - pos;
    }
    if (size < 8) break;
    boxes.push_back(type);
    pos += size;
  }
  return boxes;
}

}  // namespace vigil::codecs::testing
