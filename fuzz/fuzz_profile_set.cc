// libFuzzer target: a profile-set file (config/profile_reader.h), as `coedge sim` and
// `coedge node --profiles` read one.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/profile_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  (void)coedge::config::internal::parse_profile_set_text(text, "fuzz.yaml");
  return 0;
}
