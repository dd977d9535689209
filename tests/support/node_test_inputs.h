// What the node integration tests share: whether the sandbox can run here (bubblewrap on
// PATH), a folder of three 320x240 pictures (binary PPM), each a different pattern of
// bright boxes on a gradient, so that a detector or a segmenter sees different things in
// each, and reading back what a run wrote (a whole file, or its non-empty lines).
// Header-only, test code only.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace coedge::test {

inline std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The file's non-empty lines (JSON-lines files end with a newline).
inline std::vector<std::string> read_lines(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

inline bool bwrap_available() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (!dir.empty() && ::access((dir + "/bwrap").c_str(), X_OK) == 0) return true;
  }
  return false;
}

inline void write_test_frames(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  for (int n = 0; n < 3; ++n) {
    const int w = 320, h = 240;
    std::string pixels(static_cast<size_t>(w * h * 3), '\0');
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        const size_t i = static_cast<size_t>((y * w + x) * 3);
        const bool box = ((x / (40 + 20 * n)) + (y / (30 + 10 * n))) % 3 == n;
        pixels[i] = static_cast<char>(box ? 250 : x * 255 / w);
        pixels[i + 1] = static_cast<char>(box ? 40 * n : y * 255 / h);
        pixels[i + 2] = static_cast<char>(box ? 255 - 60 * n : 128);
      }
    }
    std::ofstream out(dir / ("frame" + std::to_string(n) + ".ppm"), std::ios::binary);
    out << "P6\n" << w << " " << h << "\n255\n" << pixels;
  }
}

}  // namespace coedge::test
