#!/usr/bin/python3
"""`kastell mount` against `borg mount`, in one run, on the archive of about a million entries
that `scripts/bench-reader.py` makes (reused from /var/tmp/kastell-bench/reader-N):

- time from starting the mount until `ls` of the archive root answers: Kastell with the
  archive already indexed, Kastell with the index removed (it indexes first), borg mount;
- `find MOUNT | wc -l` over the whole archive, cold (right after mounting) and warm (again);
- a sequential read of the 100 MB file (`big/movie.bin`), MB/s;
- the mount process's peak resident memory (VmHWM) at the end.

    scripts/bench-mount.py [--entries 1000000] [--rounds 2] [--kastell target/release/kastell]

Run as root here (/dev/fuse is 0600). Needs `make setup-test` and a release build.
"""

import argparse
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


def run_one(label, command, env, mnt, results):
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
        t = time.perf_counter()
        with open(mnt / "big/movie.bin", "rb") as f:
            total = 0
            while True:
                piece = f.read(1 << 20)
                if not piece:
                    break
                total += len(piece)
        read_s = time.perf_counter() - t
        rss = peak_rss_mb(proc.pid)
    finally:
        subprocess.run(["fusermount3", "-u", str(mnt)], stderr=subprocess.DEVNULL)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            subprocess.run(["fusermount3", "-uz", str(mnt)], stderr=subprocess.DEVNULL)
    row = results.setdefault(label, {"first_ls": [], "ls_after_mount": [], "find_cold": [], "find_warm": [], "mb_s": [], "rss": [], "entries": 0})
    row["first_ls"].append(first_ls)
    row["ls_after_mount"].append(ls_after_mount)
    row["find_cold"].append(find_cold)
    row["find_warm"].append(find_warm)
    row["mb_s"].append(total / 1e6 / read_s)
    row["rss"].append(rss)
    row["entries"] = int(cold.stdout.strip())
    print(f"{label}: first ls {first_ls:.2f} s ({ls_after_mount * 1000:.1f} ms after the mount appeared), find cold {find_cold:.2f} s, warm {find_warm:.2f} s, "
          f"read {total / 1e6 / read_s:.0f} MB/s, peak RSS {rss:.0f} MB, {row['entries']} entries", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--kastell", default=str(ROOT / "target/release/kastell"))
    ap.add_argument("--work-dir", default="/var/tmp/kastell-bench")
    args = ap.parse_args()
    borg = reader.tool("borg")
    base = Path(args.work_dir) / f"reader-{args.entries}"
    if not (base / ".ready").exists():
        sys.exit(f"run scripts/bench-reader.py --entries {args.entries} first (it makes the archive)")
    repo = base / "repo"
    env = {**os.environ, "BORG_PASSPHRASE": reader.PASSPHRASE, "BORG_CACHE_DIR": str(base / "cache"),
           "BORG_BASE_DIR": str(base), "HOME": str(base), "PATH": f"{reader.TOOLS}:{os.environ['PATH']}",
           "BORG_RELOCATED_REPO_ACCESS_IS_OK": "yes"}
    kenv = {k: v for k, v in env.items() if k != "BORG_PASSPHRASE"}
    config = base / "config.yaml"
    config.write_text(f"source_directories: [{base / 'tree'}]\nrepositories:\n    - path: {repo}\n      label: bench\n"
                      f"encryption_passphrase: \"{reader.PASSPHRASE}\"\n")
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
