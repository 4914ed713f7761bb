#!/usr/bin/env python3
"""Generates monorepos of several shapes with long histories, for `bench/history.sh`.

    python3 bench/shapes.py OUT_DIR --shape SHAPE --packages N --commits M [--pack PACK] [--seed S]

Shapes (each a layout real repositories have; none shares `bench/history.py`'s):

- `lerna`: an npm workspace in lerna's independent layout (`lerna.json` with `"version":
  "independent"` and Conventional Commits), packages under `packages/<name>/` with nested `src/`
  folders (`src/index.ts`, `src/lib/*.ts`, `src/components/<c>/index.tsx`) and `test/`; releases
  the way `lerna version` makes them: a `chore(release): publish` commit that bumps the changed
  packages' `version` fields, tagged `name@version` on that commit.
- `flat`: a Cargo workspace whose crates sit at the top level (`members = ["crate-*"]`), so the
  root tree has one entry per package; releases bump `Cargo.toml` and tag `name-v<version>`.
- `deep`: a uv workspace of Python distributions four levels down
  (`libs/<area>/<team>/<name>/pyproject.toml`) with deep source trees
  (`src/<module>/a/b/c/*.py`); releases tag `name-v<version>`.

Packing (`--pack`), how the object store looks on disk:
- `gc` (default): `git gc`, one pack with deltas, and the commit-graph file git writes with it;
- `no-graph`: the same without a commit-graph file;
- `fast-import`: the pack `git fast-import` writes, never repacked (weak deltas, no commit-graph).

Commits: most touch one package (one to three files), some several, some only shared files; about
one in forty is a `--no-ff` merge of a short branch; a release every `--release-every` commits (by
default M/50; -1: never, so every package's range is the whole history) bumps the packages
changed since their last release; the last tenth of the history is not released yet.
Deterministic for a seed.
"""

import argparse
import json
import os
import random
import subprocess
import sys


def packages(shape, n):
    """(directory, name, manifest path) of every package."""
    out = []
    for i in range(n):
        if shape == "lerna":
            name = f"@acme/pkg-{i:04d}"
            d = f"packages/pkg-{i:04d}"
            out.append((d, name, f"{d}/package.json"))
        elif shape == "flat":
            name = f"crate-{i:04d}"
            out.append((name, name, f"{name}/Cargo.toml"))
        else:
            area, team = f"area{i % 7}", f"team{i % 13}"
            name = f"acme-lib-{i:04d}"
            d = f"libs/{area}/{team}/{name}"
            out.append((d, name, f"{d}/pyproject.toml"))
    return out


def manifest(shape, name, version, deps):
    if shape == "lerna":
        doc = {
            "name": name,
            "version": version,
            "main": "dist/index.js",
            "types": "dist/index.d.ts",
            "files": ["dist"],
            "scripts": {"build": "tsc -b", "test": "vitest run"},
            "dependencies": {d: f"^{v}" for d, v in deps},
            "devDependencies": {"typescript": "^5.4.0"},
        }
        return json.dumps(doc, indent=2) + "\n"
    if shape == "flat":
        lines = [f'{d} = {{ path = "../{d}", version = "{v}" }}' for d, v in deps]
        return (
            f'[package]\nname = "{name}"\nversion = "{version}"\nedition = "2021"\n\n'
            "[dependencies]\n" + "\n".join(lines + ['serde = "1"']) + "\n"
        )
    reqs = [f'"{d}>={v}"' for d, v in deps] + ['"requests>=2"']
    return (
        f'[project]\nname = "{name}"\nversion = "{version}"\nrequires-python = ">=3.9"\n'
        f"dependencies = [{', '.join(reqs)}]\n\n[tool.uv.sources]\n"
        + "".join(f"{d} = {{ workspace = true }}\n" for d, _ in deps)
    )


def source_files(shape, d, name):
    """Paths (under the package) that commits edit."""
    if shape == "lerna":
        return (
            ["src/index.ts", "test/index.test.ts", "README.md"]
            + [f"src/lib/util{k}.ts" for k in range(4)]
            + [f"src/components/c{k}/index.tsx" for k in range(3)]
        )
    if shape == "flat":
        return ["src/lib.rs", "README.md"] + [f"src/m{k}/mod.rs" for k in range(4)] + ["tests/it.rs"]
    module = name.replace("-", "_")
    return [f"src/{module}/__init__.py", "README.md"] + [
        f"src/{module}/a/b/c/m{k}.py" for k in range(5)
    ] + ["tests/test_it.py"]


def root_files(shape, n_pkgs):
    if shape == "lerna":
        return {
            "package.json": json.dumps(
                {"name": "acme", "private": True, "workspaces": ["packages/*"]}, indent=2
            )
            + "\n",
            "lerna.json": json.dumps(
                {
                    "$schema": "node_modules/lerna/schemas/lerna-schema.json",
                    "version": "independent",
                    "npmClient": "npm",
                    "command": {"version": {"conventionalCommits": True, "message": "chore(release): publish"}},
                },
                indent=2,
            )
            + "\n",
            "README.md": "# acme\n",
        }
    if shape == "flat":
        return {
            "Cargo.toml": '[workspace]\nresolver = "2"\nmembers = ["crate-*"]\n',
            "README.md": "# acme\n",
        }
    return {
        "pyproject.toml": '[project]\nname = "acme-root"\nversion = "0.0.0"\n\n[tool.uv.workspace]\nmembers = ["libs/*/*/*"]\n',
        "README.md": "# acme\n",
    }


def bump(version, kind):
    major, minor, patch = (int(x) for x in version.split("."))
    if kind == "major":
        return f"{major + 1}.0.0"
    if kind == "minor":
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


def tag_name(shape, name, version):
    return f"{name}@{version}" if shape == "lerna" else f"{name}-v{version}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--shape", choices=["lerna", "flat", "deep"], required=True)
    ap.add_argument("--packages", type=int, default=100)
    ap.add_argument("--commits", type=int, default=10000)
    ap.add_argument("--pack", choices=["gc", "no-graph", "fast-import"], default="gc")
    ap.add_argument("--release-every", type=int, default=0, help="0: M/50; -1: never (only the tags of the import)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    if os.path.exists(args.out) and os.listdir(args.out):
        sys.exit(f"shapes.py: {args.out} is not empty")
    os.makedirs(args.out, exist_ok=True)
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull)
    subprocess.run(["git", "init", "-q", "-b", "main", args.out], check=True, env=env)
    pkgs = packages(args.shape, args.packages)
    versions = {name: "1.0.0" for _, name, _ in pkgs}
    deps = {}
    for k, (_, name, _) in enumerate(pkgs):
        earlier = [p[1] for p in pkgs[:k]]
        deps[name] = sorted(rnd.sample(earlier, min(len(earlier), rnd.randint(0, 4))))

    fi = subprocess.Popen(["git", "-C", args.out, "fast-import", "--quiet"], stdin=subprocess.PIPE, env=env)
    w = fi.stdin.write
    state = {"mark": 0, "time": 1_650_000_000}

    def data(b):
        w(b"data %d\n" % len(b) + b + b"\n")

    def commit(ref, message, files, parent=None, merge=None):
        state["mark"] += 1
        state["time"] += 61
        w(b"commit %s\nmark :%d\n" % (ref.encode(), state["mark"]))
        w(b"author Dev <dev@example.com> %d +0000\n" % state["time"])
        w(b"committer Dev <dev@example.com> %d +0000\n" % state["time"])
        data(message.encode())
        if parent:
            w(b"from :%d\n" % parent)
        if merge:
            w(b"merge :%d\n" % merge)
        for path, content in files:
            w(b"M 100644 inline " + path.encode() + b"\n")
            data(content.encode())
        return state["mark"]

    def manifest_of(name):
        return manifest(args.shape, name, versions[name], [(d, versions[d]) for d in deps[name]])

    initial = dict(root_files(args.shape, len(pkgs)))
    for d, name, m in pkgs:
        initial[m] = manifest_of(name)
        for f in source_files(args.shape, d, name):
            initial[f"{d}/{f}"] = f"// {name} {f}\n"
    head = commit("refs/heads/main", "chore: initial import\n", sorted(initial.items()))
    tags = [(tag_name(args.shape, name, versions[name]), head) for _, name, _ in pkgs]

    pending = {}  # name -> strongest bump since its last release

    def change(i):
        r = rnd.random()
        if r < 0.06:
            return [(rnd.choice(["README.md", "docs/guide.md", ".github/workflows/ci.yml"]), f"{i}\n")], None, []
        touched = rnd.sample(pkgs, rnd.randint(2, 4)) if r < 0.16 else [rnd.choice(pkgs)]
        files = []
        for d, name, _ in touched:
            for f in rnd.sample(source_files(args.shape, d, name), rnd.randint(1, 3)):
                files.append((f"{d}/{f}", f"// {i} {rnd.random()}\n"))
        return files, touched[0][1].split("/")[-1], [t[1] for t in touched]

    def message(i, scope):
        if rnd.random() < 0.04:
            return f"WIP {i}\n", None
        kind = rnd.choice(["feat", "fix", "fix", "fix", "docs", "chore", "refactor", "perf", "test"])
        bang = "!" if rnd.random() < 0.01 else ""
        sc = f"({scope})" if scope and rnd.random() < 0.5 else ""
        level = "major" if bang else {"feat": "minor", "fix": "patch", "perf": "patch"}.get(kind)
        return f"{kind}{sc}{bang}: change {i}\n\nDetails of change {i}.\n", level

    order = {"patch": 1, "minor": 2, "major": 3}
    every = args.release_every or max(50, args.commits // 50)
    i = 1
    while i < args.commits:
        if rnd.random() < 0.025 and i + 4 < args.commits:
            side = head
            for _ in range(rnd.randint(1, 3)):
                files, scope, names = change(i)
                text, level = message(i, scope)
                side = commit("refs/heads/topic", text, files, parent=side)
                for n in names:
                    if level and order[level] > order.get(pending.get(n), 0):
                        pending[n] = level
                i += 1
            head = commit("refs/heads/main", f"Merge pull request #{i} from acme/topic-{i}\n", [], parent=head, merge=side)
        else:
            files, scope, names = change(i)
            text, level = message(i, scope)
            head = commit("refs/heads/main", text, files, parent=head)
            for n in names:
                if level and order[level] > order.get(pending.get(n), 0):
                    pending[n] = level
        i += 1
        # The last tenth is unreleased: every package has something pending, as on a real main.
        if args.release_every >= 0 and i % every == 0 and pending and i < args.commits * 0.9:
            released = sorted(pending.items())
            for name, level in released:
                versions[name] = bump(versions[name], level)
            files = [(m, manifest_of(name)) for _, name, m in pkgs if name in pending]
            head = commit("refs/heads/main", "chore(release): publish\n\n" + "".join(f" - {n}@{versions[n]}\n" for n, _ in released), files, parent=head)
            tags += [(tag_name(args.shape, n, versions[n]), head) for n, _ in released]
            pending = {}
            i += 1
    for name, mark in tags:
        w(b"reset refs/tags/%s\nfrom :%d\n\n" % (name.encode(), mark))
    w(b"reset refs/heads/topic\nfrom :%d\n\n" % head)
    fi.stdin.close()
    if fi.wait() != 0:
        sys.exit("shapes.py: git fast-import failed")
    run = lambda *a: subprocess.run(["git", "-C", args.out, *a], check=True, env=env)
    run("branch", "-q", "-D", "topic")
    run("reset", "-q", "--hard", "main")
    if args.pack != "fast-import":
        run("-c", f"gc.writeCommitGraph={'false' if args.pack == 'no-graph' else 'true'}", "gc", "-q")
    graph = os.path.join(args.out, ".git", "objects", "info", "commit-graph")
    if args.pack != "gc" and os.path.exists(graph):
        os.remove(graph)
    print(f"{args.out}: {args.shape}, {len(pkgs)} packages, {args.commits} commits, {len(tags)} tags, pack {args.pack}")
    return 0


if __name__ == "__main__":
    main()
