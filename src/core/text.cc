#include "core/text.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>

namespace coedge {
namespace {

constexpr std::string_view kUnitHelp = "units: us, ms, s, min, h";

// A signed decimal "12", "-1.25", "+.5", split into its parts. No exponent: the files
// we write never use one, and exact decimal conversion needs the digits.
struct Decimal {
  bool negative = false;
  std::string_view whole;     // digits before the point
  std::string_view fraction;  // digits after it
};

std::optional<Decimal> split_decimal(std::string_view text, size_t* end) {
  Decimal d;
  size_t i = 0;
  if (i < text.size() && (text[i] == '-' || text[i] == '+')) d.negative = text[i++] == '-';
  const size_t whole_start = i;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
  d.whole = text.substr(whole_start, i - whole_start);
  if (i < text.size() && text[i] == '.') {
    const size_t frac_start = ++i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    d.fraction = text.substr(frac_start, i - frac_start);
  }
  if (d.whole.empty() && d.fraction.empty()) return std::nullopt;
  *end = i;
  return d;
}

// value * unit_us rounded to the nearest microsecond (halves away from zero), computed
// in integers so "1.3s" is exactly 1300000us. nullopt when it is absurdly large.
std::optional<int64_t> decimal_to_us(const Decimal& d, int64_t unit_us) {
  // 10^15 us is about 31 years: far beyond any run, and far from overflow below.
  constexpr unsigned __int128 kMaxUs = 1'000'000'000'000'000ULL;
  std::string_view whole = d.whole;
  while (whole.size() > 1 && whole.front() == '0') whole.remove_prefix(1);
  if (whole.size() > 16) return std::nullopt;
  // Digits past the 12th cannot change the microsecond count even for hours.
  std::string_view fraction = d.fraction.substr(0, std::min<size_t>(d.fraction.size(), 12));
  unsigned __int128 scale = 1;
  unsigned __int128 n = 0;
  for (char c : whole) n = n * 10 + static_cast<unsigned>(c - '0');
  for (char c : fraction) {
    n = n * 10 + static_cast<unsigned>(c - '0');
    scale *= 10;
  }
  const unsigned __int128 us =
      (n * static_cast<unsigned __int128>(unit_us) * 2 + scale) / (scale * 2);
  if (us > kMaxUs) return std::nullopt;
  const auto value = static_cast<int64_t>(us);
  return d.negative ? -value : value;
}

std::optional<int64_t> unit_us(std::string_view unit) {
  if (unit == "us") return 1;
  if (unit == "ms") return 1000;
  if (unit == "s") return 1000000;
  if (unit == "min") return 60000000;
  if (unit == "h") return 3600000000LL;
  return std::nullopt;
}

}  // namespace

std::string quoted(std::string_view text) {
  constexpr size_t kMax = 60;
  if (text.size() > kMax) return "'" + std::string(text.substr(0, kMax)) + "...'";
  return "'" + std::string(text) + "'";
}

Result<Duration> parse_signed_duration(std::string_view text) {
  auto fail = [](std::string reason) { return Error{ErrorCode::kInvalidInput, std::move(reason)}; };
  if (text.empty()) return fail("expected a duration such as '700ms' (" + std::string(kUnitHelp) + ")");
  size_t end = 0;
  std::optional<Decimal> d = split_decimal(text, &end);
  if (!d) {
    return fail("expected a duration: a number with a unit such as '700ms' (" +
                std::string(kUnitHelp) + ")");
  }
  std::string_view unit = text.substr(end);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);  // "100 ms" is fine
  if (unit.empty()) {
    return fail("needs a unit, e.g. '" + std::string(text) + "ms' or '" + std::string(text) +
                "s' (" + std::string(kUnitHelp) + ")");
  }
  std::optional<int64_t> scale = unit_us(unit);
  if (!scale) {
    return fail("unknown unit " + quoted(unit) + " (" + std::string(kUnitHelp) + ")");
  }
  std::optional<int64_t> us = decimal_to_us(*d, *scale);
  if (!us) return fail("is too large (at most about 31 years)");
  return Duration(*us);
}

bool is_plain_decimal(std::string_view text) {
  size_t end = 0;
  return split_decimal(text, &end) && end == text.size();
}

std::optional<Duration> parse_plain_ms(std::string_view text) {
  size_t end = 0;
  std::optional<Decimal> d = split_decimal(text, &end);
  if (!d || end != text.size()) return std::nullopt;
  std::optional<int64_t> us = decimal_to_us(*d, 1000);
  if (!us) return std::nullopt;
  return Duration(*us);
}

size_t edit_distance(std::string_view a, std::string_view b) {
  // Optimal string alignment with three rolling rows.
  std::vector<size_t> prev2(b.size() + 1), prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        cur[j] = std::min(cur[j], prev2[j - 2] + 1);
    }
    std::swap(prev2, prev);
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string closest(std::string_view word, std::span<const std::string> candidates) {
  // Longer words tolerate a few slips, but never so many that the hint is a guess rather
  // than a correction; in names of three letters or fewer ("n3" vs "n1") any hint is.
  if (word.size() <= 3) return {};
  const size_t limit = word.size() <= 6 ? 2 : 3;
  std::string best;
  size_t best_distance = limit + 1;
  for (const std::string& c : candidates) {
    const size_t d = edit_distance(word, c);
    if (d < best_distance && d < c.size()) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

std::string known_list(std::vector<std::string> names, size_t limit) {
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  if (names.empty()) return "none";
  std::string out;
  for (size_t i = 0; i < names.size() && i < limit; ++i) {
    if (i > 0) out += ", ";
    out += names[i];
  }
  if (names.size() > limit) out += ", ... (" + std::to_string(names.size()) + " in all)";
  return out;
}

std::string percent(double rate, int decimals) {
  char b[48];
  std::snprintf(b, sizeof b, "%.*f%%", decimals, 100 * rate);
  return b;
}

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace coedge
