#!/usr/bin/python3
"""Kastell's exclude preview against `borgmatic create --dry-run --list`, on the same generated
home (about a million entries) and the seed's exclude list, in one run.

Reported, each the median of --rounds runs on a warm page cache:
  * wall time and peak memory of `borgmatic create --dry-run --list` (what borgmatic users run
    to check their excludes) and of `kastell excludes preview` (the same `- PATH` lines, plus
    `x PATH` for what is left out) and `kastell excludes preview --summary` (which also
    measures what is inside every left-out folder, for the size table);
  * matching alone: paths decided per second by borg's own `PatternMatcher` (in borg's Python,
    on the patterns file borgmatic writes) and by Kastell's matcher, on the same path list.

    scripts/bench-excludes.py [--entries 1000000] [--rounds 3] [--kastell target/release/kastell]

The tree is generated once into /var/tmp/kastell-bench/excludes-home-N (--tree-dir) and reused.
Needs `make setup-test` (borg, borgmatic) and a release build.
"""

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS = Path.home() / ".cache/kastell-tools/bin"

BORG_MATCHER = r'''
import json, sys, time
from borg.patterns import PatternMatcher, load_pattern_file
roots, rules = [], []
with open(sys.argv[1]) as f:
    load_pattern_file(f, roots, rules)
matcher = PatternMatcher(fallback=True)
matcher.add_inclexcl(rules)
paths = open(sys.argv[2]).read().splitlines()
start = time.perf_counter()
decided = excluded = 0
while time.perf_counter() - start < 2.0 or decided == 0:
    for p in paths:
        if not matcher.match(p):
            excluded += 1
    decided += len(paths)
seconds = time.perf_counter() - start
print(json.dumps({"paths": len(paths), "decided": decided, "excluded": excluded,
                  "seconds": seconds, "per_second": decided / seconds}))
'''


def tool(name):
    found = shutil.which(name, path=f"{TOOLS}:{os.environ.get('PATH', '')}")
    if not found:
        sys.exit(f"{name} is not installed: run `make setup-test`")
    return found


def touch(path, size):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    if size:
        os.ftruncate(fd, size)
    os.close(fd)


def generate(home, entries):
    """A developer's home: documents, photos, projects with node_modules/target/.git, caches,
    downloads, media, VM images, a .nobackup folder and cache-tagged folders."""
    rng = random.Random(7)
    made = 0

    def folder(path):
        nonlocal made
        path.mkdir(parents=True, exist_ok=True)
        made += 1
        return path

    def files(dir_, count, prefix, suffixes, max_size):
        nonlocal made
        for i in range(count):
            touch(dir_ / f"{prefix}{i}{rng.choice(suffixes)}", rng.randint(0, max_size))
        made += count

    share = entries / 1_000_000
    for year in range(2015, 2026):
        for month in range(1, 13):
            files(folder(home / "Photos" / str(year) / f"{month:02d}"), int(700 * share), "IMG_", [".jpg", ".heic"], 4_000_000)
    for d in range(int(300 * share)):
        files(folder(home / "Documents" / f"area{d % 12}" / f"topic{d}"), 120, "doc", [".odt", ".pdf", ".txt", ".ods"], 200_000)
    projects = int(180 * share)
    for p in range(projects):
        base = home / "Projects" / f"project{p}"
        for s in range(10):
            files(folder(base / "src" / f"module{s}"), 30, "file", [".rs", ".py", ".js", ".ts"], 20_000)
        for m in range(40):
            files(folder(base / "node_modules" / f"pkg{m}" / "lib"), 40, "index", [".js", ".d.ts", ".map"], 30_000)
        for t in range(6):
            files(folder(base / "target" / "debug" / "deps" / f"d{t}"), 80, "lib", [".rlib", ".rmeta", ".o"], 2_000_000)
        files(folder(base / ".git" / "objects" / "pack"), 200, "pack-", [".pack", ".idx"], 1_000_000)
        files(folder(base / "__pycache__"), 20, "mod", [".pyc"], 10_000)
    for c in range(int(400 * share)):
        files(folder(home / ".cache" / f"app{c % 40}" / f"c{c}"), 200, "entry", [""], 50_000)
    files(folder(home / "Downloads"), int(20_000 * share), "download", [".iso", ".zip", ".tar.gz", ".deb"], 50_000_000)
    for a in range(int(400 * share)):
        files(folder(home / "Music" / f"artist{a % 50}" / f"album{a}"), 12, "track", [".flac", ".mp3"], 40_000_000)
    files(folder(home / "VMs"), 6, "disk", [".qcow2", ".vdi", ".vmdk"], 20_000_000_000)
    files(folder(home / ".local/share/baloo"), 200, "index", [""], 10_000_000)
    files(folder(home / "Private"), 500, "note", [".txt"], 5_000)
    touch(home / "Private" / ".nobackup", 0)
    tagged = folder(home / "Games" / "shader-cache")
    files(tagged, 2_000, "blob", [""], 100_000)
    with open(tagged / "CACHEDIR.TAG", "w") as f:
        f.write("Signature: 8a477f597d28d172789f06886806bc55\n")
    # Top up with plain documents to the requested size.
    extra = 0
    while made < entries:
        files(folder(home / "Documents" / "archive" / f"box{extra}"), min(500, entries - made), "old", [".txt", ".pdf"], 100_000)
        extra += 1
    return made


def measure(cmd, env, out_path=None):
    """Wall seconds and peak RSS (MB) of `cmd`, from GNU time."""
    timing = tempfile.NamedTemporaryFile(delete=False)
    timing.close()
    with open(out_path or os.devnull, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", timing.name, *cmd],
                              env=env, stdout=out, stderr=subprocess.PIPE)
        wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        sys.exit(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr.decode()[-2000:]}")
    rss_kb = int(Path(timing.name).read_text().strip().splitlines()[-1])
    os.unlink(timing.name)
    return wall, rss_kb / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tree-dir", default="/var/tmp/kastell-bench",
                    help="where the generated home is kept between runs")
    ap.add_argument("--kastell", default=str(ROOT / "target/release/kastell"))
    ap.add_argument("--match-rate", default=str(ROOT / "target/release/examples/pattern_match_rate"))
    args = ap.parse_args()

    borg, borgmatic = tool("borg"), tool("borgmatic")
    borg_python = Path(borg).read_text(errors="replace").splitlines()[0][2:].strip().split()[0]
    # Not below ~/.cache: the seed's `**/.cache` would exclude the whole home.
    home = Path(args.tree_dir) / f"excludes-home-{args.entries}"
    marker = home / ".generated"
    if not marker.exists():
        if home.exists():
            shutil.rmtree(home)
        home.mkdir(parents=True)
        t = time.perf_counter()
        made = generate(home, args.entries)
        marker.write_text(str(made))
        print(f"generated {made} entries in {time.perf_counter() - t:.0f} s", file=sys.stderr)

    work = Path(tempfile.mkdtemp(prefix="kastell-bench-excludes-"))
    env = {**os.environ, "HOME": str(home), "XDG_RUNTIME_DIR": str(work),
           "BORG_CACHE_DIR": str(work / "borg-cache"), "XDG_STATE_HOME": str(work / "state"),
           "XDG_CONFIG_HOME": str(work / "config"), "PATH": f"{TOOLS}:{os.environ['PATH']}"}
    repo = work / "repo"
    subprocess.run([borg, "init", "-e", "none", str(repo)], env=env, check=True)
    seed = (ROOT / "tests/fixtures/seed-user.yaml").read_text()
    start = seed.index("repositories:")
    end = seed.index("\n\n", start)
    config = work / "user.yaml"
    config.write_text(seed[:start] + f"repositories:\n    - path: {repo}\n      label: local\n" + seed[end:])

    # The entry count and the path list (every path below the home, as borg sees them).
    paths_file = work / "paths.txt"
    with open(paths_file, "w") as f:
        for dirpath, dirnames, filenames in os.walk(home):
            f.write(dirpath + "\n")
            for name in filenames:
                f.write(os.path.join(dirpath, name) + "\n")
    entries = sum(1 for _ in open(paths_file))

    # borgmatic's own patterns file for this config (what borg's matcher is given).
    patterns_file = work / "patterns.lst"
    check = subprocess.run([args.kastell, "excludes", "check", "--config", str(config)],
                           env=env, capture_output=True, text=True, check=True)
    patterns_file.write_text(check.stdout)

    results = {"borgmatic": [], "kastell": [], "kastell_summary": []}
    memory = {"borgmatic": 0.0, "kastell": 0.0, "kastell_summary": 0.0}
    commands = {
        "borgmatic": [borgmatic, "create", "--dry-run", "--list", "-c", str(config)],
        "kastell": [args.kastell, "excludes", "preview", "--config", str(config)],
        "kastell_summary": [args.kastell, "excludes", "preview", "--summary", "--config", str(config)],
    }
    listings = {}
    # One warm-up of each, then the rounds (order alternating).
    for name, cmd in commands.items():
        measure(cmd, env, work / f"{name}.out")
    for r in range(args.rounds):
        order = list(commands) if r % 2 == 0 else list(reversed(commands))
        for name in order:
            wall, rss = measure(commands[name], env, work / f"{name}.out")
            results[name].append(wall)
            memory[name] = max(memory[name], rss)
            print(f"round {r + 1}: {name} {wall:.2f} s, {rss:.0f} MB", file=sys.stderr)
    for name in ("borgmatic", "kastell"):
        text = (work / f"{name}.out").read_text(errors="replace")
        listings[name] = {l[2:] for l in text.splitlines() if l.startswith("- ")}
    same = listings["borgmatic"] == listings["kastell"]

    borg_rate = json.loads(subprocess.run([borg_python, "-c", BORG_MATCHER, str(patterns_file), str(paths_file)],
                                          env=env, capture_output=True, text=True, check=True).stdout)
    ours_rate = json.loads(subprocess.run([args.match_rate, str(config), str(paths_file)],
                                          env=env, capture_output=True, text=True, check=True).stdout)
    if borg_rate["excluded"] * ours_rate["decided"] != ours_rate["excluded"] * borg_rate["decided"]:
        print("warning: the matchers disagree on how many paths are excluded", file=sys.stderr)

    med = {k: statistics.median(v) for k, v in results.items()}
    summary = {
        "entries": entries,
        "included_paths": len(listings["kastell"]),
        "same_included_paths": same,
        "borgmatic_s": med["borgmatic"],
        "kastell_s": med["kastell"],
        "kastell_summary_s": med["kastell_summary"],
        "ratio": med["kastell"] / med["borgmatic"],
        "ratio_summary": med["kastell_summary"] / med["borgmatic"],
        "rss_mb": memory,
        "borg_match_per_s": borg_rate["per_second"],
        "kastell_match_per_s": ours_rate["per_second"],
        "match_speedup": ours_rate["per_second"] / borg_rate["per_second"],
        "rules": len([l for l in check.stdout.splitlines() if not l.startswith("R ")]),
    }
    print(json.dumps(summary, indent=2))
    print()
    print(f"| Tree | {entries:,} entries, the seed's {summary['rules']} exclude rules + exclude_caches + exclude_if_present |")
    print("|---|---|")
    print(f"| `borgmatic create --dry-run --list` | {med['borgmatic']:.2f} s, {memory['borgmatic']:.0f} MB |")
    print(f"| `kastell excludes preview` | {med['kastell']:.2f} s, {memory['kastell']:.0f} MB (ratio {summary['ratio']:.3f}; same `- PATH` lines: {same}) |")
    print(f"| `kastell excludes preview --summary` (also measures left-out folders) | {med['kastell_summary']:.2f} s, {memory['kastell_summary']:.0f} MB (ratio {summary['ratio_summary']:.3f}) |")
    print(f"| Matching alone, borg's `PatternMatcher` | {borg_rate['per_second']:,.0f} paths/s |")
    print(f"| Matching alone, Kastell's `Matcher` | {ours_rate['per_second']:,.0f} paths/s ({summary['match_speedup']:.1f}x) |")
    shutil.rmtree(work, ignore_errors=True)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
