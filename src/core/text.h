// Text a user types, read the same way everywhere: durations with a unit ("700ms",
// "1.3s"), plain milliseconds, and "did you mean" suggestions for misspelt names. Pure
// functions; used by the configuration files, the policy specs and the command line, so
// that a duration or a typo is answered in one voice whichever way it came in. Also the
// small formats every report shares (percent, xml_escape).
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/time.h"

namespace coedge {

// "700ms", "1.3s", "-2 min": a signed decimal with a unit (us, ms, s, min, h), converted
// exactly to microseconds (halves away from zero). The error is the reason only (no file
// or field), e.g. "needs a unit, e.g. '700ms' or '700s' (units: ...)".
Result<Duration> parse_signed_duration(std::string_view text);

// True when `text` is entirely a signed decimal without exponent: "650", "-1.25", "+.5".
bool is_plain_decimal(std::string_view text);

// A plain decimal number of milliseconds ("650", "1170.25"), converted exactly; nullopt
// when `text` is not is_plain_decimal() or is absurdly large (over about 31 years).
std::optional<Duration> parse_plain_ms(std::string_view text);

// 'text', cut after 60 characters: a message names a value, it does not repeat a block.
std::string quoted(std::string_view text);

// A rate as a percentage: percent(0.0576) is "5.76%", percent(0.0576, 0) "6%".
std::string percent(double rate, int decimals = 2);

// `text` with XML's five special characters as entities (&amp; &lt; &gt; &quot; &apos;),
// safe inside an element or an attribute value of either quote.
std::string xml_escape(std::string_view text);

// Edit distance (optimal string alignment: a swap of neighbours counts 1).
size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word` if it is close enough to be a likely typo, else "".
std::string closest(std::string_view word, std::span<const std::string> candidates);

// "a, b, c" or "a, b, ... (120 in all)": candidates sorted, at most `limit` shown.
std::string known_list(std::vector<std::string> names, size_t limit = 8);

}  // namespace coedge
