// Test helper for the tpm suite: appends ima-ng entries to a container's
// measurement log with the formats module's writer, as the monitor does.
//   imashim-test-make-log LOG_DIR /path=content [/path=content ...]
// Each entry measures `path` with the sha256 digest of `content`.
#include <iostream>
#include <string>

#include "imashim/formats/measurement_log.hpp"

using namespace imashim;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: imashim-test-make-log LOG_DIR /path=content...\n";
    return 2;
  }
  std::filesystem::path dir = argv[1];
  std::filesystem::create_directories(dir);
  auto log = formats::MeasurementLogAppender::open(dir / "binary_runtime_measurements",
                                                   dir / "ascii_runtime_measurements");
  auto desc = formats::builtin_template("ima-ng");
  if (!log || !desc) {
    std::cerr << (log ? desc.error().message() : log.error().message()) << "\n";
    return 1;
  }
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    auto eq = arg.find('=');
    formats::Measurement m;
    m.path = arg.substr(0, eq);
    std::string content = eq == std::string::npos ? "" : arg.substr(eq + 1);
    m.digest = *formats::hash_bytes(formats::HashAlgo::sha256, as_bytes(content));
    if (auto r = log->append(*desc, m); !r) {
      std::cerr << r.error().message() << "\n";
      return 1;
    }
  }
  return 0;
}
