#pragma once
#include <filesystem>
#include <string_view>

namespace archer::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction unless the
// environment has ARCHER_KEEP_TEST_DIRS=1 (then its path is printed so it can be inspected).
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "archer-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace archer::testing
