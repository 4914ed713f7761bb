#!/usr/bin/env python3
"""Generates a monorepo with a long history, for `bench/status.sh`.

    python3 bench/history.py OUT_DIR --packages N --commits M [--seed S]

N packages across the three ecosystems (40% Cargo crates under crates/, 40% npm packages under
packages/, 20% Python distributions under python/), each depending on up to five earlier packages of
its ecosystem (Cargo path dependencies, some renamed or dev-only; npm `workspace:^` and plain ranges,
some dev or peer; PEP 621 requirements) plus a few outside ones, then M commits written with `git fast-import`:
most touch one package, some several, some none; about one in forty is a `--no-ff` merge of a short
branch; every 2,000 commits a release tags a tenth of the packages (`name@version` for npm,
`name-v<version>` for the others). Messages are Conventional Commits, with a few that are not.
The result is packed by `git gc`, as a real repository is. Deterministic for a given seed.
"""

import argparse
import os
import random
import subprocess
import sys


def layout(n):
    """(ecosystem, directory, name) of every package."""
    out = []
    for i in range(n):
        r = i % 10
        if r < 4:
            out.append(("cargo", f"crates/c{i:05d}", f"acme-c{i:05d}"))
        elif r < 8:
            out.append(("npm", f"packages/p{i:05d}", f"@acme/p{i:05d}"))
        else:
            out.append(("python", f"python/y{i:05d}", f"acme-y{i:05d}"))
    return out


def manifests(pkgs, rnd):
    """Every file of the initial import: manifests with internal dependencies forming a DAG."""
    files = {
        "Cargo.toml": '[workspace]\nresolver = "2"\nmembers = ["crates/*"]\n',
        "package.json": '{ "private": true, "workspaces": ["packages/*"] }\n',
        "README.md": "# acme\n",
    }
    seen = {"cargo": [], "npm": [], "python": []}
    for eco, d, name in pkgs:
        earlier = seen[eco]
        deps = rnd.sample(earlier, min(len(earlier), rnd.randint(0, 5)))
        if eco == "cargo":
            normal, dev = [], []
            for k, (_, dd, dn) in enumerate(deps):
                rel = "../" + dd.split("/")[-1]
                if k == 0 and rnd.random() < 0.2:
                    normal.append(f'renamed{k} = {{ package = "{dn}", path = "{rel}", version = "1.0.0" }}')
                elif rnd.random() < 0.2:
                    dev.append(f'{dn} = {{ path = "{rel}" }}')
                else:
                    normal.append(f'{dn} = {{ path = "{rel}", version = "1.0.0" }}')
            normal.append('serde = "1"')
            text = f'[package]\nname = "{name}"\nversion = "1.0.0"\nedition = "2021"\n\n[dependencies]\n' + "\n".join(normal) + "\n"
            if dev:
                text += "\n[dev-dependencies]\n" + "\n".join(dev) + "\n"
            files[f"{d}/Cargo.toml"] = text
            files[f"{d}/src/lib.rs"] = "pub fn f() {}\n"
        elif eco == "npm":
            sections = {"dependencies": {"lodash": "^4.17.21"}, "devDependencies": {}, "peerDependencies": {}}
            for _, _, dn in deps:
                r = rnd.random()
                section = "devDependencies" if r < 0.2 else "peerDependencies" if r < 0.3 else "dependencies"
                sections[section][dn] = "workspace:^" if rnd.random() < 0.6 else "^1.0.0"
            body = ",\n".join(
                f'  "{k}": {{ ' + ", ".join(f'"{n}": "{v}"' for n, v in sorted(v.items())) + " }"
                for k, v in sections.items()
                if v
            )
            files[f"{d}/package.json"] = f'{{\n  "name": "{name}",\n  "version": "1.0.0",\n{body}\n}}\n'
            files[f"{d}/index.js"] = "module.exports = {};\n"
        else:
            reqs = [f'"{dn}>=1.0"' for _, _, dn in deps] + ['"requests>=2"']
            files[f"{d}/pyproject.toml"] = (
                f'[project]\nname = "{name}"\nversion = "1.0.0"\ndependencies = [' + ", ".join(reqs) + "]\n"
            )
            files[f"{d}/src/m.py"] = "x = 1\n"
        earlier.append((eco, d, name))
    return files


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--packages", type=int, default=1000)
    ap.add_argument("--commits", type=int, default=100000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    if os.path.exists(args.out) and os.listdir(args.out):
        sys.exit(f"history.py: {args.out} is not empty")
    os.makedirs(args.out, exist_ok=True)
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull)
    subprocess.run(["git", "init", "-q", "-b", "main", args.out], check=True, env=env)
    pkgs = layout(args.packages)
    fi = subprocess.Popen(["git", "-C", args.out, "fast-import", "--quiet"], stdin=subprocess.PIPE, env=env)
    w = fi.stdin.write
    state = {"mark": 0, "time": 1_600_000_000}

    def data(b):
        w(b"data %d\n" % len(b) + b + b"\n")

    def commit(ref, message, files, parent=None, merge=None):
        state["mark"] += 1
        state["time"] += 37
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

    def message(i, scope):
        r = rnd.random()
        if r < 0.05:
            return f"update stuff {i}"
        kind = rnd.choice(["feat", "fix", "fix", "docs", "chore", "refactor", "perf", "test"])
        bang = "!" if rnd.random() < 0.02 else ""
        sc = f"({scope})" if scope and rnd.random() < 0.4 else ""
        return f"{kind}{sc}{bang}: change {i}\n\nMore detail about change {i}.\n"

    def edit(i):
        r = rnd.random()
        touched = [] if r < 0.08 else rnd.sample(pkgs, rnd.randint(2, 6)) if r < 0.20 else [rnd.choice(pkgs)]
        files = []
        for eco, d, _ in touched:
            for _ in range(rnd.randint(1, 3)):
                files.append((f"{d}/src/f{rnd.randint(0, 9)}.txt", f"{i} {rnd.random()}\n"))
        if not touched:
            files.append((rnd.choice(["README.md", "docs/guide.md", ".github/ci.yml"]), f"{i}\n"))
        scope = touched[0][2].split("/")[-1] if touched else None
        return files, scope

    head = commit("refs/heads/main", "chore: initial import\n", sorted(manifests(pkgs, rnd).items()))
    versions = {}
    i = 1
    while i < args.commits:
        if rnd.random() < 0.025 and i + 4 < args.commits:
            # A short branch merged with --no-ff.
            side = head
            for _ in range(rnd.randint(1, 3)):
                files, scope = edit(i)
                side = commit("refs/heads/topic", message(i, scope), files, parent=side)
                i += 1
            files, _ = edit(i)
            head = commit("refs/heads/main", f"Merge branch 'topic-{i}'\n", files, parent=head, merge=side)
        else:
            files, scope = edit(i)
            head = commit("refs/heads/main", message(i, scope), files, parent=head)
        i += 1
        if i % 2000 == 0:
            for eco, _, name in rnd.sample(pkgs, max(1, len(pkgs) // 10)):
                v = versions.get(name, 0) + 1
                versions[name] = v
                tag = f"{name}@1.{v}.0" if eco == "npm" else f"{name}-v1.{v}.0"
                w(b"reset refs/tags/%s\nfrom :%d\n\n" % (tag.encode(), head))
    w(b"reset refs/heads/topic\nfrom :%d\n\n" % head)
    fi.stdin.close()
    if fi.wait() != 0:
        sys.exit("history.py: git fast-import failed")
    subprocess.run(["git", "-C", args.out, "branch", "-q", "-D", "topic"], check=True, env=env)
    subprocess.run(["git", "-C", args.out, "reset", "-q", "--hard", "main"], check=True, env=env)
    subprocess.run(["git", "-C", args.out, "gc", "-q"], check=True, env=env)
    print(f"{args.out}: {len(pkgs)} packages, {args.commits} commits, {sum(versions.values())} tags")
    return 0


if __name__ == "__main__":
    main()
