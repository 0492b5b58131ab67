// Unit tests for the label module: manifest format, overlay options, the safe walk and
// the labeller (on user.* xattrs, so they run without root).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "imashim/formats/ima_xattr.hpp"
#include "imashim/label/layer_cache.hpp"
#include "imashim/label/oci_image.hpp"

namespace fs = std::filesystem;
using namespace imashim;
using namespace imashim::label;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    std::string t = (fs::temp_directory_path() / "imashim-label-XXXXXX").string();
    REQUIRE(::mkdtemp(t.data()) != nullptr);
    path = t;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

void write(const fs::path& p, std::string_view data) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << data;
}

std::string get_xattr(const fs::path& p, const char* name) {
  char buf[4096];
  ssize_t n = ::lgetxattr(p.c_str(), name, buf, sizeof buf);
  return n < 0 ? std::string() : std::string(buf, static_cast<std::size_t>(n));
}

bool user_xattrs_work(const fs::path& dir) {
  write(dir / ".probe", "x");
  bool ok = ::setxattr((dir / ".probe").c_str(), "user.probe", "1", 1, 0) == 0;
  fs::remove(dir / ".probe");
  return ok;
}

LabelOptions user_options() {
  LabelOptions o;
  o.xattr_name = "user.imashim-test";
  o.jobs = 2;
  return o;
}

}  // namespace

TEST_CASE("manifest: serialize and parse round trip, escaping odd paths", "[label]") {
  Manifest m;
  ManifestEntry a{"/usr/bin/ls", 12, 0100755, 0, 0, formats::HashAlgo::sha256, Bytes(32, 0xab)};
  ManifestEntry b{"/odd name\nwith\\newline", 0, 0100644, 1000, 100, formats::HashAlgo::sha1, Bytes(20, 1)};
  m.entries = {a, b};
  m.sort();
  std::string text = m.serialize();
  CHECK(text.find("/odd name\\012with\\134newline\n") != std::string::npos);
  CHECK(text.rfind("# imashim-manifest v1\n", 0) == 0);
  auto back = Manifest::parse(text);
  REQUIRE(back.ok());
  REQUIRE(back->entries.size() == 2);
  CHECK(back->entries[0].path == b.path);
  CHECK(back->entries[1].mode == 0100755);
  CHECK(back->find("/usr/bin/ls")->digest == a.digest);
  CHECK(back->find("/nope") == nullptr);
  CHECK(back->digest() == m.digest());
}

TEST_CASE("manifest: bad input is an error naming the line", "[label]") {
  CHECK_FALSE(Manifest::parse("").ok());
  CHECK_FALSE(Manifest::parse("hello\n").ok());
  auto r = Manifest::parse("# imashim-manifest v1\nsha256:00 1 100644 0 0 /x\n", "m.txt");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message().find("m.txt: line 2") != std::string::npos);
  CHECK_FALSE(Manifest::parse("# imashim-manifest v1\nsha256:" + std::string(64, 'a') + " 1 100644 0 0 /x").ok());
  CHECK_FALSE(Manifest::parse("# imashim-manifest v1\nmd9:" + std::string(64, 'a') + " 1 100644 0 0 /x\n").ok());
  CHECK_FALSE(Manifest::parse("# imashim-manifest v1\nsha256:" + std::string(64, 'a') + " 1 100644 0 0 rel\n").ok());
  CHECK_FALSE(unescape_path("a\\9").ok());
}

TEST_CASE("overlay: lower, upper and work from super options, with escapes", "[label]") {
  auto l = parse_overlay_options("rw,lowerdir=/l/a\\072b:/l/c\\040d,upperdir=/s/u/diff,workdir=/s/u/work,index=off");
  REQUIRE(l.ok());
  REQUIRE(l->lower.size() == 2);
  CHECK(l->lower[0] == "/l/a:b");
  CHECK(l->lower[1] == "/l/c d");
  CHECK(l->upper == "/s/u/diff");
  CHECK(l->work == "/s/u/work");
  auto rel = parse_overlay_options("lowerdir=l/AAA:l/BBB,upperdir=/st/overlay/id/diff,workdir=/st/overlay/id/work");
  REQUIRE(rel.ok());
  CHECK(rel->lower[0] == "/st/overlay/l/AAA");
  CHECK_FALSE(parse_overlay_options("rw,upperdir=/u").ok());
}

TEST_CASE("overlay: a mountinfo line is matched by mount point", "[label]") {
  TempDir t;
  fs::create_directories(t.path / "merged dir");
  std::string mp = fs::canonical(t.path / "merged dir").string();
  std::string escaped = mp.substr(0, mp.find(' ')) + "\\040dir";
  write(t.path / "mountinfo", "22 1 0:21 / / rw - ext4 /dev/vda rw\n" "99 22 0:55 / " + escaped +
                                  " rw,relatime - overlay overlay rw,lowerdir=/L1:/L2,upperdir=/U,workdir=/W\n");
  auto l = find_overlay_layers((t.path / "merged dir").string(), (t.path / "mountinfo").string());
  REQUIRE(l.ok());
  CHECK(l->lower == std::vector<std::string>{"/L1", "/L2"});
  CHECK_FALSE(find_overlay_layers(t.path.string(), (t.path / "mountinfo").string()).ok());
}

TEST_CASE("walk: regular files only, symlinks never followed, hard links once", "[label]") {
  TempDir t;
  fs::path root = t.path / "root";
  write(root / "a/file", "content");
  write(t.path / "outside/secret", "host file");
  fs::create_symlink(t.path / "outside", root / "a/dirlink");
  fs::create_symlink(t.path / "outside/secret", root / "a/filelink");
  fs::create_symlink("../../outside/secret", root / "a/dotdot");
  fs::create_hard_link(root / "a/file", root / "hard");
  REQUIRE(::mkfifo((root / "fifo").c_str(), 0600) == 0);
  std::vector<std::string> files;
  std::vector<std::string> issues;
  WalkVisitor v;
  v.on_file = [&](WalkFile&& f) { files.push_back(f.path + (f.link_of >= 0 ? " (link)" : "")); };
  v.on_issue = [&](WalkIssue&& i) { issues.push_back(i.path + ": " + i.reason); };
  auto c = walk_tree(root.string(), v);
  REQUIRE(c.ok());
  std::sort(files.begin(), files.end());
  CHECK(files.size() == 2);
  CHECK(c->files == 2);
  CHECK(c->hardlinks == 1);
  CHECK(c->symlinks == 3);
  CHECK(c->skipped == 1);
  REQUIRE(issues.size() == 1);
  CHECK(issues[0] == "/fifo: fifo: not a regular file");
}

TEST_CASE("walk: a symlink swapped in just before the open is not followed", "[label]") {
  TempDir t;
  fs::path root = t.path / "root";
  write(root / "d/victim", "x");
  write(t.path / "outside/secret", "host");
  WalkOptions o;
  o.before_open = [&](const std::string& path) {
    if (path == "/d") {  // replace the directory by a symlink to the host directory
      fs::rename(root / "d", t.path / "moved");
      fs::create_symlink(t.path / "outside", root / "d");
    }
  };
  std::vector<std::string> files;
  WalkVisitor v;
  v.on_file = [&](WalkFile&& f) { files.push_back(f.path); };
  auto c = walk_tree(root.string(), v, o);
  REQUIRE(c.ok());
  CHECK(files.empty());
  CHECK(c->skipped == 1);
}

TEST_CASE("open_beneath refuses more than one component", "[label]") {
  CHECK_FALSE(open_beneath(AT_FDCWD, "a/b", O_RDONLY).ok());
  CHECK_FALSE(open_beneath(AT_FDCWD, "..", O_RDONLY).ok());
}

TEST_CASE("labeller: digest labels, unchanged on rerun, mismatches left alone unless forced", "[label]") {
  TempDir t;
  if (!user_xattrs_work(t.path)) return;
  fs::path root = t.path / "root";
  write(root / "x", "hello\n");
  write(root / "sub/y", std::string(3 << 20, 'y'));
  auto o = user_options();
  auto r = label_tree(root.string(), o);
  REQUIRE(r.ok());
  CHECK(r->labelled == 2);
  CHECK(r->complete());
  auto want = formats::encode_ima_digest(formats::HashAlgo::sha256,
                                         *formats::hash_bytes(formats::HashAlgo::sha256, as_bytes("hello\n")));
  REQUIRE(want.ok());
  CHECK(get_xattr(root / "x", "user.imashim-test") == std::string(want->begin(), want->end()));
  CHECK(r->manifest.entries.size() == 2);

  auto again = label_tree(root.string(), o);
  REQUIRE(again.ok());
  CHECK(again->unchanged == 2);
  CHECK(again->labelled == 0);

  write(root / "x", "tampered\n");
  auto tampered = label_tree(root.string(), o);
  REQUIRE(tampered.ok());
  CHECK(tampered->changed == 1);
  CHECK_FALSE(tampered->complete());
  CHECK(get_xattr(root / "x", "user.imashim-test") == std::string(want->begin(), want->end()));

  o.mode = LabelMode::check;
  o.algo = formats::HashAlgo::sha512;
  auto check = label_tree(root.string(), o);
  REQUIRE(check.ok());
  CHECK(check->wrong_algo == 2);

  o.mode = LabelMode::label;
  o.algo = formats::HashAlgo::sha256;
  o.force = true;
  auto forced = label_tree(root.string(), o);
  REQUIRE(forced.ok());
  CHECK(forced->relabelled == 1);
  CHECK(forced->complete());
}

TEST_CASE("layer cache: a complete layer is recorded, hit later, never a partial one", "[label]") {
  TempDir t;
  if (!user_xattrs_work(t.path)) return;
  fs::path layer = t.path / "layer";
  write(layer / "bin/sh", "shell");
  write(layer / "etc/conf", "conf");
  LayerCache cache((t.path / "cache").string());
  auto o = user_options();
  auto first = label_layer(layer.string(), o, cache);
  REQUIRE(first.ok());
  CHECK_FALSE(first->from_cache);
  CHECK(first->report.labelled == 2);
  auto m = read_manifest(first->manifest_path);
  REQUIRE(m.ok());
  CHECK(m->entries.size() == 2);
  auto second = label_layer(layer.string(), o, cache);
  REQUIRE(second.ok());
  CHECK(second->from_cache);
  CHECK(second->report.files == 2);

  // Tampering after labelling: check mode reports it against the manifest too.
  write(layer / "etc/conf", "evil");
  write(layer / "etc/new", "new");
  o.mode = LabelMode::check;
  auto check = label_layer(layer.string(), o, cache);
  REQUIRE(check.ok());
  CHECK(check->report.added == 1);
  CHECK(check->report.missing == 1);
  CHECK(check->report.changed >= 1);

  // A layer with an unlabelable file gets no record.
  fs::path layer2 = t.path / "layer2";
  write(layer2 / "ok", "ok");
  write(layer2 / "bad", "bad");
  ::setxattr((layer2 / "bad").c_str(), "user.imashim-test", "\x04\x04garbage", 9, 0);
  o.mode = LabelMode::label;
  auto partial = label_layer(layer2.string(), o, cache);
  REQUIRE(partial.ok());
  CHECK_FALSE(partial->report.complete());
  CHECK(partial->manifest_path.empty());
  auto id = layer_identity(layer2.string());
  REQUIRE(id.ok());
  CHECK_FALSE(fs::exists(cache.record_path(*id)));
}

TEST_CASE("walk: a file that vanishes before its open is reported, the walk goes on", "[label]") {
  TempDir t;
  fs::path root = t.path / "root";
  write(root / "gone", "x");
  write(root / "stays", "y");
  WalkOptions o;
  o.before_open = [&](const std::string& path) {
    if (path == "/gone") fs::remove(root / "gone");
  };
  std::vector<std::string> files, issues;
  WalkVisitor v;
  v.on_file = [&](WalkFile&& f) { files.push_back(f.path); };
  v.on_issue = [&](WalkIssue&& i) { issues.push_back(i.path + ": " + i.reason); };
  auto c = walk_tree(root.string(), v, o);
  REQUIRE(c.ok());
  CHECK(files == std::vector<std::string>{"/stays"});
  CHECK(issues == std::vector<std::string>{"/gone: vanished during the walk"});
  CHECK(c->failed == 1);
}

TEST_CASE("image: LAYOUT[:TAG] references", "[label]") {
  CHECK(split_layout_ref("img:latest") == std::pair<std::string, std::string>{"img", "latest"});
  CHECK(split_layout_ref("/a:b/img") == std::pair<std::string, std::string>{"/a:b/img", ""});
  CHECK(split_layout_ref("/a:b/img:v1") == std::pair<std::string, std::string>{"/a:b/img", "v1"});
  CHECK(split_layout_ref("img") == std::pair<std::string, std::string>{"img", ""});
}
