#!/usr/bin/env python3
"""Checks the module layering of both library crates (no cargo, no build).

For each crate (the server, `src/`, and `urne-client`, `client/src/`) it reads the
`# Layout` section of `lib.rs` (the bullet list of modules, from the foundations up)
and every module's source files, and finds each reference `crate::<module>` in code
(comments and doc comments are skipped: an intra-doc link is not an import). Then it
reports, and exits 1 on:

- an import circle: two top-level modules that reach each other;
- an upward import: a module using a module listed after it in the layout (the
  layout is ordered so that a module uses only the modules above it);
- a module missing from the layout, or a layout entry with no module.

Run: `python3 scripts/layers.py` (from the repository root; `-v` prints the graph).
"""

import os
import re
import sys

CRATES = [("urne-client", "client/src"), ("urne", "src")]

# Known knots, named in the crate's layout: printed, not failed on. Any other circle,
# or a new member of one, fails. The server's: `mirror_push` (a mirror receiving by
# push) and `mirror` (its pull side) share the mirror's state and its chunk check both
# ways. (`api` was the centre of a larger knot until its error type and body reader
# moved down to `http` and the web page stopped taking the API's state; `gossip` and
# `witness` were one until their stores moved under `storage`.)
KNOWN = {
    "urne": [{"mirror", "mirror_push"}],
}


def layout_order(lib_rs):
    """Returns the modules named by the `- [`name`]` bullets of the `# Layout`
    section, in order."""
    order = []
    in_layout = False
    for line in open(lib_rs, encoding="utf-8"):
        if not line.startswith("//!"):
            if in_layout and order:
                break
            continue
        text = line[3:].strip()
        if text.startswith("# "):
            in_layout = text == "# Layout"
            continue
        if in_layout:
            m = re.match(r"- \[`(\w+)`\]", text)
            if m and m.group(1) not in order:
                order.append(m.group(1))
    return order


def declared_modules(lib_rs):
    """Returns the `mod` / `pub mod` declarations of lib.rs."""
    mods = []
    for line in open(lib_rs, encoding="utf-8"):
        m = re.match(r"\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", line)
        if m:
            mods.append(m.group(1))
    return mods


def module_files(src, name):
    """Returns every source file of top-level module `name`."""
    files = []
    single = os.path.join(src, name + ".rs")
    if os.path.isfile(single):
        files.append(single)
    d = os.path.join(src, name)
    if os.path.isdir(d):
        for root, _, names in os.walk(d):
            files += [os.path.join(root, n) for n in names if n.endswith(".rs")]
    return files


def code_lines(path):
    """Yields the code of each line, comments removed (a `//` inside a string, as in
    a URL, is kept: only `//` after whitespace or at the start starts a comment)."""
    for line in open(path, encoding="utf-8"):
        if line.lstrip().startswith("//"):
            continue
        yield re.split(r"(?:^|\s)//", line, maxsplit=1)[0]


def references(files, modules):
    """Returns the top-level modules that `files` name through `crate::`."""
    refs = set()
    for f in files:
        text = "\n".join(code_lines(f))
        for m in re.finditer(r"\bcrate::(\w+)", text):
            refs.add(m.group(1))
        # use crate::{a, b::c, ...}: the first segment of each item at depth one.
        for m in re.finditer(r"\bcrate::\{", text):
            depth, i, item = 1, m.end(), ""
            while i < len(text) and depth:
                c = text[i]
                if c == "{":
                    depth += 1
                elif c == "}":
                    depth -= 1
                if depth == 1 and c == ",":
                    refs.add(item.strip().split("::")[0])
                    item = ""
                elif depth == 1 and c not in "{}":
                    item += c
                i += 1
            refs.add(item.strip().split("::")[0])
    return {r for r in refs if r in modules}


def cycles(graph):
    """Returns the strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def check(crate, src, verbose):
    lib = os.path.join(src, "lib.rs")
    order = layout_order(lib)
    mods = declared_modules(lib)
    problems = []
    for m in mods:
        if m not in order:
            problems.append(f"module {m} is not in the # Layout section of {lib}")
    for m in order:
        if m not in mods:
            problems.append(f"the # Layout section of {lib} names {m}, which is no module")
    graph = {m: references(module_files(src, m), mods) - {m} for m in mods}
    known = KNOWN.get(crate, [])
    notes = []
    for comp in cycles(graph):
        line = "import circle: " + " <-> ".join(comp)
        if set(comp) in known:
            notes.append("known " + line)
        else:
            problems.append(line)
    rank = {m: i for i, m in enumerate(order)}
    for m in mods:
        for r in sorted(graph[m]):
            if m in rank and r in rank and rank[r] > rank[m]:
                if any(m in k and r in k for k in known):
                    continue
                problems.append(f"{m} uses {r}, listed after it in the layout")
    edges = sum(len(v) for v in graph.values())
    print(f"{crate}: {len(mods)} modules, {edges} module dependencies, "
          f"{len(problems)} problem(s)")
    if verbose:
        for m in order:
            print(f"  {m} -> {', '.join(sorted(graph.get(m, ()))) or '-'}")
    for n in notes:
        print(f"  {n}")
    for p in problems:
        print(f"  {p}")
    return not problems


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.chdir(root)
    verbose = "-v" in sys.argv[1:]
    ok = all([check(c, s, verbose) for c, s in CRATES])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
