// imactl log show|replay: read a binary measurement log, print it as the kernel's
// ascii text, replay it into PCR banks and compare with a TPM's values.
#include <nlohmann/json.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "imashim/formats/measurement_log.hpp"

namespace imashim::imactl {
namespace {

using namespace imashim::formats;
using nlohmann::json;

struct LogSource {
  std::string file;
  bool kernel = false;
  bool big_endian = false;
  bool draft = false;
  bool json = false;

  void add_options(CLI::App* cmd) {
    cmd->add_option("file", file, "binary_runtime_measurements file");
    cmd->add_flag("--kernel", kernel, "read " + std::string(kKernelBinaryLog));
    cmd->add_flag("--big-endian", big_endian, "the log's integers are big-endian (default: this host's order)");
    cmd->add_flag("--namespace-draft", draft,
                  "ima, ima-ng and ima-sig mean the 2017 namespace draft's nid|fi|dev|... layouts");
    cmd->add_flag("--json", json, "print JSON");
  }
  Result<Bytes> read() const {
    if (kernel == !file.empty()) return fail("give a log FILE or --kernel (one of them)");
    std::string path = kernel ? std::string(kKernelBinaryLog) : file;
    return read_whole_file(path);
  }
  std::string name() const { return kernel ? std::string(kKernelBinaryLog) : file; }
  LogReadOptions options() const {
    LogReadOptions o;
    if (big_endian) o.order = ByteOrder::big;
    if (draft) o.templates = TemplateSet::namespace_draft;
    return o;
  }
};

json entry_json(const EntryView& e) {
  json fields = json::object();
  for (std::size_t i = 0; i < e.desc->fields.size(); ++i) {
    std::string text;
    append_field_ascii(text, *e.desc->fields[i], e.fields[i]);
    fields[std::string(e.desc->fields[i]->id)] = text;
  }
  json j{{"index", e.index},
         {"offset", e.offset},
         {"pcr", e.pcr},
         {"template_digest", to_hex(e.template_digest)},
         {"template", std::string(e.template_name)},
         {"fields", fields},
         {"violation", e.is_violation()}};
  if (auto p = e.path(); !p.empty()) j["path"] = std::string(p);
  if (auto d = e.file_digest(); d.ok()) {
    j["digest"] = to_hex(d->digest);
    if (d->algo) j["algo"] = std::string(hash_algo_name(*d->algo));
  }
  return j;
}

int run_show(const LogSource& src) {
  auto log = src.read();
  if (!log) return report_error(log.error().message());
  LogReader r(*log, src.options());
  std::string out;
  json entries = json::array();
  for (;;) {
    auto e = r.next();
    if (!e) return report_error(src.name() + ": " + e.error().message());
    if (!*e) break;
    if (src.json)
      entries.push_back(entry_json(**e));
    else
      append_ascii_entry(out, **e);
  }
  if (src.json)
    std::cout << entries.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  else
    std::cout << out;
  return kExitOk;
}

struct ReplayArgs {
  std::vector<std::string> pcr_files;
  std::vector<std::string> pcr_values;
  std::vector<std::string> banks;
};

Result<PcrValues> expected_values(const ReplayArgs& a) {
  PcrValues want;
  for (const auto& spec : a.pcr_files) {
    // evmctl's "[hash-algorithm,]file"
    std::optional<HashAlgo> bank;
    std::string path = spec;
    if (auto comma = spec.find(','); comma != std::string::npos) {
      bank = hash_algo_from_name(spec.substr(0, comma));
      if (!bank) return fail(fmt::format("--pcrs {}: unknown bank '{}'", spec, spec.substr(0, comma)));
      path = spec.substr(comma + 1);
    }
    IMASHIM_TRY(Bytes text, read_whole_file(path));
    auto v = parse_pcr_text(std::string_view(reinterpret_cast<const char*>(text.data()), text.size()), bank);
    if (!v) return std::move(v).with_context(path);
    for (auto& [algo, pcrs] : *v)
      for (auto& [i, val] : pcrs) want[algo][i] = val;
  }
  for (const auto& arg : a.pcr_values) IMASHIM_TRY_VOID(parse_pcr_arg(arg, want));
  return want;
}

json problem_json(const EntryProblem& p) {
  return {{"index", p.index}, {"offset", p.offset}, {"path", p.path}, {"problem", p.what}};
}

std::string problem_text(const EntryProblem& p) {
  return fmt::format("entry {} at byte {}{}: {}", p.index, p.offset, p.path.empty() ? "" : " (" + p.path + ")",
                     p.what);
}

void print_replay(const ReplayResult& r, bool compared) {
  std::cout << fmt::format("entries: {} (violations: {})\n", r.entries, r.violations);
  std::cout << format_pcrs_tpm2(r.banks);
  std::size_t quiet = 0;
  for (const auto& c : r.checks) {
    if (c.match) {
      const PcrBank* b = find_bank(r.banks, c.bank);
      if (b && b->values().count(c.pcr))
        std::cout << fmt::format("{} PCR {}: matches\n", hash_algo_name(c.bank), c.pcr);
      else
        ++quiet;  // a PCR the log does not extend, expected all zero
      continue;
    }
    std::cout << fmt::format("{} PCR {}: MISMATCH: expected {}, log replays to {}\n", hash_algo_name(c.bank), c.pcr,
                             to_hex(c.expected), to_hex(c.computed));
  }
  if (quiet) std::cout << fmt::format("{} PCR values the log does not extend match (zero)\n", quiet);
  if (r.first_bad_entry) std::cout << "corrupt entry: " << problem_text(*r.first_bad_entry) << "\n";
  if (compared && !r.ok() && !r.first_bad_entry) {
    if (r.first_divergent)
      std::cout << "first divergent entry: " << problem_text(*r.first_divergent) << "\n";
    else
      std::cout << "first divergent entry: unknown: no prefix of the log reproduces the expected value "
                   "(the log belongs to another boot, or an entry's PCR index was altered)\n";
  }
}

json replay_json(const ReplayResult& r) {
  json banks = json::object();
  for (const auto& b : r.banks) {
    json pcrs = json::object();
    for (const auto& [i, v] : b.values()) pcrs[std::to_string(i)] = to_hex(v);
    banks[std::string(hash_algo_name(b.algo()))] = pcrs;
  }
  json checks = json::array();
  for (const auto& c : r.checks) {
    json j{{"bank", std::string(hash_algo_name(c.bank))}, {"pcr", c.pcr}, {"expected", to_hex(c.expected)},
           {"computed", to_hex(c.computed)}, {"match", c.match}};
    if (c.matching_prefix) j["matching_prefix"] = *c.matching_prefix;
    checks.push_back(j);
  }
  json j{{"entries", r.entries}, {"violations", r.violations}, {"banks", banks}, {"checks", checks}, {"ok", r.ok()}};
  j["first_bad_entry"] = r.first_bad_entry ? problem_json(*r.first_bad_entry) : json(nullptr);
  j["first_divergent"] = r.first_divergent ? problem_json(*r.first_divergent) : json(nullptr);
  return j;
}

int run_replay(const LogSource& src, const ReplayArgs& a) {
  auto log = src.read();
  if (!log) return report_error(log.error().message());
  auto want = expected_values(a);
  if (!want) return report_error(want.error().message());
  ReplayOptions opts;
  opts.read = src.options();
  if (!a.banks.empty()) {
    opts.banks.clear();
    for (const auto& b : a.banks) {
      auto algo = hash_algo_from_name(b);
      if (!algo) return report_error("--bank: unknown hash algorithm '" + b + "'");
      opts.banks.push_back(*algo);
    }
  }
  bool compared = !want->empty();
  auto r = compared ? verify_log(*log, *want, opts) : replay_log(*log, opts);
  if (!r) return report_error(src.name() + ": " + r.error().message());
  if (src.json)
    std::cout << replay_json(*r).dump(2, ' ', false, json::error_handler_t::replace) << "\n";
  else
    print_replay(*r, compared);
  return r->ok() ? kExitOk : kExitFailed;
}

struct AppendArgs {
  std::string binary, ascii, tmpl = "ima-ng", algo = "sha256";
  std::vector<std::string> files, pcrs_out;
  bool violation = false, boot_aggregate = false, big_endian = false;
  std::uint32_t pcr = kImaPcr;
};

Result<void> write_pcr_outputs(const MeasurementLogAppender& app, const std::vector<std::string>& specs) {
  for (const auto& spec : specs) {
    auto comma = spec.find(',');
    if (comma == std::string::npos) return fail("--pcrs-out " + spec + ": expected BANK,FILE");
    auto bank = hash_algo_from_name(spec.substr(0, comma));
    if (!bank) return fail("--pcrs-out " + spec + ": unknown bank");
    IMASHIM_TRY_VOID(app.write_pcrs_evmctl(spec.substr(comma + 1), *bank));
  }
  return {};
}

Result<void> append_files(const AppendArgs& a) {
  IMASHIM_TRY(TemplatePtr desc, resolve_template(a.tmpl));
  auto algo = hash_algo_from_name(a.algo);
  if (!algo) return fail("--algo: unknown hash algorithm '" + a.algo + "'");
  MeasurementLogAppender::Options opts;
  if (a.big_endian) opts.order = ByteOrder::big;
  for (const auto& spec : a.pcrs_out) {
    auto bank = hash_algo_from_name(spec.substr(0, spec.find(',')));
    if (bank && std::find(opts.banks.begin(), opts.banks.end(), *bank) == opts.banks.end()) opts.banks.push_back(*bank);
  }
  IMASHIM_TRY(auto app, MeasurementLogAppender::open(a.binary, a.ascii, opts));
  if (a.boot_aggregate) {
    IMASHIM_TRY(LogEntry e, boot_aggregate_entry(desc, *algo, Bytes(digest_size(*algo), 0)));
    if (auto r = app.append(e); !r) return std::move(r).with_context("boot_aggregate");
  }
  for (const auto& f : a.files) {
    Measurement m;
    m.path = f;
    m.algo = *algo;
    m.pcr = a.pcr;
    m.violation = a.violation;
    if (!a.violation) {
      IMASHIM_TRY(Bytes content, read_whole_file(f));
      IMASHIM_TRY(m.digest, hash_bytes(*algo, content));
    }
    auto r = app.append(desc, m);
    if (!r) return std::move(r).with_context(f);
  }
  IMASHIM_TRY_VOID(write_pcr_outputs(app, a.pcrs_out));
  std::cout << fmt::format("entries: {}\n", app.entries()) << format_pcrs_tpm2(app.banks());
  return {};
}

}  // namespace

void add_log_command(CLI::App& app, Action& action) {
  auto* log = app.add_subcommand("log", "Read and verify IMA measurement logs");
  log->require_subcommand(1);

  auto show_src = std::make_shared<LogSource>();
  auto* show = log->add_subcommand("show", "Print a binary measurement log as the kernel's ascii text");
  show_src->add_options(show);
  show->callback([&action, show_src] { action = [show_src] { return run_show(*show_src); }; });

  auto replay_src = std::make_shared<LogSource>();
  auto args = std::make_shared<ReplayArgs>();
  auto* replay = log->add_subcommand(
      "replay", "Replay a binary log into PCR banks; with --pcrs/--pcr, compare (exit 1 on mismatch)");
  replay_src->add_options(replay);
  replay->add_option("--pcrs", args->pcr_files,
                     "[BANK,]FILE of expected PCRs: evmctl/TPM 1.2 'PCR-NN: hex' lines, tpm2_pcrread output, or a "
                     "bare hex value (sysfs pcr-BANK/10); repeatable")->allow_extra_args(false);
  replay->add_option("--pcr", args->pcr_values, "BANK:HEX or BANK:INDEX:HEX (index 10 if omitted); repeatable")->allow_extra_args(false);
  replay->add_option("--bank", args->banks, "banks to replay (default sha1 and sha256); repeatable")->allow_extra_args(false);
  replay->callback([&action, replay_src, args] { action = [replay_src, args] { return run_replay(*replay_src, *args); }; });

  auto app_args = std::make_shared<AppendArgs>();
  auto* append = log->add_subcommand(
      "append", "Measure files and append them to a binary + ascii log pair (created if missing)");
  append->add_option("--binary", app_args->binary, "binary_runtime_measurements file")->required();
  append->add_option("--ascii", app_args->ascii, "ascii_runtime_measurements file")->required();
  append->add_option("--template", app_args->tmpl, "template name or format (default ima-ng)");
  append->add_option("--algo", app_args->algo, "file digest algorithm (default sha256)");
  append->add_option("--pcr", app_args->pcr, "PCR index (default 10)");
  append->add_flag("--violation", app_args->violation, "log the files as violations (zero digest)");
  append->add_flag("--boot-aggregate", app_args->boot_aggregate, "first append a boot_aggregate entry (no TPM: zeros)");
  append->add_flag("--big-endian", app_args->big_endian, "write big-endian integers");
  append->add_option("--pcrs-out", app_args->pcrs_out, "BANK,FILE: write that bank in evmctl --pcrs format")->allow_extra_args(false);
  append->add_option("files", app_args->files, "files to measure");
  append->callback([&action, app_args] {
    action = [app_args] {
      auto r = append_files(*app_args);
      return r ? kExitOk : report_error(r.error().message());
    };
  });
}

}  // namespace imashim::imactl
