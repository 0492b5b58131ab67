// A fake securityfs for the kernel backends' unit tests: a temp directory of
// regular files, plus the kernel's behaviour played through SysFiles:
//  - policy files take one rule per write (a longer write is cut after the
//    first newline: a short write); a rule whose first word is not an action
//    fails with EINVAL; a policy file is write-once (a second open: EACCES);
//  - ima/namespaces (ns-mount draft): writing a live namespace id creates
//    ima/<nsid>/policy; an id with no process: ENOENT;
//  - injected errnos per path for opens and writes (EBUSY, ...).
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "imashim/backends/kernel.hpp"

namespace imashim::testing {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "imashim-unit.XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

inline void write_text(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}
inline std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

class FakeSecurityFs final : public backends::kernel::SysFiles {
 public:
  explicit FakeSecurityFs(fs::path root) : root_(std::move(root)) {
    fs::create_directories(root_ / "ima");
  }
  const fs::path& root() const { return root_; }
  fs::path ima() const { return root_ / "ima"; }

  std::set<std::string> live_namespaces;             // ns-mount: ids with a process
  std::map<std::string, std::deque<int>> open_errors;   // by file name (last component)
  std::map<std::string, std::deque<int>> write_errors;  // by file name
  std::map<std::string, std::vector<std::string>> writes;  // every write(), by full path
  int opens = 0;
  bool policy_write_once = false;  // ns-mount: a written policy file cannot be opened again

  Result<os::UniqueFd> open(const fs::path& path, int flags) override {
    ++opens;
    if (int e = take(open_errors, path.filename()); e) return fail_errno("open `" + path.string() + "`", e);
    if (policy_write_once && path.filename() == "policy" && written_once_.count(path.string()))
      return fail_errno("open `" + path.string() + "`", EACCES);
    if (!fs::exists(path)) return fail_errno("open `" + path.string() + "`", ENOENT);
    int fd = ::open(path.c_str(), (flags & ~O_TRUNC) | O_CLOEXEC | O_APPEND);
    if (fd < 0) return fail_errno("open `" + path.string() + "`");
    paths_[fd] = path;
    return os::UniqueFd(fd);
  }

  ssize_t write(int fd, std::string_view data) override {
    fs::path path = paths_[fd];
    writes[path.string()].emplace_back(data);
    if (int e = take(write_errors, path.filename()); e) return errno = e, -1;
    if (path.filename() == "namespaces") return write_namespaces(fd, path, data);
    if (path.filename() == "policy") return write_policy(fd, path, data);
    return ::write(fd, data.data(), data.size());
  }

  Result<std::string> read(const fs::path& path) override {
    if (!fs::exists(path)) return fail_errno("read `" + path.string() + "`", ENOENT);
    return read_text(path);
  }
  bool exists(const fs::path& path) override { return fs::exists(path); }

 private:
  static int take(std::map<std::string, std::deque<int>>& m, const fs::path& name) {
    auto it = m.find(name.string());
    if (it == m.end() || it->second.empty()) return 0;
    int e = it->second.front();
    it->second.pop_front();
    return e;
  }

  ssize_t write_namespaces(int, const fs::path& path, std::string_view data) {
    std::string id(data);
    if (!live_namespaces.count(id)) return errno = ENOENT, -1;
    write_text(path.parent_path() / id / "policy", "");
    return static_cast<ssize_t>(data.size());
  }

  ssize_t write_policy(int fd, const fs::path& path, std::string_view data) {
    auto nl = data.find('\n');
    std::string_view rule = data.substr(0, nl == std::string_view::npos ? data.size() : nl + 1);
    static const std::set<std::string> kActions{"measure", "dont_measure", "appraise", "dont_appraise",
                                                "audit", "hash", "dont_hash"};
    auto word = std::string(rule.substr(0, rule.find_first_of(" \n")));
    if (!kActions.count(word)) return errno = EINVAL, -1;
    written_once_.insert(path.string());
    return ::write(fd, rule.data(), rule.size());
  }

  fs::path root_;
  std::map<int, fs::path> paths_;
  std::set<std::string> written_once_;
};

}  // namespace imashim::testing
