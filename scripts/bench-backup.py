#!/usr/bin/python3
"""Kastell's backup engine against plain `borgmatic create`, on the same generated tree.

Each round backs up the tree into a fresh repository (and a fresh borg cache) once with
`borgmatic --config C create` and once with `kastell backup --config C --only create`,
alternating which goes first. Reported: wall time of each, the ratio (target <= 1.03), and
Kastell's own CPU time and peak memory (its process only; borgmatic and borg run under both).

    scripts/bench-backup.py [--files 100000] [--big-files 32] [--big-mb 64] [--rounds 3]

Needs `make setup-test` (borg, borgmatic) and a release build (`cargo build --release`).
"""

import argparse
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


def tool(name):
    found = shutil.which(name, path=f"{TOOLS}:{os.environ.get('PATH', '')}")
    if not found:
        sys.exit(f"{name} is not installed: run `make setup-test`")
    return found


def generate(tree, files, big_files, big_mb):
    """Small files of 1-20 kB in nested folders, plus a few big ones: all incompressible."""
    rng = random.Random(42)
    blob = os.urandom(32 * 1024 * 1024)
    total = 0
    for i in range(files - big_files):
        folder = tree / f"d{i // 1000:03d}" / f"e{(i // 50) % 20:02d}"
        if i % 50 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        size = rng.randint(1024, 20 * 1024)
        start = rng.randint(0, len(blob) - size)
        # A unique prefix keeps files from deduplicating against each other.
        data = i.to_bytes(8, "little") + blob[start:start + size]
        (folder / f"f{i}.bin").write_bytes(data)
        total += len(data)
    big = tree / "big"
    big.mkdir(exist_ok=True)
    for i in range(big_files):
        with open(big / f"big{i}.bin", "wb") as f:
            for _ in range(big_mb):
                chunk = os.urandom(1024 * 1024)
                f.write(chunk)
                total += len(chunk)
    return total


def measure(argv, env):
    """Runs argv; returns wall seconds, the process's own CPU seconds and peak RSS (kB).

    The process's own figures come from /proc while it runs (its children are not in them);
    the last sample before it exits is what is reported."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ticks = os.sysconf("SC_CLK_TCK")
    cpu, peak = 0.0, 0
    while proc.poll() is None:
        try:
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            cpu = (int(fields[11]) + int(fields[12])) / ticks
            for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except (FileNotFoundError, ProcessLookupError, IndexError):
            pass
        time.sleep(0.05)
    wall = time.monotonic() - start
    err = proc.stderr.read().decode(errors="replace")
    if proc.returncode != 0:
        sys.exit(f"{argv[0]} failed ({proc.returncode}):\n{err[-3000:]}")
    return wall, cpu, peak


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--big-files", type=int, default=32)
    parser.add_argument("--big-mb", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--kastell", default=str(ROOT / "target/release/kastell"))
    parser.add_argument("--workdir", default=None, help="where the tree and repositories go")
    args = parser.parse_args()

    borg, borgmatic = tool("borg"), tool("borgmatic")
    if not Path(args.kastell).is_file():
        sys.exit(f"{args.kastell} not found: run `cargo build --release` first")
    work = Path(tempfile.mkdtemp(prefix="kastell-bench-", dir=args.workdir))
    try:
        home = work / "home"
        (home / ".config/borgmatic").mkdir(parents=True)
        tree = work / "tree"
        print(f"generating {args.files} files in {tree} ...", file=sys.stderr)
        total = generate(tree, args.files, args.big_files, args.big_mb)
        repo = work / "repo"
        config = home / ".config/borgmatic/bench.yaml"
        config.write_text(
            f"source_directories:\n    - {tree}\n"
            f"repositories:\n    - path: {repo}\n      label: bench\n"
            "encryption_passphrase: bench-passphrase\n"
            "compression: lz4\n"
            "archive_name_format: 'bench-{now:%Y-%m-%dT%H:%M:%S.%f}'\n"
        )
        env = dict(os.environ)
        env.update(
            HOME=str(home),
            XDG_CONFIG_HOME=str(home / ".config"),
            XDG_STATE_HOME=str(home / ".local/state"),
            BORG_CACHE_DIR=str(work / "borg-cache"),
            PATH=f"{Path(borg).parent}:{env.get('PATH', '')}",
            KASTELL_BORG=borg,
            KASTELL_BORGMATIC=borgmatic,
        )
        env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        commands = {
            "borgmatic": [borgmatic, "--config", str(config), "create"],
            "kastell": [args.kastell, "backup", "--config", str(config), "--only", "create",
                        "--no-notify"],
        }

        def fresh_repository():
            shutil.rmtree(repo, ignore_errors=True)
            shutil.rmtree(work / "borg-cache", ignore_errors=True)
            subprocess.run([borgmatic, "--config", str(config), "repo-create", "--encryption",
                            "repokey-blake2"], env=env, check=True, capture_output=True)

        # One unmeasured run of each warms the page cache and gives Kastell's history an
        # estimate, as any run after the first has.
        for name in commands:
            fresh_repository()
            measure(commands[name], env)
        results = {name: [] for name in commands}
        for round_ in range(args.rounds):
            order = list(commands) if round_ % 2 == 0 else list(reversed(commands))
            for name in order:
                fresh_repository()
                wall, cpu, peak = measure(commands[name], env)
                results[name].append((wall, cpu, peak))
                print(f"round {round_ + 1} {name}: {wall:.2f} s", file=sys.stderr)

        med = {n: statistics.median(r[0] for r in rs) for n, rs in results.items()}
        ratio = med["kastell"] / med["borgmatic"]
        k_cpu = statistics.median(r[1] for r in results["kastell"])
        k_rss = max(r[2] for r in results["kastell"])
        b_rss = max(r[2] for r in results["borgmatic"])
        print(f"\nTree: {args.files} files, {total / 1e9:.2f} GB (incompressible), lz4, "
              f"fresh repository and cache each run, {args.rounds} rounds alternating.\n")
        print("| | median wall time | all runs (s) | own CPU | own peak RSS |")
        print("|---|---|---|---|---|")
        for name in commands:
            runs = ", ".join(f"{r[0]:.1f}" for r in results[name])
            cpu = statistics.median(r[1] for r in results[name])
            rss = max(r[2] for r in results[name])
            label = "`borgmatic create`" if name == "borgmatic" else "`kastell backup --only create`"
            print(f"| {label} | {med[name]:.2f} s | {runs} | {cpu:.2f} s | {rss / 1024:.1f} MB |")
        print(f"\nWall-time ratio Kastell / borgmatic: **{ratio:.3f}** (target: at most 1.03).")
        print(f"Kastell's own overhead: {k_cpu:.2f} s CPU per run, {k_rss / 1024:.1f} MB peak RSS "
              f"(borgmatic's own process: {b_rss / 1024:.1f} MB).")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
