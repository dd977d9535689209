#!/usr/bin/python3
"""Checks that every #include in src/, sdk/ and apps/ stays inside the including target's
link dependencies: a file of target T may include a header of target L only if T is L or
links L (directly or through other targets, PUBLIC or PRIVATE: the transitive closure of
target_link_libraries among our own targets). All of src/ is one include root, so the
compiler alone lets any file include any layer; this is what keeps a lower layer from
reaching up (docs/ARCHITECTURE.md: a folder is a layer, dependencies point downwards).

The truth about targets comes from CMake, not from a table kept here: the top-level
CMakeLists.txt writes build/layers.json at configure time (file(GENERATE)), one entry per
coedge* target with its TYPE, SOURCE_DIR, SOURCES and LINK_LIBRARIES (CMake lists, kept
as ;-separated strings).

Which target a file belongs to (first rule that applies):
  1. a file listed in a target's SOURCES belongs to that target;
  2. a header foo.h with a sibling foo.cc/.cpp/.c belongs to the owner of that source;
  3. any other header belongs to the lowest of the targets whose files in the same folder
     include it (lowest: the one all the others link), so a header-only file used by
     one library of a folder with several is judged as that library's;
  4. failing that, to the lowest target owning sources in its folder; a folder with no
     source file at all borrows from the nearest parent folder that has some
     (sdk/include/coedge/worker.h -> sdk/ -> the SDK). A file still without an owner
     (a source no target lists: dead code, tests, examples) is reported on stderr and
     not checked.
When no single lowest target exists (two unrelated libraries in one folder), the file
belongs to all of them: including it needs a link to any one, and its own includes are
checked against each.

An include is resolved the way the compiler would: "quoted" first next to the including
file, then in the include roots (src/ and sdk/include/); <angled> in the include roots
only. Includes that resolve to nothing in the tree (system, third-party, generated
headers) are not ours to check. Comments are skipped; conditional compilation is not
evaluated (an #include under #if counts).

Exit status: 0 no violation (one summary line), 1 violations (one line each), 2 bad input.
Runs with the standard library only (/usr/bin/python3).
"""
import argparse
import json
import os
import re
import sys

SOURCE_EXTS = (".cc", ".cpp", ".cxx", ".c")
HEADER_EXTS = (".h", ".hh", ".hpp", ".hxx", ".inl")
DEFAULT_DIRS = ("src", "sdk", "apps")
DEFAULT_INCLUDE_ROOTS = ("src", "sdk/include")
INCLUDE_RE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
NAME_RE = re.compile(r"[A-Za-z0-9_.+-]+")
# Plugins (CMake MODULEs dlopen'ed by a library of ours) link none of our libraries: they
# implement a header-only interface of the library that loads them, reached through the
# src/ include root. Each may include exactly these headers (paths from the repository
# root) and no other header of ours. coedge_media_opencv needs no entry: its interface,
# media/codecs.h, sits in the plugin's own folder (rule 3 above makes it its header too).
PLUGIN_INTERFACES = {
    "coedge_infer_torch": ("src/infer/torch_plugin.h",),
}


class BadInput(Exception):
    """Input the check cannot work from: reported with exit status 2."""


def split_list(value):
    """A CMake list (;-separated string) or a JSON array, as a list of non-empty items."""
    if isinstance(value, list):
        items = value
    elif isinstance(value, str):
        items = value.split(";")
    else:
        raise BadInput(f"expected a string or a list, got {type(value).__name__}")
    return [item.strip() for item in items if isinstance(item, str) and item.strip()]


def load_layers(path, root):
    """Reads the layers file into {target: {"type", "sources", "links"}} (sources absolute
    and normalised; links: every item, filtered to our targets by the caller)."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file (configure first: cmake --preset default, "
                       "which writes it; or pass --layers)") from None
    except (OSError, UnicodeDecodeError) as e:
        raise BadInput(f"{path}: cannot read: {e}") from None
    except json.JSONDecodeError as e:
        raise BadInput(f"{path}:{e.lineno}: not valid JSON: {e.msg}") from None
    if not isinstance(data, dict) or not isinstance(data.get("targets"), dict):
        raise BadInput(f'{path}: expected an object with a "targets" object')
    if not data["targets"]:
        raise BadInput(f"{path}: lists no targets")
    # Sources are absolute paths of the tree CMake configured: checking another tree with
    # them would find every file ownerless and pass. Refuse instead.
    described = data.get("source_root")
    if isinstance(described, str) and os.path.realpath(described) != os.path.realpath(root):
        raise BadInput(f"{path} describes the tree {described}, not {root} "
                       "(pass --root, or --layers from a build of this tree)")
    targets = {}
    for name, entry in data["targets"].items():
        if not isinstance(entry, dict):
            raise BadInput(f"{path}: target {name}: expected an object")
        try:
            source_dir = entry.get("source_dir") or root
            if not isinstance(source_dir, str):
                raise BadInput("source_dir: expected a string")
            source_dir = os.path.join(root, source_dir)  # no-op when already absolute
            sources = set()
            for item in split_list(entry.get("sources", "")):
                # An unevaluated generator expression ($<TARGET_OBJECTS:...>) names no file
                # of ours; objects and generated files outside the tree are dropped later.
                if "$<" in item:
                    continue
                sources.add(os.path.realpath(os.path.join(source_dir, item)))
            links = split_list(entry.get("link_libraries", ""))
        except BadInput as e:
            raise BadInput(f"{path}: target {name}: {e}") from None
        targets[name] = {"type": entry.get("type", ""), "sources": sources, "links": links}
    return targets


def direct_links(targets):
    """Our targets each target names in its LINK_LIBRARIES. Items are kept only when they
    are targets of the layers file; a generator expression counts for every target name
    it mentions (a conditional link is a link for layering purposes). CMake's
    "::@(directory-id)" markers are not names and fall out with the filter."""
    result = {}
    for name, t in targets.items():
        deps = set()
        for item in t["links"]:
            if item in targets:
                deps.add(item)
            elif "$<" in item:
                deps.update(tok for tok in NAME_RE.findall(item) if tok in targets)
        deps.discard(name)
        result[name] = deps
    return result


def closure(direct):
    """Transitive closure of the link graph (cycles are tolerated)."""
    result = {}
    for start in direct:
        seen, stack = set(), list(direct[start])
        while stack:
            t = stack.pop()
            if t not in seen:
                seen.add(t)
                stack.extend(direct.get(t, ()))
        seen.discard(start)
        result[start] = seen
    return result


def lowest(candidates, links):
    """The one candidate that every other candidate links, else None."""
    found = [c for c in candidates if all(c == o or c in links[o] for o in candidates)]
    return found[0] if len(found) == 1 else None


def strip_comments(text):
    """The text with // and /* */ comments blanked out (newlines kept, so line numbers
    stay right). String literals are honoured so a "//" inside one is not a comment."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == "/" and i + 1 < n and text[i + 1] == "/":
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif c == "/" and i + 1 < n and text[i + 1] == "*":
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def read_includes(path):
    """[(line, delimiter, name)] of the file's #include directives."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError as e:
        raise BadInput(f"{path}: cannot read: {e}") from None
    result = []
    for number, line in enumerate(strip_comments(text).split("\n"), 1):
        m = INCLUDE_RE.match(line)
        if m:
            result.append((number, m.group(1), m.group(2)))
    return result


def resolve(include_dir_first, name, include_roots):
    """The file an include names, as the compiler would find it, or None."""
    dirs = ([include_dir_first] if include_dir_first else []) + list(include_roots)
    for d in dirs:
        candidate = os.path.realpath(os.path.join(d, name))
        if os.path.isfile(candidate):
            return candidate
    return None


def scan(root, dirs):
    """Every source and header under the scanned folders (sorted, absolute)."""
    files = []
    for d in dirs:
        top = os.path.join(root, d)
        if not os.path.isdir(top):
            raise BadInput(f"{top}: no such folder (wrong --root or --dir?)")
        for folder, subdirs, names in os.walk(top):
            subdirs.sort()
            for n in sorted(names):
                if n.endswith(SOURCE_EXTS + HEADER_EXTS):
                    files.append(os.path.join(folder, n))
    return files


def assign_owners(root, files, includes, targets, links):
    """{file: sorted tuple of owning targets} by the rules in this file's docstring."""
    owners = {}
    for name, t in targets.items():
        for s in t["sources"]:
            owners.setdefault(s, set()).add(name)
    # Rule 1: listed. Several lists for one file: the lowest of them, else all of them.
    owner = {}
    for f in files:
        if f in owners:
            cands = sorted(owners[f])
            low = lowest(cands, links)
            owner[f] = (low,) if low else tuple(cands)
    # Rule 2: the sibling source's owner.
    for f in files:
        if f not in owner and f.endswith(HEADER_EXTS):
            stem = os.path.splitext(f)[0]
            for ext in SOURCE_EXTS:
                if stem + ext in owner:
                    owner[f] = owner[stem + ext]
                    break
    # Rule 3: the lowest includer in the same folder; repeated until nothing changes,
    # since an includer may itself be a header that only got its owner this way.
    # Rules 3 and 4 are for headers only: a source no target lists is compiled by none
    # (dead, or a test's), so it has no links to be judged against.
    headers = [f for f in files if f.endswith(HEADER_EXTS)]
    changed = True
    while changed:
        changed = False
        for f in headers:
            if f in owner:
                continue
            folder = os.path.dirname(f)
            cands = set()
            for g in files:
                if g in owner and os.path.dirname(g) == folder and f in includes[g]:
                    cands.update(owner[g])
            if cands:
                cands = sorted(cands)
                low = lowest(cands, links)
                owner[f] = (low,) if low else tuple(cands)
                changed = True
    # Rule 4: the folder's lowest target, or the nearest parent folder's. Only a folder
    # with no source files at all (headers only, like sdk/include/coedge) borrows from a
    # parent: sources no target lists (tests, examples) stay ownerless rather than be
    # charged to whatever target lives further up.
    by_folder = {}
    for f in owner:
        if f in owners:  # only files a target actually lists define a folder's targets
            by_folder.setdefault(os.path.dirname(f), set()).update(owners[f])
    has_sources = {os.path.dirname(f) for f in files if f.endswith(SOURCE_EXTS)}
    for f in headers:
        if f in owner:
            continue
        folder = os.path.dirname(f)
        while (folder not in by_folder and folder not in has_sources and folder != root
               and folder != os.path.dirname(folder)):
            folder = os.path.dirname(folder)
        if folder in by_folder:
            cands = sorted(by_folder[folder])
            low = lowest(cands, links)
            owner[f] = (low,) if low else tuple(cands)
    return owner


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    default_root = os.path.dirname(here)
    parser = argparse.ArgumentParser(
        description="Check that every #include in src/, sdk/ and apps/ stays within the "
                    "including CMake target's link dependencies (docs/ARCHITECTURE.md).",
        epilog="Exit status: 0 clean, 1 violations found, 2 bad input. The layers file is "
               "written by CMake at configure time (top-level CMakeLists.txt).")
    parser.add_argument("--layers", metavar="FILE",
                        help="the targets file CMake writes (default: ROOT/build/layers.json)")
    parser.add_argument("--root", metavar="DIR", default=default_root,
                        help="the source tree (default: this script's parent folder, %(default)s)")
    parser.add_argument("--dir", metavar="DIR", action="append", dest="dirs",
                        help="a folder to check, relative to ROOT; repeatable "
                             f"(default: {' '.join(DEFAULT_DIRS)})")
    parser.add_argument("--include-root", metavar="DIR", action="append", dest="include_roots",
                        help="an include root, relative to ROOT; repeatable "
                             f"(default: {' '.join(DEFAULT_INCLUDE_ROOTS)})")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="also print each file's owning target and each target's links")
    args = parser.parse_args(argv)

    try:
        # Real paths throughout, so a symlinked checkout still matches CMake's paths.
        root = os.path.realpath(args.root)
        if not os.path.isdir(root):
            raise BadInput(f"{root}: no such folder (--root)")
        layers = args.layers or os.path.join(root, "build", "layers.json")
        include_roots = [os.path.join(root, d) for d in (args.include_roots or DEFAULT_INCLUDE_ROOTS)]
        targets = load_layers(layers, root)
        direct = direct_links(targets)
        links = closure(direct)
        files = scan(root, args.dirs or DEFAULT_DIRS)
        fileset = set(files)
        includes_at = {f: read_includes(f) for f in files}
        # What each file includes, resolved; only files of the checked tree matter.
        resolved = {}
        for f in files:
            resolved[f] = []
            for line, delim, name in includes_at[f]:
                target = resolve(os.path.dirname(f) if delim == '"' else None, name, include_roots)
                if target in fileset:
                    resolved[f].append((line, name, target))
        includes = {f: {t for _, _, t in resolved[f]} for f in files}
        owner = assign_owners(root, files, includes, targets, links)
    except BadInput as e:
        print(f"check_layers: {e}", file=sys.stderr)
        return 2

    rel = lambda p: os.path.relpath(p, root)
    # The targets worth naming in a message: those that own files (not coedge_warnings).
    layer_targets = {t for o in owner.values() for t in o}
    if args.verbose:
        for t in sorted(layer_targets):
            print(f"target {t} links: {', '.join(sorted(links[t] & layer_targets)) or '-'}")
        for f in files:
            print(f"owner {rel(f)}: {' | '.join(owner.get(f, ('-',)))}")

    violations, checked, unowned = [], 0, set()
    for f in files:
        if f not in owner:
            unowned.add(f)
            continue
        for line, name, target in resolved[f]:
            if target not in owner:
                unowned.add(target)
                continue
            checked += 1
            needed = owner[target]
            for t in owner[f]:
                if os.path.relpath(target, root) in PLUGIN_INTERFACES.get(t, ()):
                    continue  # a plugin's header-only interface (PLUGIN_INTERFACES)
                # Linking any one owner of the included file is enough (rule for files
                # shared by unrelated libraries); the including target may be one of them.
                if any(n == t or n in links[t] for n in needed):
                    continue
                have = ", ".join(sorted(links[t] & layer_targets)) or "nothing"
                violations.append(f'{rel(f)}:{line}: includes "{name}" but target {t} does '
                                  f'not link {" or ".join(needed)} ({t} links: {have})')
    for f in sorted(unowned):
        print(f"check_layers: warning: {rel(f)} belongs to no target in {layers}; "
              "includes from or of it are not checked", file=sys.stderr)
    for v in violations:
        print(v)
    summary = (f"{len(files)} files, {checked} includes of our own headers, "
               f"{len(layer_targets)} targets")
    if violations:
        print(f"check_layers: {len(violations)} layering violation(s) ({summary})")
        return 1
    print(f"check_layers: no layering violations ({summary})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
