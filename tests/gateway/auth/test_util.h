// Shared helpers for the auth tests: a temporary state directory and a key.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "gateway/auth/access_codes.h"

namespace vigil::gateway::auth::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "vigil-auth-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline SecretKey freshKey() {
  TempDir dir;
  auto key = SecretKey::loadOrCreate(dir.path());
  EXPECT_TRUE(key.ok()) << key.message();
  return *key;
}

}  // namespace vigil::gateway::auth::testing
