// Which backend a node can use, chosen in the order ns-mount → ns-user → host →
// fanotify (the first the kernel supports), with the reason in words — what
// `imactl doctor` shows — and a factory that makes a Backend of a Kind.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "imashim/backends/backend.hpp"

namespace imashim::backends {

// Where to look: tests point these at fake trees.
struct DetectOptions {
  std::filesystem::path sys = "/sys";    // securityfs at <sys>/kernel/security
  std::filesystem::path proc = "/proc";  // cmdline, filesystems
};

struct Detection {
  Kind kind = Kind::fanotify;
  std::string reason;                 // why this backend: "ns-mount: <file> exists (...)"
  std::vector<std::string> rejected;  // why each backend before it was not chosen
};

// The first backend of ns-mount → ns-user → host → fanotify this node supports.
Detection detect_backend(const DetectOptions& options = {});

// A backend of `kind` whose kernel files are under the options' roots.
Result<std::unique_ptr<Backend>> make_backend(Kind kind, const DetectOptions& options = {});

}  // namespace imashim::backends
