#!/usr/bin/python3
"""The doc test: every cheap `coedge` command shown in README.md and docs/*.md runs.

    doc_commands_test.py SOURCE_DIR BUILD_DIR [--list] [--min-run=N]
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
  - a command is a line (or a part of one split at ; && || |) whose first word, after an
    optional `$ `, `sudo`, `env` and environment assignments (`VAR=x`, passed to the run),
    is `coedge`, `build/bin/coedge` or `./build/bin/coedge`; a line that has such a command
    but is not valid shell (shlex cannot split it) is a failure, naming its file:line;
  - run: `--help` of any subcommand; `coedge policies`; `coedge city`; `coedge explain`;
    `coedge sim` with `--duration 20s` (added, or replacing a longer one: the docs' runs are
    minutes long and the test checks that they work, not their figures); `coedge sweep`
    when it names its grid (--nodes, --loads and --bandwidths all given, at most 100
    nodes), with `--duration 10s`;
  - skip, as expensive or needing root: `node`, `cluster`, `demo`, `master`, `camera`,
    `profile`, `bench`, any other `sweep`, anything after `sudo`;
  - skip a command with a placeholder. A word is one when it holds `...` or `…`, or when
    the word (the value of `--opt=VALUE`), or one of its `/`-separated parts, with its
    extension removed (`S.yaml` -> `S`), is
      - one of the known single-letter placeholders (KNOWN_PLACEHOLDERS: S, N, X), or
      - two or more capitals (and underscores) with no digit: RUN_DIR, TASK, CONFIG, FILE,
        SCENARIO, NODE; or
      - capitals and digits with an underscore: TASK_2.
    So names with a digit, like the task `V1` or the node `N5`, are real names, not
    placeholders, and their commands run.
For skipped commands too, every input file they name must exist (relative to the
repository, `build/` being BUILD_DIR): a path with a `/` or ending in .yaml/.yml/.onnx/
.json/.csv, that is not an output (the value of an output option, see OUTPUT_OPTIONS, or
under `results/`, where commands write), not absolute (another host's path) and not a
placeholder. The stand-in for a skipped command's output that a later command reads
(`results/profiles/machine.yaml`, written by `coedge profile --scenario ...`) is the
shipped profile set of the generated models.

Outputs: an absolute output path (`-o /tmp/x`, `--out=/tmp/x`, `-o/tmp/x`) is redirected
into the temporary folder; a relative one that resolves into the source tree (through the
`examples` link: `-o examples/x`) is a failure, never written.

The same goes for the commands in the header comments of the shipped examples
(examples/**/*.yaml, the example workers' sources): a comment line whose text starts with
the command (an indented `#   build/bin/coedge ...`) or has it after a colon (`# Run:
build/bin/coedge ...`), and whose word after `coedge` is a subcommand of `coedge --help`
(or an option): prose that merely mentions coedge is not a command.
Beyond code blocks, every `examples/...` path mentioned in the docs' prose must exist.

Guards against a vacuous pass: every doc page's code-block lines that hold a coedge
command are each run or skipped (with the reason printed), and at least MIN_COMMANDS_RUN
commands run in all (a floor below today's count, 44: raise it as docs grow).
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
# Options whose value is a file or folder a command writes (`--jobs` only for `node`: for
# `sim` it is a flag).
OUTPUT_OPTIONS = {"-o", "--out", "--run-dir", "--summary"}
NODE_OUTPUT_OPTIONS = OUTPUT_OPTIONS | {"--jobs"}
KNOWN_PLACEHOLDERS = {"S", "N", "X"}
# At least this many commands run (today: 44). Fewer means the extraction lost some.
MIN_COMMANDS_RUN = 40
# The subcommands when there is no coedge program to ask (--list before a build).
DEFAULT_SUBCOMMANDS = {"sim", "city", "profile", "sweep", "node", "master", "camera", "cluster", "demo",
                       "policies", "explain"}
# A coedge command's start in a raw line: at the line's start or after ; & | ( or `do`, after
# an optional $ , sudo, env and VAR=value words.
COMMAND_START = re.compile(r"(?:^|[;&|(]|\bdo\s)\s*(?:\$\s+)?(?:sudo\s+)?(?:env\s+)?(?:[A-Za-z_]\w*=\S*\s+)*"
                           r"(?:\./)?(?:build/bin/)?coedge(?:\s|$)")
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


def header_commands(path, subcommands):
    """(line, text) of the commands in a shipped example's header comments: a comment line
    whose text starts with `coedge ...` / `build/bin/coedge ...` or has it after a colon
    (`Run: ...`), up to a backtick or the line's end, when the word after coedge is one of
    `subcommands` or an option. Prose that mentions coedge is not taken."""
    out = []
    command = r"((?:\./)?(?:build/bin/)?coedge\s+([^\s`]+)[^`]*)"
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            m = re.match(r"\s*(?:#+|//+|/?\*+)\s*(.*)", line)
            if not m:
                continue
            body = m.group(1)
            found = re.match(command, body) or re.search(r":\s+" + command, body)
            if not found:
                continue
            word = found.group(2)
            if word in subcommands or word.startswith("-"):
                out.append((number, found.group(1).strip().rstrip(")").strip()))
    return out


def coedge_subcommands(coedge):
    """The subcommands `coedge --help` lists (DEFAULT_SUBCOMMANDS without a program)."""
    try:
        r = subprocess.run([coedge, "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    except OSError:
        return set(DEFAULT_SUBCOMMANDS)
    text = r.stdout.decode("utf-8", "replace")
    found = set(re.findall(r"^  ([a-z][\w-]*)\s", text.split("Subcommands:", 1)[-1], flags=re.M))
    return found or set(DEFAULT_SUBCOMMANDS)


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
    """The line's commands (lists of words), split at ; && || and without its comment.
    Raises ValueError when the line is not valid shell (an unclosed quote)."""
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    tokens = list(lexer)
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
    """(the arguments after `coedge` or None when this is not a coedge command, sudo, the
    environment assignments before it as a dict)."""
    sudo, env = False, {}
    while words:
        if words[0] in ("$", "sudo", "env"):
            sudo = sudo or words[0] == "sudo"
        elif re.fullmatch(r"[A-Za-z_]\w*=.*", words[0]):
            name, value = words[0].split("=", 1)
            env[name] = value
        else:
            break
        words = words[1:]
    if words and words[0] in ("coedge", "build/bin/coedge", "./build/bin/coedge"):
        return words[1:], sudo, env
    return None, sudo, env


def is_placeholder(word):
    """The rule in the module's docstring: `...`, a known placeholder, two or more capitals
    with no digit, or capitals and digits with an underscore (in any `/` part, extension
    removed). `V1`, `N5`: real names."""
    if "..." in word or "…" in word:
        return True
    value = word.split("=", 1)[1] if word.startswith("-") and "=" in word else word
    if value.startswith("-"):
        return False
    for part in value.split("/"):
        stem = part.split(".")[0]
        if stem in KNOWN_PLACEHOLDERS or re.fullmatch(r"[A-Z][A-Z_]+", stem) \
                or re.fullmatch(r"[A-Z][A-Z0-9]*_[A-Z0-9_]*", stem):
            return True
    return False


def output_options(args):
    return NODE_OUTPUT_OPTIONS if args and args[0] == "node" else OUTPUT_OPTIONS


def input_paths(args):
    """The arguments that name input files (see the module's docstring)."""
    paths = []
    previous = ""
    outputs = output_options(args)
    for word in args:
        is_output = previous in outputs
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


def output_values(args):
    """(index, prefix, value) of every output path in args, in the forms `-o X`, `--out X`,
    `--out=X` and `-oX`: args[index] == prefix + value."""
    found = []
    options = output_options(args)
    for i, word in enumerate(args):
        if i > 0 and args[i - 1] in options and not word.startswith("-"):
            found.append((i, "", word))
        elif word.startswith("--") and word.split("=", 1)[0] in options and "=" in word:
            found.append((i, word.split("=", 1)[0] + "=", word.split("=", 1)[1]))
        elif re.fullmatch(r"-o[^-=].*", word) and "-o" in options:
            found.append((i, "-o", word[2:]))
    return found


def output_paths(args):
    return [value for _, _, value in output_values(args)]


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
    """args with every absolute output path moved under work/redirected/."""
    out = list(args)
    for i, prefix, value in output_values(args):
        if os.path.isabs(value):
            out[i] = prefix + os.path.join(work, "redirected", value.lstrip("/"))
    return out


def outputs_into(args, work, tree):
    """The output paths of args that, from the working folder `work`, resolve under `tree`
    (through the `examples` link, say)."""
    tree = os.path.realpath(tree)
    bad = []
    for value in output_paths(args):
        resolved = os.path.realpath(os.path.join(work, value))
        if resolved == tree or resolved.startswith(tree + os.sep):
            bad.append((value, resolved))
    return bad


def raw_command_lines(path):
    """How many lines of the file's fenced code blocks hold a coedge command (COMMAND_START):
    the extraction must take at least that many commands from the page."""
    count, in_block = 0, False
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip().startswith("```") or line.strip().startswith("~~~"):
                in_block = not in_block
            elif in_block and COMMAND_START.search(line.strip()):
                count += 1
    return count


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
        "README.md:15: names examples/nothing-here.yaml, which does not exist",
        "skip (placeholder RUN_DIR): README.md:7: coedge explain RUN_DIR TASK",
        "skip (needs root (sudo)): README.md:6:",
        "run: README.md:8: LC_ALL=C coedge policies",
        "README.md:9: coedge explain results/none V1\n    exit ",
        "README.md:10: cannot be read as a shell command (No closing quotation): "
        "build/bin/coedge sim \"examples/unclosed.yaml",
        "README.md:11: coedge city -o examples/city.yaml\n    writes examples/city.yaml, which is "
        + os.path.join(os.path.realpath(fixture), "examples", "city.yaml") + ", inside the source tree",
        "README.md:12: coedge city --out=examples/city.yaml\n    writes examples/city.yaml",
        "run: examples/prose.yaml:1: coedge policies",
        "5 commands run, 2 skipped",
        "only 5 commands ran, fewer than the floor of " + str(MIN_COMMANDS_RUN),
    ]
    # Prose is no command; the commands that pass are no problem.
    unexpected = ["coedge does not", "coedge profile output", "\n  README.md:5:", "\n  README.md:8:",
                  "\n  examples/prose.yaml:"]
    # The placeholder rule, word by word.
    rule = {"RUN_DIR": True, "TASK": True, "CONFIG": True, "FILE": True, "SCENARIO": True, "S.yaml": True,
            "results/profiles/NODE.yaml": True, "TASK_2": True, "--config=CONFIG": True, "a...b": True,
            "V1": False, "N5": False, "n1": False, "results/lamppost": False, "--duration": False,
            "examples/lamppost.yaml": False}
    wrong = [w for w, want in rule.items() if is_placeholder(w) != want]
    if wrong:
        print(f"selftest: is_placeholder is wrong for {wrong}")
        return 1
    if os.path.exists(os.path.join(fixture, "examples", "city.yaml")):
        print("selftest: a refused command wrote into the fixture's tree")
        return 1
    missing = [e for e in expected if e not in output]
    present = [u for u in unexpected if u in output]
    if r.returncode != 1 or missing or present:
        print(output)
        print(f"selftest: exit {r.returncode} (want 1); missing from the output: {missing}; "
              f"there but should not be: {present}")
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
    min_run = MIN_COMMANDS_RUN
    for arg in sys.argv[3:]:
        if arg.startswith("--min-run="):
            min_run = int(arg.split("=", 1)[1])
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
        subcommands = coedge_subcommands(coedge)
        pages = [(doc, code_commands(doc), raw_command_lines(doc)) for doc in doc_files(source)]
        pages += [(example, header_commands(example, subcommands), 0) for example in example_files(source)]
        for doc, commands, expected in pages:
            rel = os.path.relpath(doc, source)
            written = set()  # files that earlier commands of this doc write
            taken = 0  # coedge commands of this page, run or skipped
            for number, text in commands:
                try:
                    parts = split_commands(text)
                except ValueError as e:
                    if COMMAND_START.search(text):
                        failures.append(f"{rel}:{number}: cannot be read as a shell command ({e}): {text}")
                        taken += 1
                    continue  # not a command line (a YAML or output line): not ours
                for words in parts:
                    args, sudo, env = as_coedge(words)
                    if args is None:
                        continue
                    taken += 1
                    assignments = "".join(f"{k}={v} " for k, v in env.items())
                    where = f"{rel}:{number}: {assignments}coedge {' '.join(args)}"
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
                    into_tree = outputs_into(run_args, work, source)
                    if into_tree:
                        for value, resolved in into_tree:
                            failures.append(f"{where}\n    writes {value}, which is {resolved}, inside the source "
                                            f"tree: not run (write under results/ or an absolute path)")
                        continue
                    print(f"run: {where}" + ("" if run_args == args else f"\n    as: coedge {' '.join(run_args)}"),
                          flush=True)
                    if list_only:
                        continue
                    ran += 1
                    try:
                        r = subprocess.run([coedge] + run_args, cwd=work, stdout=subprocess.PIPE,
                                           stderr=subprocess.STDOUT, timeout=COMMAND_TIMEOUT_S,
                                           stdin=subprocess.DEVNULL, env=dict(os.environ, **env))
                        code, output = r.returncode, r.stdout.decode("utf-8", "replace")
                    except subprocess.TimeoutExpired as e:
                        code, output = "timeout", (e.stdout or b"").decode("utf-8", "replace")
                    if code != 0:
                        tail = "\n".join("      " + l for l in output.splitlines()[-15:])
                        failures.append(f"{where}\n    exit {code}; its last lines:\n{tail}")
            if taken < expected:
                failures.append(f"{rel}: {expected} code-block lines hold a coedge command, but only {taken} "
                                f"command(s) were taken from it: the extraction lost some")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"\n{ran} commands run, {skipped} skipped")
    if not list_only and ran < min_run:
        failures.append(f"only {ran} commands ran, fewer than the floor of {min_run} (MIN_COMMANDS_RUN): "
                        f"the extraction is broken, or the floor must be lowered with the docs")
    if failures:
        print(f"\n{len(failures)} problem(s) in the docs:")
        for f in failures:
            print("  " + f)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
