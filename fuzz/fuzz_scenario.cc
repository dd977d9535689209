// libFuzzer target: a scenario file (config/scenario_loader.h), as `coedge sim` reads one.
// Any input must give a Scenario or an Error, never a crash, hang, leak or sanitizer report.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/scenario_loader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  // Relative profile-set paths resolve against examples/ (its profiles/ load).
  (void)coedge::config::parse_scenario(text, "fuzz.yaml", COEDGE_FUZZ_BASE_DIR);
  return 0;
}
