// Labelling a tree: every regular file gets `security.ima` = its digest (0x04 |
// algo | digest; 0x01 | digest for sha1, as the kernel and evmctl write it) or a v2
// signature (0x03) when a Signer is given. The walk (walk.hpp) opens each file once;
// a bounded pool of workers hashes it with large sequential reads and sets the xattr
// with fsetxattr on that same fd.
//
// A labelled file is never relabelled on its own: a file whose existing label does not
// match its content, or is of another algorithm, is reported (tampering or a different
// policy) and left alone unless `force` is set. `check` only reads and compares.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "imashim/formats/hash.hpp"
#include "imashim/label/manifest.hpp"
#include "imashim/label/signer.hpp"
#include "imashim/label/walk.hpp"
#include "imashim/util/result.hpp"

namespace imashim::label {

inline constexpr std::string_view kImaXattr = "security.ima";

enum class LabelMode : std::uint8_t {
  label,  // write missing labels; report mismatching ones
  check,  // write nothing; report missing, changed, wrong-algorithm and bad-signature labels
};

struct LabelProgress {
  std::uint64_t files_done = 0;
  std::uint64_t bytes_done = 0;
  std::uint64_t files_total = 0;  // 0 when unknown (no pre-count)
  std::uint64_t bytes_total = 0;
  double seconds = 0;
};

struct LabelOptions {
  formats::HashAlgo algo = formats::HashAlgo::sha256;
  LabelMode mode = LabelMode::label;
  bool force = false;                       // relabel files whose label mismatches
  std::shared_ptr<const Signer> signer;     // v2 signatures instead of digests
  unsigned jobs = 0;                        // worker threads; 0 = number of CPUs
  bool count_first = false;                 // walk once without opening to know the totals (for ETA)
  std::function<void(const LabelProgress&)> progress;  // called from the walking thread, ~10 Hz
  std::string xattr_name = std::string(kImaXattr);     // tests may use "user.ima"
  WalkOptions walk;                         // test hooks
};

// What happened to one file that is not simply fine.
enum class Finding : std::uint8_t {
  changed,        // its label's digest does not match its content
  missing_label,  // no security.ima
  wrong_algo,     // labelled with another algorithm than asked
  bad_signature,  // a signature that does not verify, or by another key
  relabelled,     // label mode with force: a mismatching label was replaced
  unlabelable,    // could not be read or labelled (reason says why)
  skipped,        // not a regular file, or a mount point not crossed
  added,          // check against a layer manifest: a file the manifest does not list
  removed,        // check against a layer manifest: a listed file that is gone
};
std::string_view finding_name(Finding f);

struct FileFinding {
  std::string path;
  Finding finding = Finding::unlabelable;
  std::string reason;
};

struct LabelReport {
  std::string root;
  std::uint64_t files = 0;       // regular files, hard links included
  std::uint64_t bytes = 0;       // bytes hashed
  std::uint64_t labelled = 0;    // labels written
  std::uint64_t unchanged = 0;   // already correctly labelled
  std::uint64_t verified = 0;    // check mode: labels that match
  std::uint64_t hardlinks = 0;
  std::uint64_t dirs = 0;
  std::uint64_t symlinks = 0;
  std::uint64_t skipped = 0;
  std::uint64_t failed = 0;      // unlabelable
  std::uint64_t changed = 0;
  std::uint64_t missing = 0;
  std::uint64_t wrong_algo = 0;
  std::uint64_t bad_signature = 0;
  std::uint64_t relabelled = 0;
  std::uint64_t added = 0;       // check against a manifest
  std::uint64_t removed = 0;
  double seconds = 0;
  std::vector<FileFinding> findings;  // sorted by path
  Manifest manifest;                  // every regular file with its content digest, sorted

  // Every regular file now carries a correct label (what the layer cache may record).
  bool complete() const { return failed == 0 && changed == 0 && missing == 0 && wrong_algo == 0 && bad_signature == 0; }
  // Nothing to report (check mode: exit 0).
  bool clean() const { return complete() && added == 0 && removed == 0; }
};

// Labels (or checks) every regular file below `root`.
// An error only when the run cannot start (root unreadable, bad options).
Result<LabelReport> label_tree(const std::string& root, const LabelOptions& options);

// The xattr value imashim writes for a digest (digest or v2 signature).
Result<Bytes> label_value(formats::HashAlgo algo, ByteView digest, const Signer* signer);

}  // namespace imashim::label
