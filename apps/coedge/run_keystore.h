// The keystore of one secure `coedge cluster` or `coedge demo` run (their default): a fresh
// one in the run's folder, <out>/keystore (replacing the previous run's there), holding every
// identity the run starts — the master's, and every node's and every node's camera
// process's (cluster_run starts one camera process per node) — and the label the run shows.
#pragma once

#include <cstdint>
#include <string>

#include "core/result.h"
#include "core/scenario.h"
#include "security/keystore.h"

namespace coedge::app {

Result<std::string> make_run_keystore(const std::string& out_dir, const Scenario& scenario,
                                      security::TopicProtection images);

// The highest domain id of a secure run: Cyclone 0.10's access-control parser refuses a
// governance or permissions document with a higher one (plain runs go up to 232).
inline constexpr uint32_t kMaxSecureDomain = 230;
Error secure_domain_error(uint32_t domain);  // kInvalidInput: "--domain N: ..."

// The --images option's protection: "sign", or "encrypt" (also when not given: the default).
security::TopicProtection images_protection(const std::string& images_option);

// "secure, images signed" / "secure, images encrypted".
std::string secure_label(security::TopicProtection images);

}  // namespace coedge::app
