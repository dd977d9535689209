#include "run_keystore.h"

#include <filesystem>
#include <system_error>

namespace coedge::app {

Result<std::string> make_run_keystore(const std::string& out_dir, const Scenario& scenario,
                                      security::TopicProtection images) {
  const std::string dir = out_dir + "/keystore";
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (ec) return Error{ErrorCode::kIo, "cannot remove the previous run's keystore " + dir + ": " + ec.message()};
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return Error{ErrorCode::kIo, "cannot create " + out_dir + ": " + ec.message()};
  security::KeystoreOptions options;
  options.images = images;
  if (Status st = security::create_keystore(dir, options); !st.ok()) return st.error();
  if (Status st = security::add_identity(dir, security::Role::kMaster, ""); !st.ok()) return st.error();
  for (const NodeSpec& n : scenario.nodes) {
    for (security::Role role : {security::Role::kNode, security::Role::kCamera}) {
      if (Status st = security::add_identity(dir, role, n.name); !st.ok()) return st.error();
    }
  }
  return dir;
}

Error secure_domain_error(uint32_t domain) {
  return Error{ErrorCode::kInvalidInput, "--domain " + std::to_string(domain) + ": DDS Security takes domain ids 0-" +
                                             std::to_string(kMaxSecureDomain) +
                                             " (Cyclone's access control refuses higher ones)"};
}

security::TopicProtection images_protection(const std::string& images_option) {
  return images_option == "sign" ? security::TopicProtection::kSign : security::TopicProtection::kEncrypt;
}

std::string secure_label(security::TopicProtection images) {
  return std::string("secure, images ") + (images == security::TopicProtection::kEncrypt ? "encrypted" : "signed");
}

}  // namespace coedge::app
