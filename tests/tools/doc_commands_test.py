#!/usr/bin/python3
"""The doc test: every cheap `coedge` command shown in README.md and docs/*.md runs.

    doc_commands_test.py SOURCE_DIR BUILD_DIR [--list]
    doc_commands_test.py selftest FIXTURE_DIR BUILD_DIR   (tests/tools/doc_fixture)

Reads the fenced code blocks of README.md and docs/*.md (docs/schema/ and other sub-folders
are not docs pages), takes every command that starts with `coedge` or `build/bin/coedge`
(after an optional `sudo` or `$ `; lines joined at a trailing backslash; commands split at
`;`, `&&` and `||`; `# comments` removed) and runs it with BUILD_DIR/bin/coedge, in a
temporary working folder that holds symbolic links `examples` (to SOURCE_DIR/examples) and
`build` (to BUILD_DIR): nothing is written into the repository, and paths written as the
docs write them (`examples/lamppost.yaml`, `build/models/...`) resolve. Outputs the docs
send elsewhere (`-o /tmp/x`) are redirected into the temporary folder.

The rule for what runs (documented in docs/ARCHITECTURE.md, "The doc test"):
  - run: `--help` of any subcommand; `coedge policies`; `coedge city`; `coedge sim` with
    `--duration 20s` (added, or replacing a longer one: the docs' runs are minutes long
    and the test checks that they work, not their figures); `coedge sweep` when it names its
    grid (--nodes, --loads and --bandwidths all given, at most 100 nodes), with
    `--duration 10s`;
  - skip, as expensive or needing root: `node`, `cluster`, `demo`, `master`, `camera`,
    `profile`, `bench`, any other `sweep`, anything after `sudo`;
  - skip a command with a placeholder: an argument, or a path component of one, written in
    capitals (`S.yaml`, `CONFIG`, `RUN_DIR`, `TASK`, `NODE.yaml`), or `...`.
For skipped commands too, every input file they name must exist (relative to the
repository, `build/` being BUILD_DIR): a path with a `/` or ending in .yaml/.yml/.onnx/
.json/.csv, that is not an output (the value of -o/--out/--run-dir/--summary/--jobs, or
under `results/`, where commands write), not absolute (another host's path) and not a
placeholder. The stand-in for a skipped command's output that a later command reads
(`results/profiles/machine.yaml`, written by `coedge profile --scenario ...`) is the
shipped profile set of the generated models.

The same goes for the commands in the header comments of the shipped examples
(examples/**/*.yaml, the example workers' sources): a comment line holding `coedge ...`.
Beyond code blocks, every `examples/...` path mentioned in the docs' prose must exist.
Fails naming the doc file:line and the command, with the command's output.
"""
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

SKIPPED_SUBCOMMANDS = {"node", "node-server", "cluster", "demo", "master", "camera", "profile", "bench"}
SIM_DURATION = "20s"
SWEEP_DURATION = "10s"
OUTPUT_OPTIONS = {"-o", "--out", "--run-dir", "--summary", "--jobs"}
INPUT_SUFFIXES = (".yaml", ".yml", ".onnx", ".json", ".csv")
COMMAND_TIMEOUT_S = 300
# Outputs of skipped commands that a later, cheap command reads, and their stand-ins.
STAND_INS = {"results/profiles/machine.yaml": "examples/profiles/generated-models-cpu.yaml"}


def doc_files(source):
    files = [os.path.join(source, "README.md")] + sorted(glob.glob(os.path.join(source, "docs", "*.md")))
    return [f for f in files if os.path.isfile(f)]


def code_commands(path):
    """(line, text) of every shell command line in the file's fenced code blocks. The body
    of a one-level `for VAR in WORDS; do ... done` loop is given once per word, with $VAR
    and ${VAR} replaced."""
    out = []
    in_block = False
    pending, pending_line = "", 0
    loop = None  # (var, words) while inside a for loop's body
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            stripped = line.strip()
            if stripped.startswith("```") or stripped.startswith("~~~"):
                in_block = not in_block
                pending, loop = "", None
                continue
            if not in_block:
                continue
            if not pending:
                pending_line = number
            if stripped.endswith("\\"):
                pending += stripped[:-1] + " "
                continue
            text = pending + stripped
            pending = ""
            m = re.fullmatch(r"for (\w+) in ([^;]*); do(.*)", text)
            if m:
                loop = (m.group(1), m.group(2).split())
                text = m.group(3).strip()
            if loop and re.fullmatch(r"done\b.*", text):
                loop = None
                continue
            if loop:
                var, words = loop
                for w in words:
                    out.append((pending_line, re.sub(r"\$\{?" + var + r"\b\}?", w, text)))
            elif text:
                out.append((pending_line, text))
    return out


def header_commands(path):
    """(line, text) of the commands in a shipped example's header comments: a comment line
    that holds `coedge ...` or `build/bin/coedge ...` (from there to the line's end)."""
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            if not line.lstrip().startswith(("#", "//", "*", "/*")):
                continue
            m = re.search(r"(?:^|[\s:`(])((?:\./)?(?:build/bin/)?coedge [^`]*)", line)
            if m and "coedge-" not in m.group(1).split()[0]:
                out.append((number, m.group(1).strip().rstrip(")")))
    return out


def example_files(source):
    found = []
    for pattern in ("examples/*.yaml", "examples/**/*.yaml", "examples/**/*.c", "examples/**/*.cc"):
        found += glob.glob(os.path.join(source, pattern), recursive=True)
    return sorted(set(found))


def expand_braces(text):
    """a-{x,y}-{1,2} -> a-x-1, a-x-2, a-y-1, a-y-2 (as a shell would)."""
    m = re.search(r"\{([^{}]*,[^{}]*)\}", text)
    if not m:
        return [text]
    out = []
    for option in m.group(1).split(","):
        out += expand_braces(text[:m.start()] + option + text[m.end():])
    return out


def prose_lines(path):
    """(line, text) of the lines outside fenced code blocks."""
    in_block = False
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if line.strip().startswith("```") or line.strip().startswith("~~~"):
                in_block = not in_block
                continue
            if not in_block:
                yield number, line


def split_commands(text):
    """The line's commands (lists of words), split at ; && || and without its comment."""
    try:
        lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        tokens = list(lexer)
    except ValueError:
        return []
    commands, current = [], []
    for t in tokens:
        if t in (";", "&&", "||", "&", "|"):
            if current:
                commands.append(current)
            current = []
        else:
            current.append(t)
    if current:
        commands.append(current)
    return commands


def as_coedge(words):
    """The arguments after `coedge`, or None when this is not a coedge command; and sudo."""
    sudo = False
    while words and words[0] in ("$", "sudo"):
        sudo = sudo or words[0] == "sudo"
        words = words[1:]
    if words and words[0] in ("coedge", "build/bin/coedge", "./build/bin/coedge"):
        return words[1:], sudo
    return None, sudo


def is_placeholder(word):
    if "..." in word or "…" in word:
        return True
    value = word.split("=", 1)[1] if word.startswith("-") and "=" in word else word
    if value.startswith("-"):
        return False
    for part in value.split("/"):
        stem = part.split(".")[0]
        if re.fullmatch(r"[A-Z][A-Z0-9_]*", stem) and re.search(r"[A-Z]", stem):
            return True
    return False


def input_paths(args):
    """The arguments that name input files (see the module's docstring)."""
    paths = []
    previous = ""
    for word in args:
        is_output = previous in OUTPUT_OPTIONS
        previous = word
        if word.startswith("-") or is_output or is_placeholder(word):
            continue
        if "=" in word or "@" in word or "+" in word or ":" in word:
            continue  # a spec or a NAME=ADDRESS pair, not a file
        if not ("/" in word or word.endswith(INPUT_SUFFIXES)):
            continue
        if os.path.isabs(word) or word.startswith("results/") or word.startswith("./results/"):
            continue
        paths.append(word)
    return paths


def output_paths(args):
    return [args[i + 1] for i in range(len(args) - 1) if args[i] in OUTPUT_OPTIONS]


def classify(args, sudo):
    """('run', reason) or ('skip', reason)."""
    if not args:
        return "skip", "no subcommand"
    if "--help" in args or "-h" in args:
        return "run", "help"
    if sudo:
        return "skip", "needs root (sudo)"
    for word in args:
        if is_placeholder(word):
            return "skip", "placeholder " + word
    sub = args[0]
    if sub in SKIPPED_SUBCOMMANDS:
        return "skip", "expensive: coedge " + sub
    if sub == "sweep":
        given = {w.split("=")[0] for w in args}
        if not {"--nodes", "--loads", "--bandwidths"} <= given:
            return "skip", "expensive: a sweep over the default grid"
        nodes = args[args.index("--nodes") + 1] if "--nodes" in args else ""
        if any(not n.isdigit() or int(n) > 100 for n in nodes.split(",")):
            return "skip", "expensive: a sweep over fleets of over 100 nodes"
        return "run", "small sweep"
    return "run", sub


def with_duration(args, duration):
    out = []
    skip_next = False
    for i, word in enumerate(args):
        if skip_next:
            skip_next = False
            continue
        if word == "--duration":
            skip_next = True
            continue
        if word.startswith("--duration="):
            continue
        out.append(word)
    return out + ["--duration", duration]


def redirect_outputs(args, work):
    out = []
    previous = ""
    for word in args:
        if previous in OUTPUT_OPTIONS and os.path.isabs(word):
            word = os.path.join(work, "redirected", word.lstrip("/"))
        out.append(word)
        previous = word
    return out


def selftest(fixture, build):
    """The test must fail, naming each problem of the fixture (else a doc test that always
    passes would go unnoticed)."""
    r = subprocess.run([sys.executable, os.path.abspath(__file__), fixture, build],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = r.stdout.decode("utf-8", "replace")
    expected = [
        "README.md:4: coedge sim --no-such-option\n    exit ",
        "README.md:6: coedge cluster examples/cluster/lamppost-here.yaml\n"
        "    names examples/cluster/lamppost-here.yaml, which does not exist",
        "README.md:10: names examples/nothing-here.yaml, which does not exist",
        "skip (placeholder RUN_DIR): README.md:7: coedge explain RUN_DIR TASK",
        "skip (needs root (sudo)): README.md:6:",
        "2 commands run, 2 skipped",
    ]
    missing = [e for e in expected if e not in output]
    if r.returncode != 1 or missing:
        print(output)
        print(f"selftest: exit {r.returncode} (want 1); missing from the output: {missing}")
        return 1
    print("selftest: the fixture's problems were all found")
    return 0


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "selftest":
        return selftest(os.path.abspath(sys.argv[2]), os.path.abspath(sys.argv[3]))
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    source, build = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    list_only = "--list" in sys.argv[3:]
    coedge = os.path.join(build, "bin", "coedge")
    if not os.access(coedge, os.X_OK) and not list_only:
        print(f"no coedge program at {coedge}: build it first")
        return 1

    failures, ran, skipped = [], 0, 0
    # Every examples/ path mentioned in the prose must exist (code blocks: their commands').
    for doc in doc_files(source):
        rel = os.path.relpath(doc, source)
        for number, line in prose_lines(doc):
            for m in re.finditer(r"(?<![\w./-])examples/[\w./{},-]*[\w/}]", line):
                if "*" in line[m.end():m.end() + 1]:
                    continue  # a glob: examples/*.yaml
                for path in expand_braces(m.group(0)):
                    if is_placeholder(path):
                        continue
                    if not os.path.exists(os.path.join(source, path)):
                        failures.append(f"{rel}:{number}: names {path}, which does not exist")

    work = tempfile.mkdtemp(prefix="coedge-doc-test-")
    try:
        os.symlink(os.path.join(source, "examples"), os.path.join(work, "examples"))
        os.symlink(build, os.path.join(work, "build"))
        for out, stand_in in STAND_INS.items():
            if not os.path.isfile(os.path.join(source, stand_in)):
                continue
            os.makedirs(os.path.join(work, os.path.dirname(out)), exist_ok=True)
            shutil.copyfile(os.path.join(source, stand_in), os.path.join(work, out))
        pages = [(doc, code_commands(doc)) for doc in doc_files(source)]
        pages += [(example, header_commands(example)) for example in example_files(source)]
        for doc, commands in pages:
            rel = os.path.relpath(doc, source)
            written = set()  # files that earlier commands of this doc write
            for number, text in commands:
                for words in split_commands(text):
                    args, sudo = as_coedge(words)
                    if args is None:
                        continue
                    where = f"{rel}:{number}: coedge {' '.join(args)}"
                    for path in input_paths(args):
                        if path in written:
                            continue  # an earlier command's output
                        resolved = os.path.join(build, path[len("build/"):]) if path.startswith("build/") \
                            else os.path.join(source, path)
                        exists = glob.glob(resolved) if "*" in path else os.path.exists(resolved)
                        if not exists:
                            failures.append(f"{where}\n    names {path}, which does not exist")
                    written |= set(output_paths(args))
                    verdict, reason = classify(args, sudo)
                    if verdict == "skip":
                        skipped += 1
                        print(f"skip ({reason}): {where}")
                        continue
                    run_args = list(args)
                    if run_args[0] == "sim" and verdict == "run" and reason == "sim":
                        run_args = with_duration(run_args, SIM_DURATION)
                    elif run_args[0] == "sweep" and reason == "small sweep":
                        run_args = with_duration(run_args, SWEEP_DURATION)
                    run_args = redirect_outputs(run_args, work)
                    print(f"run: {where}" + ("" if run_args == args else f"\n    as: coedge {' '.join(run_args)}"),
                          flush=True)
                    if list_only:
                        continue
                    ran += 1
                    try:
                        r = subprocess.run([coedge] + run_args, cwd=work, stdout=subprocess.PIPE,
                                           stderr=subprocess.STDOUT, timeout=COMMAND_TIMEOUT_S,
                                           stdin=subprocess.DEVNULL)
                        code, output = r.returncode, r.stdout.decode("utf-8", "replace")
                    except subprocess.TimeoutExpired as e:
                        code, output = "timeout", (e.stdout or b"").decode("utf-8", "replace")
                    if code != 0:
                        tail = "\n".join("      " + l for l in output.splitlines()[-15:])
                        failures.append(f"{where}\n    exit {code}; its last lines:\n{tail}")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"\n{ran} commands run, {skipped} skipped")
    if failures:
        print(f"\n{len(failures)} problem(s) in the docs:")
        for f in failures:
            print("  " + f)
        return 1
    if ran == 0 and not list_only:
        print("no command was run: the extraction is broken")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
