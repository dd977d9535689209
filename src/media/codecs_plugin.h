// media::codecs(): the image and video codecs of the plugin (codecs.h), loaded on the
// first call.
//
// Where the plugin is looked for, in order: the path set_plugin_path() named (then nothing
// else; apps/ set it from the COEDGE_MEDIA_PLUGIN variable); next to the program,
// ../lib/coedge/coedge_media_opencv.so (the build tree's and an install's layout); the
// build tree this was compiled in, for that build tree's own programs only (test programs live
// outside bin/; an installed program never falls back to a build tree). The error names every
// place tried, or the loader's message.
//
// Thread-safe: the first caller loads, the others wait for it; the result is kept for the
// life of the process (the plugin is never unloaded).
#pragma once

#include <string>
#include <vector>

#include "core/result.h"
#include "media/codecs.h"

namespace coedge::media {

// Errors (kNotFound): no plugin where it was looked for, a plugin that does not load (the
// loader's message), or one without this version's entry point.
Result<const Codecs*> codecs();

// Names the plugin file to load (empty: look in the usual places). Call it before the
// first codecs().
void set_plugin_path(std::string path);

// The places codecs() looks, in order (see above).
std::vector<std::string> plugin_places();

// Loads the plugin from the first of `places` that exists, uncached (codecs() is this over
// plugin_places(), once). Errors as codecs()'s.
Result<const Codecs*> load_codecs(const std::vector<std::string>& places);

}  // namespace coedge::media
