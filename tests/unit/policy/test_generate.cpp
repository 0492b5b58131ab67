// The image-derived generator and the tightening-only merge.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "imashim/policy/builtin.hpp"
#include "imashim/policy/evaluate.hpp"
#include "imashim/label/labeller.hpp"
#include "imashim/policy/generate.hpp"

using namespace imashim;
using namespace imashim::policy;

namespace {
GenerateInput sample_input(PolicyMode mode) {
  GenerateInput in;
  in.files = {{"/bin/busybox", 0755, 0, 0, 900000, ElfType::executable},
              {"/lib/libc.so.6", 0644, 0, 0, 2000000, ElfType::shared_object},
              {"/etc/passwd", 0644, 0, 0, 500, ElfType::none},
              {"/home/app/run.sh", 0755, 1000, 1000, 40, ElfType::none}};
  in.image.entrypoint = {"/bin/busybox", "sh"};
  in.node.mode = mode;
  in.node.template_name = "ima-sig";
  return in;
}
std::string text_of(const Generated& g) { return to_string(g.policy, WithComments::no); }
}  // namespace

TEST_CASE("generate: measure mode measures what executes, skips pseudo filesystems", "[policy][generate]") {
  auto g = generate_policy(sample_input(PolicyMode::measure));
  REQUIRE(g.ok());
  std::string t = text_of(*g);
  CHECK(t.find("measure func=BPRM_CHECK mask=MAY_EXEC template=ima-sig\n") != std::string::npos);
  CHECK(t.find("measure func=MMAP_CHECK mask=MAY_EXEC template=ima-sig\n") != std::string::npos);
  CHECK(t.find("dont_measure fsmagic=0x9fa0\n") != std::string::npos);
  CHECK(t.find("appraise") == std::string::npos);  // measure mode never appraises
  for (const auto& r : g->policy.rules) {
    INFO(to_string(r));
    CHECK_FALSE(r.comments.empty());
  }
  // Programs on tmpfs are still measured: the exec rules come before the tmpfs skip.
  Access a;
  a.func = Func::bprm_check;
  a.mask = kMayExec;
  a.fsmagic = kTmpfsMagic;
  CHECK(evaluate(g->policy, a).measure());
  a.fsmagic = 0x9fa0;
  CHECK_FALSE(evaluate(g->policy, a).measure());
}

TEST_CASE("generate: enforce mode appraises execs and each owner's files", "[policy][generate]") {
  auto in = sample_input(PolicyMode::enforce);
  in.node.require_signatures = true;
  in.volumes = {{"/data", true, std::nullopt, uuid_from_string("8bcbe394-4f13-4144-be8e-5aa9ea2ce2f6")},
                {"/cache", true, std::nullopt, std::nullopt}};
  auto g = generate_policy(in);
  REQUIRE(g.ok());
  std::string t = text_of(*g);
  CHECK(t.rfind("dont_appraise fsuuid=8bcbe394-4f13-4144-be8e-5aa9ea2ce2f6\n", 0) == 0);
  CHECK(t.find("appraise func=BPRM_CHECK mask=MAY_EXEC appraise_algos=sha256 appraise_type=imasig\n") != std::string::npos);
  CHECK(t.find("appraise fowner=0 appraise_algos=sha256 appraise_type=imasig\n") != std::string::npos);
  CHECK(t.find("appraise fowner=1000 appraise_algos=sha256 appraise_type=imasig\n") != std::string::npos);
  REQUIRE(g->notes.size() == 1);
  CHECK(g->notes[0].find("writable volume /cache") == 0);
  // Every rule is one the target kernel accepts, and the text parses back.
  KernelFeatures debian;
  debian.version = KernelVersion{6, 1};
  auto back = parse_policy(to_string(g->policy), debian);
  CHECK(back.ok());
  CHECK(back.policy.rules.size() == g->policy.rules.size());
  // Owner comment names the files.
  bool found = false;
  for (const auto& r : g->policy.rules)
    if (r.fowner && r.fowner->value == 1000) {
      found = true;
      CHECK(r.comments.at(0) == "uid 1000 owns 1 file (/home/app/run.sh) of the image: each is appraised when opened");
    }
  CHECK(found);
}

TEST_CASE("generate: an older target kernel gets no template= or appraise_algos=", "[policy][generate]") {
  auto in = sample_input(PolicyMode::enforce);
  in.kernel.version = KernelVersion{5, 4};
  auto g = generate_policy(in);
  REQUIRE(g.ok());
  std::string t = text_of(*g);
  CHECK(t.find("template=") == std::string::npos);
  CHECK(t.find("appraise_algos=") == std::string::npos);
}

TEST_CASE("generate: annotations tighten, never loosen", "[policy][generate]") {
  auto in = sample_input(PolicyMode::log);
  in.annotations["org.imashim.mode"] = "enforce";
  in.annotations["org.imashim.policy"] = "# audit every exec\naudit func=BPRM_CHECK\n";
  in.annotations["org.imashim.profile"] = "critical_data";
  auto g = generate_policy(in);
  REQUIRE(g.ok());
  CHECK(g->mode == PolicyMode::enforce);
  const Rule& last = g->policy.rules.back();
  CHECK(to_string(last) == "audit func=BPRM_CHECK");
  CHECK(last.comments == std::vector<std::string>{"added by annotation org.imashim.policy", "audit every exec"});
  CHECK(to_string(g->policy.rules[g->policy.rules.size() - 2]) == "measure func=CRITICAL_DATA");

  in.annotations = {{"org.imashim.mode", "measure"}};
  auto loose = generate_policy(in);
  REQUIRE_FALSE(loose.ok());
  CHECK(loose.error().message() == "annotation org.imashim.mode=measure would loosen the node's mode log");

  in.annotations = {{"org.imashim.policy", "measure func=BPRM_CHECK\ndont_appraise fowner=0\n"}};
  auto dont = generate_policy(in);
  REQUIRE_FALSE(dont.ok());
  CHECK(dont.error().message() ==
        "annotation org.imashim.policy line 2: `dont_appraise fowner=0` would loosen the node's policy (only "
        "measure, appraise, audit and hash rules may be added)");

  in.annotations = {{"org.imashim.policy", "appraise permit_directio"}};
  auto directio = generate_policy(in);
  REQUIRE_FALSE(directio.ok());
  CHECK(directio.error().message().find("permit_directio skips appraisal") != std::string::npos);

  in.annotations = {{"org.imashim.policy", "measure func=NOPE"}};
  auto bad = generate_policy(in);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message().rfind("annotation org.imashim.policy:1:9: error: unknown func `NOPE`", 0) == 0);

  in.annotations = {{"org.imashim.mode", "strict"}};
  CHECK(generate_policy(in).error().message() ==
        "annotation org.imashim.mode=strict: not a mode (off, measure, log, enforce)");
}

TEST_CASE("generate: ELF types and image configs", "[policy][generate]") {
  std::string elf64_dyn("\x7f" "ELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\x00", 18);
  CHECK(elf_type_of(elf64_dyn) == ElfType::shared_object);
  std::string be_exec("\x7f" "ELF\x01\x02\x01\0\0\0\0\0\0\0\0\0\x00\x02", 18);
  CHECK(elf_type_of(be_exec) == ElfType::executable);
  CHECK(elf_type_of("#!/bin/sh\n") == ElfType::none);
  auto cfg = parse_image_config(
      R"({"architecture":"amd64","config":{"User":"1000:1000","Entrypoint":["/app"],"Cmd":null,"Labels":{"a":"b"}}})",
      "config.json");
  REQUIRE(cfg.ok());
  CHECK(cfg->user == "1000:1000");
  CHECK(cfg->entrypoint == std::vector<std::string>{"/app"});
  CHECK(cfg->cmd.empty());
  CHECK(cfg->labels.at("a") == "b");
  auto bad = parse_image_config(R"({"config":{"Cmd":"sh"}})", "config.json");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message() == "config.json: \"Cmd\" is not an array of strings");
}

TEST_CASE("generate: scan_rootfs lists regular files and never follows symlinks", "[policy][generate]") {
  char tmpl[] = "/tmp/imashim-scan-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  std::filesystem::path root(tmpl);
  std::filesystem::create_directories(root / "bin");
  std::filesystem::create_directories(root / "etc");
  { std::ofstream(root / "bin" / "prog") << std::string("\x7f" "ELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\x00", 18); }
  ::chmod((root / "bin" / "prog").c_str(), 0755);
  { std::ofstream(root / "etc" / "conf") << "x=1\n"; }
  std::filesystem::create_symlink("/etc", root / "hostetc");      // must not be entered
  std::filesystem::create_symlink("/etc/passwd", root / "passwd");  // must not be listed
  auto files = scan_rootfs(root);
  std::filesystem::remove_all(root);
  REQUIRE(files.ok());
  REQUIRE(files->size() == 2);
  CHECK((*files)[0].path == "/bin/prog");
  CHECK((*files)[0].elf == ElfType::executable);
  CHECK((*files)[0].executable());
  CHECK((*files)[1].path == "/etc/conf");
  CHECK_FALSE((*files)[1].executable());
  auto missing = scan_rootfs("/nonexistent/rootfs");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().message() == "open rootfs `/nonexistent/rootfs`: No such file or directory");
}

TEST_CASE("generate: image files from a label manifest", "[policy][generate]") {
  ImageFile lib = image_file_from_manifest("/usr/lib/x86_64-linux-gnu/libc.so.6", 0100644, 0, 0, 10);
  CHECK(lib.mode == 0644);
  CHECK(lib.elf == ElfType::shared_object);
  CHECK_FALSE(lib.executable());
  CHECK(image_file_from_manifest("/lib/ld-linux.so", 0100755, 0, 0, 1).elf == ElfType::shared_object);
  CHECK(image_file_from_manifest("/etc/so.conf", 0100644, 0, 0, 1).elf == ElfType::none);
  ImageFile prog = image_file_from_manifest("/bin/sh", 0100755, 0, 0, 1);
  CHECK(prog.executable());
  CHECK(prog.elf == ElfType::none);
}

namespace {
// A layer on disk: a program, a library, a config file, one file of another owner when root.
std::filesystem::path make_layer_fixture() {
  char tmpl[] = "/tmp/imashim-layer-XXXXXX";
  REQUIRE(::mkdtemp(tmpl) != nullptr);
  std::filesystem::path root(tmpl);
  for (const char* d : {"bin", "lib", "etc", "home/app"}) std::filesystem::create_directories(root / d);
  { std::ofstream(root / "bin/prog") << std::string("\x7f" "ELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x02\x00", 18); }
  { std::ofstream(root / "lib/libx.so.1") << std::string("\x7f" "ELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\x00", 18); }
  { std::ofstream(root / "etc/conf") << "x=1\n"; }
  { std::ofstream(root / "home/app/run.sh") << "#!/bin/sh\n"; }
  ::chmod((root / "bin/prog").c_str(), 0755);
  ::chmod((root / "lib/libx.so.1").c_str(), 0644);
  ::chmod((root / "home/app/run.sh").c_str(), 0750);
  if (::geteuid() == 0) REQUIRE(::chown((root / "home/app/run.sh").c_str(), 1000, 1000) == 0);
  std::filesystem::create_symlink("prog", root / "bin/sh");
  return root;
}
}  // namespace

TEST_CASE("generate: layer manifests give the same policy as a rootfs scan", "[policy][generate]") {
  auto root = make_layer_fixture();
  auto scanned = scan_rootfs(root);
  label::LabelOptions options;
  options.mode = label::LabelMode::check;  // the manifest only: no labels written
  options.jobs = 1;
  auto report = label::label_tree(root.string(), options);
  std::filesystem::remove_all(root);
  REQUIRE(scanned.ok());
  REQUIRE(report.ok());
  std::sort(scanned->begin(), scanned->end(), [](const auto& a, const auto& b) { return a.path < b.path; });
  auto from_manifests = image_files_from_manifests({report->manifest});
  REQUIRE(from_manifests.size() == scanned->size());
  for (auto mode : {PolicyMode::measure, PolicyMode::log, PolicyMode::enforce}) {
    INFO(policy_mode_name(mode));
    auto a = sample_input(mode), b = sample_input(mode);
    a.files = *scanned;
    b.files = from_manifests;
    auto ga = generate_policy(a), gb = generate_policy(b);
    REQUIRE(ga.ok());
    REQUIRE(gb.ok());
    CHECK(to_string(gb->policy, WithComments::yes) == to_string(ga->policy, WithComments::yes));
    if (mode == PolicyMode::enforce && ::geteuid() == 0)
      CHECK(text_of(*gb).find("appraise fowner=1000") != std::string::npos);
  }
}

TEST_CASE("generate: the topmost layer's manifest entry wins", "[policy][generate]") {
  auto entry = [](std::string path, std::uint32_t mode, std::uint32_t uid) {
    label::ManifestEntry e;
    e.path = std::move(path);
    e.mode = mode;
    e.uid = e.gid = uid;
    return e;
  };
  label::Manifest upper, lower;
  upper.entries = {entry("/bin/sh", 0100644, 1000), entry("/etc/app", 0100644, 0)};
  lower.entries = {entry("/bin/ls", 0100755, 0), entry("/bin/sh", 0100755, 0)};
  auto files = image_files_from_manifests({upper, lower});
  REQUIRE(files.size() == 3);
  CHECK(files[0].path == "/bin/ls");
  CHECK(files[1].path == "/bin/sh");
  CHECK(files[1].uid == 1000);
  CHECK_FALSE(files[1].executable());
  CHECK(files[2].path == "/etc/app");
  CHECK(image_files_from_manifests({}).empty());
}
