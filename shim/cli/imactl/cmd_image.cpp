// imactl image label OCI_LAYOUT[:TAG]: labels inside an image's layer tarballs.
#include <iostream>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "imashim/label/oci_image.hpp"

namespace imashim::imactl {

namespace {

struct ImageLabelArgs {
  std::string ref;
  std::string algo = "sha256";
  std::string key, cert, manifest_dir;
  bool json = false;
};

int run_image_label(const ImageLabelArgs& a) {
  label::ImageLabelOptions o;
  auto algo = formats::hash_algo_from_name(a.algo);
  if (!algo || !formats::evp_md(*algo)) return report_error("--algo: unknown or unavailable hash algorithm `" + a.algo + "`");
  o.algo = *algo;
  if (a.key.empty() != a.cert.empty()) return report_error("--sign KEY and --cert CERT go together");
  if (!a.key.empty()) {
    auto s = label::Signer::load(a.key, a.cert);
    if (!s) return report_error(s.error().message());
    o.signer = std::make_shared<label::Signer>(std::move(*s));
  }
  o.manifest_dir = a.manifest_dir;
  auto [layout, tag] = label::split_layout_ref(a.ref);
  auto r = label::label_oci_image(layout, tag, o);
  if (!r) return report_error(r.error().message());
  if (a.json) {
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& l : r->layers)
      layers.push_back({{"old_digest", l.old_digest}, {"digest", l.new_digest}, {"diff_id", l.diff_id},
                        {"media_type", l.media_type}, {"entries", l.entries}, {"labelled", l.labelled}});
    nlohmann::json j = {{"ref", r->ref}, {"old_manifest", r->old_manifest}, {"manifest", r->new_manifest},
                        {"config", r->new_config}, {"layers", layers}};
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << fmt::format("{}: manifest {} -> {}\n", a.ref, r->old_manifest, r->new_manifest);
  for (const auto& l : r->layers)
    std::cout << fmt::format("  layer {} -> {}: {} files labelled ({} entries), diff_id {}\n", l.old_digest, l.new_digest,
                             l.labelled, l.entries, l.diff_id);
  return kExitOk;
}

}  // namespace

void add_image_command(CLI::App& app, Action& action) {
  auto* image = app.add_subcommand("image", "Work on OCI image layouts");
  image->require_subcommand(1);
  auto args = std::make_shared<ImageLabelArgs>();
  auto* lab = image->add_subcommand("label", "Rewrite an image's layers with security.ima in SCHILY.xattr PAX records");
  lab->add_option("OCI_LAYOUT[:TAG]", args->ref, "The OCI image layout directory and the image's tag")->required();
  lab->add_option("--algo", args->algo, "Hash algorithm")->capture_default_str();
  lab->add_option("--sign", args->key, "Write v2 signatures made with this PEM private key (RSA or EC)");
  lab->add_option("--cert", args->cert, "The key's X.509 certificate");
  lab->add_option("--manifest-dir", args->manifest_dir, "Write each layer's manifest here as <diff_id>.manifest");
  lab->add_flag("--json", args->json, "Print the result as JSON");
  lab->callback([args, &action] { action = [args] { return run_image_label(*args); }; });
}

}  // namespace imashim::imactl
