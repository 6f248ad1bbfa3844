#!/usr/bin/python3
"""`kastell mount` against `borg mount`, in one run. Three suites (`--suite`, default all):

`reader`: the archive of about a million entries that `scripts/bench-reader.py` makes (200
files a folder; reused from /var/tmp/kastell-bench/reader-N):
- time from starting the mount until `ls` of the archive root answers: Kastell with the
  archive already indexed, Kastell with the index removed (it indexes first), borg mount;
- `find MOUNT | wc -l` over the whole archive, cold (right after mounting) and warm (again);
- a sequential read of the 100 MB file (`big/movie.bin`), MB/s;
- the mount process's peak resident memory (VmHWM) at the end.

`home`: a home-shaped archive of about a million entries with 40 entries a folder (16 × 40 ×
40 folders of 39 small files), made once into /var/tmp/kastell-bench/home-N: the same
measurements without the big file; the warm `find` is where a mount can let the kernel keep
listings and attributes.

`small-chunks`: a 62 MB file in a repository made with `--chunker-params buzhash,10,14,12,4095`
(chunks of 1-16 KiB): sequential read speed through each mount, a fresh mount each round.

    scripts/bench-mount.py [--suite reader|home|small-chunks] [--entries 1000000] [--rounds 2]
                           [--kastell target/release/kastell]

Run as root here (/dev/fuse is 0600). Needs `make setup-test` and a release build.
"""

import argparse
import json
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("bench_reader", ROOT / "scripts/bench-reader.py")
reader = importlib.util.module_from_spec(spec)
spec.loader.exec_module(reader)


def peak_rss_mb(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def run_one(label, command, env, mnt, results, read_path="big/movie.bin"):
    """Mounts with `command`, measures, unmounts."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    first_ls = None
    ls_after_mount = None
    try:
        while time.perf_counter() - started < 900:
            if proc.poll() is not None:
                raise SystemExit(f"{label}: the mount exited: {proc.stderr.read().decode()[-800:]}")
            if os.path.ismount(mnt):
                t = time.perf_counter()
                if os.listdir(mnt):
                    ls_after_mount = time.perf_counter() - t
                    first_ls = time.perf_counter() - started
                    break
            time.sleep(0.01)
        t = time.perf_counter()
        cold = subprocess.run(f"find {mnt} | wc -l", shell=True, capture_output=True, text=True, check=True)
        find_cold = time.perf_counter() - t
        t = time.perf_counter()
        subprocess.run(f"find {mnt} | wc -l", shell=True, capture_output=True, text=True, check=True)
        find_warm = time.perf_counter() - t
        total, read_s = read_through(mnt / read_path) if read_path else (0, float("nan"))
        rss = peak_rss_mb(proc.pid)
    finally:
        unmount(proc, mnt)
    row = results.setdefault(label, {"first_ls": [], "ls_after_mount": [], "find_cold": [], "find_warm": [], "mb_s": [], "rss": [], "entries": 0})
    row["first_ls"].append(first_ls)
    row["ls_after_mount"].append(ls_after_mount)
    row["find_cold"].append(find_cold)
    row["find_warm"].append(find_warm)
    row["mb_s"].append(total / 1e6 / read_s if read_path else float("nan"))
    row["rss"].append(rss)
    row["entries"] = int(cold.stdout.strip())
    print(f"{label}: first ls {first_ls:.2f} s ({ls_after_mount * 1000:.1f} ms after the mount appeared), find cold {find_cold:.2f} s, warm {find_warm:.2f} s, "
          f"read {total / 1e6 / read_s:.0f} MB/s, peak RSS {rss:.0f} MB, {row['entries']} entries", file=sys.stderr)


def read_through(path):
    """Reads `path` sequentially in 1 MiB pieces; (bytes, seconds)."""
    t = time.perf_counter()
    total = 0
    with open(path, "rb") as f:
        while True:
            piece = f.read(1 << 20)
            if not piece:
                break
            total += len(piece)
    return total, time.perf_counter() - t


def wait_mounted(proc, mnt, label):
    started = time.perf_counter()
    while time.perf_counter() - started < 900:
        if proc.poll() is not None:
            raise SystemExit(f"{label}: the mount exited: {proc.stderr.read().decode()[-800:]}")
        if os.path.ismount(mnt) and os.listdir(mnt):
            return
        time.sleep(0.01)
    raise SystemExit(f"{label}: not mounted after 900 s")


def unmount(proc, mnt):
    subprocess.run(["fusermount3", "-u", str(mnt)], stderr=subprocess.DEVNULL)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        subprocess.run(["fusermount3", "-uz", str(mnt)], stderr=subprocess.DEVNULL)


def bench_env(base):
    env = {**os.environ, "BORG_PASSPHRASE": reader.PASSPHRASE, "BORG_CACHE_DIR": str(base / "cache"),
           "BORG_BASE_DIR": str(base), "HOME": str(base), "PATH": f"{reader.TOOLS}:{os.environ['PATH']}",
           "BORG_RELOCATED_REPO_ACCESS_IS_OK": "yes"}
    return env, {k: v for k, v in env.items() if k != "BORG_PASSPHRASE"}


def write_config(base, repo, source):
    config = base / "config.yaml"
    config.write_text(f"source_directories: [{source}]\nrepositories:\n    - path: {repo}\n      label: bench\n"
                      f"encryption_passphrase: \"{reader.PASSPHRASE}\"\n")
    return config


def generate_home(tree, entries):
    """Folders of 40 entries, as homes have them: 16 areas of 40 projects of 40 folders of
    39 small files (0-2 kB), trimmed to `entries`."""
    import random
    rng = random.Random(7)
    made = 0
    for a in range(16):
        for p in range(40):
            for d in range(40):
                if made >= entries:
                    return made
                folder = tree / f"area{a:02}" / f"project{p:02}" / f"folder{d:02}"
                folder.mkdir(parents=True, exist_ok=True)
                made += 1
                for i in range(39):
                    with open(folder / f"file{i:02}.txt", "wb") as f:
                        f.write(os.urandom(rng.randint(0, 2048)))
                    made += 1
    return made


def suite_home(args, borg):
    base = Path(args.work_dir) / f"home-{args.entries}"
    env, kenv = bench_env(base)
    tree, repo = base / "tree", base / "repo"
    if not (base / ".ready").exists():
        shutil.rmtree(base, ignore_errors=True)
        tree.mkdir(parents=True)
        t = time.perf_counter()
        made = generate_home(tree, args.entries)
        print(f"generated {made} entries in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        subprocess.run([borg, "init", "-e", "repokey-blake2", str(repo)], env=env, check=True)
        subprocess.run([borg, "create", "-C", "lz4", f"{repo}::bench", "."], cwd=tree, env=env, check=True)
        (base / ".ready").write_text("ok")
    config = write_config(base, repo, tree)
    mnt = Path(tempfile.mkdtemp(prefix="kastell-bench-mount-"))
    kastell = [args.kastell, "mount", "--config", str(config), "--repository", "bench", "--archive", "bench", str(mnt)]
    results = {}
    for _ in range(args.rounds):
        run_one("kastell mount", kastell, kenv, mnt, results, read_path=None)
        run_one("borg mount", [borg, "mount", "-f", f"{repo}::bench", str(mnt)], env, mnt, results, read_path=None)
    shutil.rmtree(mnt, ignore_errors=True)
    med = {label: {k: statistics.median(v) for k, v in row.items() if isinstance(v, list)} for label, row in results.items()}
    k, b = med["kastell mount"], med["borg mount"]
    print()
    print(f"| {results['borg mount']['entries']:,} entries, 40 a folder, {args.rounds} rounds (medians) | start → first `ls` | `find \\| wc -l` cold | warm | peak RSS |")
    print("|---|---:|---:|---:|---:|")
    for label, row in med.items():
        print(f"| {label} | {row['first_ls']:.2f} s | {row['find_cold']:.2f} s | {row['find_warm']:.2f} s | {row['rss']:.0f} MB |")
    print()
    print(f"find warm speed-up: {b['find_warm'] / k['find_warm']:.1f}× (target ≥ 20), cold: {b['find_cold'] / k['find_cold']:.1f}×")


def suite_small_chunks(args, borg):
    base = Path(args.work_dir) / "small-chunks"
    env, kenv = bench_env(base)
    tree, repo = base / "tree", base / "repo"
    if not (base / ".ready").exists():
        shutil.rmtree(base, ignore_errors=True)
        tree.mkdir(parents=True)
        with open(tree / "data.bin", "wb") as f:
            f.write(os.urandom(62 * 1000 * 1000))
        subprocess.run([borg, "init", "-e", "repokey-blake2", str(repo)], env=env, check=True)
        subprocess.run([borg, "create", "-C", "lz4", "--chunker-params", "buzhash,10,14,12,4095",
                        f"{repo}::bench", "."], cwd=tree, env=env, check=True)
        (base / ".ready").write_text("ok")
    config = write_config(base, repo, tree)
    chunks = subprocess.run([borg, "info", "--json", f"{repo}::bench"], env=env, capture_output=True, text=True, check=True)
    unique = json.loads(chunks.stdout)["cache"]["stats"]["total_unique_chunks"]
    mnt = Path(tempfile.mkdtemp(prefix="kastell-bench-mount-"))
    commands = {
        "kastell mount": ([args.kastell, "mount", "--config", str(config), "--repository", "bench", "--archive", "bench", str(mnt)], kenv),
        "borg mount": ([borg, "mount", "-f", f"{repo}::bench", str(mnt)], env),
    }
    # Index built before the runs: this suite measures reading, not indexing.
    subprocess.run([args.kastell, "index", "--config", str(config), "--repository", "bench"], env=kenv,
                   stdout=subprocess.DEVNULL, check=True)
    speeds = {label: [] for label in commands}
    for _ in range(args.rounds * 2):
        for label, (command, e) in commands.items():
            proc = subprocess.Popen(command, env=e, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                wait_mounted(proc, mnt, label)
                total, seconds = read_through(mnt / "data.bin")
            finally:
                unmount(proc, mnt)
            speeds[label].append((total / 1e6 / seconds, seconds))
            print(f"{label}: {total / 1e6:.0f} MB in {seconds:.2f} s = {total / 1e6 / seconds:.0f} MB/s", file=sys.stderr)
    shutil.rmtree(mnt, ignore_errors=True)
    print()
    print(f"| 62 MB file, chunks of 1-16 KiB ({unique:,} chunks), {args.rounds * 2} rounds (medians) | read time | MB/s |")
    print("|---|---:|---:|")
    for label, rows in speeds.items():
        print(f"| {label} | {statistics.median(s for _, s in rows):.2f} s | {statistics.median(m for m, _ in rows):.0f} MB/s |")
    k = statistics.median(m for m, _ in speeds["kastell mount"])
    b = statistics.median(m for m, _ in speeds["borg mount"])
    print()
    print(f"small-chunk read: {k / b:.2f}× borg mount (target ≥ 1)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--suite", choices=["reader", "home", "small-chunks", "all"], default="all")
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--kastell", default=str(ROOT / "target/release/kastell"))
    ap.add_argument("--work-dir", default="/var/tmp/kastell-bench")
    args = ap.parse_args()
    borg = reader.tool("borg")
    if args.suite in ("small-chunks", "all"):
        suite_small_chunks(args, borg)
    if args.suite in ("home", "all"):
        suite_home(args, borg)
    if args.suite in ("reader", "all"):
        suite_reader(args, borg)


def suite_reader(args, borg):
    base = Path(args.work_dir) / f"reader-{args.entries}"
    if not (base / ".ready").exists():
        message = f"run scripts/bench-reader.py --entries {args.entries} first (it makes the archive)"
        if args.suite == "all":
            print(f"suite reader skipped: {message}", file=sys.stderr)
            return
        sys.exit(message)
    repo = base / "repo"
    env, kenv = bench_env(base)
    config = write_config(base, repo, base / "tree")
    cache = base / ".cache/kastell/archives"
    mnt = Path(tempfile.mkdtemp(prefix="kastell-bench-mount-"))
    kastell = [args.kastell, "mount", "--config", str(config), "--repository", "bench", "--archive", "bench", str(mnt)]
    results = {}
    subprocess.run(["cat", str(repo / "index.1")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for r in range(args.rounds):
        shutil.rmtree(cache, ignore_errors=True)
        run_one("kastell mount (not yet indexed)", kastell, kenv, mnt, results)
        run_one("kastell mount (indexed)", kastell, kenv, mnt, results)
        run_one("borg mount", [borg, "mount", "-f", f"{repo}::bench", str(mnt)], env, mnt, results)
    shutil.rmtree(mnt, ignore_errors=True)

    med = {label: {k: statistics.median(v) for k, v in row.items() if isinstance(v, list)} for label, row in results.items()}
    borg_row = med["borg mount"]
    print()
    print(f"| {results['borg mount']['entries']:,} entries, {args.rounds} rounds (medians) | start → first `ls` | first `ls` once mounted | `find \\| wc -l` cold | warm | 100 MB read | peak RSS |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, row in med.items():
        print(f"| {label} | {row['first_ls']:.2f} s | {row['ls_after_mount'] * 1000:.1f} ms | {row['find_cold']:.2f} s | {row['find_warm']:.2f} s | "
              f"{row['mb_s']:.0f} MB/s | {row['rss']:.0f} MB |")
    k_new, k_old = med["kastell mount (not yet indexed)"], med["kastell mount (indexed)"]
    print()
    print(f"first ls of the indexed archive once mounted: {k_old['ls_after_mount'] * 1000:.1f} ms; "
          f"from starting kastell: {k_old['first_ls'] * 1000:.0f} ms (target 50 ms)")
    print(f"first ls, not indexed / borg: {k_new['first_ls'] / borg_row['first_ls']:.3f} (target ≤ 0.1)")
    print(f"find warm speed-up: {borg_row['find_warm'] / k_old['find_warm']:.1f}× (target ≥ 10), "
          f"cold: {borg_row['find_cold'] / k_old['find_cold']:.1f}× (target ≥ 4)")
    print(f"sequential read: {k_old['mb_s']:.0f} vs {borg_row['mb_s']:.0f} MB/s")


if __name__ == "__main__":
    main()
