#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The rules of the house (docs/architecture.md), checked on the source tree.

    check_house.py [--root DIR] [--lib libfhirgen.so]

Each rule that a file breaks is one line `path:line: rule: what`; the exit
status is 1 when any rule is broken, 0 otherwise. The rules:

  layers    an #include crosses a forbidden arrow (the table ALLOWED below);
  private   a private header (one whose name does not start with fg_) is
            included from outside its own folder;
  spelling  an #include of a project header is not spelled from the
            repository root;
  library   library code (everything but cli/) reads the environment,
            prints to the terminal, or names a command-line flag in a
            string;
  spdx      a source file (C, meson, shell, Python, JavaScript, anywhere in the
            tree) does not start with an SPDX licence line (after a #! line);
  size      a C file over 800 lines or a function over 150 lines (the tests'
            C files too);
  exports   (with --lib) the shared library exports a symbol that is not fg_*.
"""
import argparse
import os
import re
import subprocess
import sys

SOURCE_ROOTS = ["fhir", "profiles", "generators", "validators", "push", "cli"]

# Each room and the rooms it may include from (besides itself). A room is a
# folder; a file belongs to the deepest room that holds it.
FHIR_BELOW = {
    "fhir/base": [],
    "fhir/json": ["fhir/base"],
    "fhir/fhirpath": ["fhir/json", "fhir/base"],
    "fhir/http": ["fhir/base"],
    "fhir/rest": ["fhir/http", "fhir/json", "fhir/base"],
    "fhir/term": ["fhir/base"],
}
FHIR = list(FHIR_BELOW)
GENERATORS = ["generators", "generators/history", "generators/engine", "generators/llm",
              "generators/map"]
ALLOWED = dict(FHIR_BELOW)
ALLOWED.update({
    "profiles": FHIR,
    "generators/history": FHIR + ["profiles"],
    # generators may call validators (the repair loop asks the plausibility rules)
    "generators/engine": FHIR + ["profiles", "generators/history", "validators"],
    "generators/map": FHIR + ["profiles", "generators/history", "validators"],
    "generators/llm": FHIR + ["profiles", "generators/history", "generators/engine",
                              "generators/map", "generators", "validators"],
    "generators": FHIR + ["profiles", "generators/history", "generators/engine",
                          "generators/map", "validators"],
    # validators read the history IR and nothing else of generators
    "validators": FHIR + ["profiles", "generators/history"],
    "push": FHIR + ["profiles"],
    "cli": FHIR + ["profiles", "validators", "push"] + GENERATORS,
})

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
ENV = re.compile(r'\b(getenv|secure_getenv|setenv|unsetenv|putenv)\s*\(')
PRINT = re.compile(r'\b(printf|puts|perror|putchar)\s*\(|'
                   r'\bf(printf|puts|write)\s*\(\s*(stderr|stdout)\b')
FLAG = re.compile(r'"[^"\n]*(?<![\w-])--[a-z][a-z0-9-]+')
FUNC_START = re.compile(r'^[A-Za-z_][\w \t\*]*\b([A-Za-z_]\w*)\s*\(')

MAX_FILE_LINES = 800
MAX_FUNCTION_LINES = 150


def deepest_room(path):
    d = os.path.dirname(path)
    while d:
        if d in ALLOWED:
            return d
        d = os.path.dirname(d)
    return None


def strip_comments(text):
    """Blank out comments, keeping line numbers and string literals."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"' or c == "'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def functions(lines):
    """(name, first line, line count) of each function defined at column 0
    with its body's braces at column 0."""
    out = []
    i = 0
    while i < len(lines):
        if lines[i].rstrip() == "{":
            j = i - 1
            while j >= 0 and lines[j].strip() and not FUNC_START.match(lines[j]):
                j -= 1
            m = FUNC_START.match(lines[j]) if j >= 0 else None
            k = i + 1
            while k < len(lines) and lines[k].rstrip() != "}":
                k += 1
            if m and "=" not in lines[j] and not lines[j].startswith(("struct", "typedef", "enum")):
                out.append((m.group(1), j + 1, k - j + 1))
            i = k + 1
        else:
            i += 1
    return out


SKIP_DIRS = {".git", "node_modules", "__pycache__"}
SKIP_PREFIXES = ("build", "tests/fuzz/corpus", "tests/data", "data", "samples/golden")
SCRIPT_SUFFIXES = (".c", ".h", ".py", ".sh", ".mjs", ".js", ".cjs", ".map")
SCRIPT_NAMES = {"meson.build", "meson_options.txt", "run"}


def spdx_files(root):
    """Every source file of the tree that must carry an SPDX line."""
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        rel = "" if rel == "." else rel
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and
                             not os.path.join(rel, d).startswith(SKIP_PREFIXES))
        for f in sorted(filenames):
            path = os.path.join(rel, f)
            if f.endswith(SCRIPT_SUFFIXES) or f in SCRIPT_NAMES:
                yield path
            elif rel == "bench" or rel == "scripts":
                yield path


def check_spdx(root):
    problems = []
    for path in spdx_files(root):
        try:
            with open(os.path.join(root, path), encoding="utf-8") as fh:
                head = [fh.readline() for _ in range(2)]
        except (OSError, UnicodeDecodeError):
            continue
        first = head[1] if head[0].startswith("#!") else head[0]
        if "SPDX-License-Identifier:" not in first:
            problems.append(f"{path}:1: spdx: the first line is not an SPDX-License-Identifier")
    return problems


def check_test_sizes(root):
    problems = []
    for dirpath, dirnames, filenames in os.walk(os.path.join(root, "tests")):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for f in sorted(filenames):
            if not f.endswith(".c"):
                continue
            path = os.path.relpath(os.path.join(dirpath, f), root)
            with open(os.path.join(root, path), encoding="utf-8") as fh:
                text = fh.read()
            lines = text.split("\n")
            if len(lines) - (lines[-1] == "") > MAX_FILE_LINES:
                problems.append(f"{path}:{len(lines)}: size: {len(lines) - 1} lines "
                                f"(at most {MAX_FILE_LINES})")
            for name, first, count in functions(strip_comments(text).split("\n")):
                if count > MAX_FUNCTION_LINES:
                    problems.append(f"{path}:{first}: size: {name}() is {count} lines "
                                    f"(at most {MAX_FUNCTION_LINES})")
    return problems


def check_tree(root):
    problems = []

    def bad(path, line, rule, what):
        problems.append(f"{path}:{line}: {rule}: {what}")

    files = []
    for top in SOURCE_ROOTS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames.sort()
            for f in sorted(filenames):
                if f.endswith((".c", ".h")):
                    files.append(os.path.relpath(os.path.join(dirpath, f), root))
    known = set(files)

    for path in files:
        with open(os.path.join(root, path), encoding="utf-8") as fh:
            text = fh.read()
        lines = text.split("\n")
        room = deepest_room(path)
        for no, line in enumerate(lines, 1):
            m = INCLUDE.match(line)
            if not m:
                continue
            target = m.group(1)
            if target not in known:
                near = os.path.normpath(os.path.join(os.path.dirname(path), target))
                if near in known:
                    bad(path, no, "spelling", f'"{target}" is spelled from its folder: write "{near}"')
                continue
            troom = deepest_room(target)
            if troom is None or room is None or troom == room:
                continue
            if not os.path.basename(target).startswith("fg_"):
                bad(path, no, "private", f"{target} is private to {troom}/")
            if troom not in ALLOWED.get(room, []):
                bad(path, no, "layers", f"{room}/ may not include {troom}/ ({target})")

        if path.endswith(".c") and len(lines) - (lines[-1] == "") > MAX_FILE_LINES:
            bad(path, len(lines), "size", f"{len(lines) - 1} lines (at most {MAX_FILE_LINES})")
        code = strip_comments(text).split("\n")
        if path.endswith(".c"):
            for name, first, count in functions(code):
                if count > MAX_FUNCTION_LINES:
                    bad(path, first, "size", f"{name}() is {count} lines (at most {MAX_FUNCTION_LINES})")
        if room == "cli":
            continue
        for no, line in enumerate(code, 1):
            if ENV.search(line):
                bad(path, no, "library", "reads the environment (only cli/ does; pass the value in)")
            if PRINT.search(line):
                bad(path, no, "library", "prints (only cli/ talks to the terminal; return or call back)")
            m = FLAG.search(line)
            if m:
                bad(path, no, "library", f"names a command-line flag ({m.group(0)[1:]!r}): name the setting")
    return problems


def check_exports(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", lib], capture_output=True, text=True)
    if out.returncode != 0:
        return [f"{lib}:0: exports: nm failed: {out.stderr.strip()}"]
    problems = []
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and not parts[2].startswith("fg_"):
            problems.append(f"{lib}:0: exports: {parts[2]} is exported (only fg_* may be)")
    return problems


def main():
    ap = argparse.ArgumentParser(description="Check the rules of the house.")
    ap.add_argument("--root", default=os.path.join(os.path.dirname(__file__), "..", ".."))
    ap.add_argument("--lib", help="the built libfhirgen.so, to check its exported symbols")
    args = ap.parse_args()
    root = os.path.normpath(args.root)
    problems = check_tree(root) + check_spdx(root) + check_test_sizes(root)
    if args.lib:
        problems += check_exports(args.lib)
    for p in problems:
        print(p)
    print(f"check_house: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
