#!/usr/bin/python3
"""Kastell's archive index against borg, in one run.

On the archive of about a million entries that `scripts/bench-reader.py` makes (reused from
/var/tmp/kastell-bench/reader-N): the cold index build (`kastell index`) against
`borg list --format` and against `borg mount` (time until the first `ls` of the mount
answers), the index's bytes per entry, the warm time to show the root and a deep folder, and
a name search over every entry. On a second repository with --archives archives (default 50)
of a --multi-entries tree (default 100,000; every archive a little different): a search
across all archives and the versions of one path across all of them.

    scripts/bench-index.py [--entries 1000000] [--archives 50] [--multi-entries 100000]
                           [--kastell target/release/kastell] [--queries target/release/examples/index_queries]

Needs `make setup-test`, a release build and `cargo build --release --example index_queries`.
Run as root (here /dev/fuse is 0600) for the `borg mount` column.
"""

import argparse
import importlib.util
import json
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

PASSPHRASE = reader.PASSPHRASE


def ensure_big(base, entries, env, borg):
    tree, repo = base / "tree", base / "repo"
    if not (base / ".ready").exists():
        shutil.rmtree(base, ignore_errors=True)
        tree.mkdir(parents=True)
        reader.generate(tree, entries)
        subprocess.run([borg, "init", "-e", "repokey-blake2", str(repo)], env=env, check=True)
        subprocess.run([borg, "create", "-C", "lz4", f"{repo}::bench", "."], cwd=tree, env=env, check=True)
        (base / ".ready").write_text("ok")
    return tree, repo


def ensure_multi(base, entries, archives, env, borg):
    """A tree of `entries` files and `archives` archives of it, one file changed before each."""
    tree, repo = base / "tree", base / "repo"
    marker = base / f".ready-{archives}"
    if marker.exists():
        return tree, repo
    shutil.rmtree(base, ignore_errors=True)
    tree.mkdir(parents=True)
    reader.generate(tree, entries)
    shutil.rmtree(tree / "big")
    subprocess.run([borg, "init", "-e", "repokey-blake2", str(repo)], env=env, check=True)
    diary = tree / "area0" / "diary.txt"
    for n in range(archives):
        # Every third archive sees a new version of the diary.
        if n % 3 == 0:
            diary.write_text(f"entry {n}\n" * (n + 1))
        started = time.perf_counter()
        subprocess.run([borg, "create", "-C", "lz4", f"{repo}::day-{n:03d}", "."], cwd=tree, env=env, check=True)
        print(f"archive {n + 1}/{archives}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    marker.write_text("ok")
    return tree, repo


def timed(cmd, env, cwd=None):
    wall, rss = reader.measure(cmd, env)
    return wall, rss


def borg_mount_first_ls(borg, repo, env, archive):
    """Seconds from starting `borg mount` until `ls` of the archive's root answers."""
    mnt = Path(tempfile.mkdtemp(prefix="kastell-bench-mnt-"))
    started = time.perf_counter()
    proc = subprocess.Popen([borg, "mount", "-f", f"{repo}::{archive}", str(mnt)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    first = None
    try:
        while time.perf_counter() - started < 600:
            if proc.poll() is not None:
                raise SystemExit(f"borg mount exited: {proc.stderr.read().decode()[-800:]}")
            if os.path.ismount(mnt):
                names = os.listdir(mnt)
                if names:
                    first = time.perf_counter() - started
                    break
            time.sleep(0.02)
    finally:
        subprocess.run(["fusermount3", "-u", str(mnt)], stderr=subprocess.DEVNULL)
        subprocess.run(["umount", str(mnt)], stderr=subprocess.DEVNULL)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(mnt, ignore_errors=True)
    return first


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--archives", type=int, default=50)
    ap.add_argument("--multi-entries", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--kastell", default=str(ROOT / "target/release/kastell"))
    ap.add_argument("--queries", default=str(ROOT / "target/release/examples/index_queries"))
    ap.add_argument("--work-dir", default="/var/tmp/kastell-bench")
    ap.add_argument("--no-mount", action="store_true")
    args = ap.parse_args()
    borg = reader.tool("borg")
    results = {}

    base = Path(args.work_dir) / f"reader-{args.entries}"
    env = {**os.environ, "BORG_PASSPHRASE": PASSPHRASE, "BORG_CACHE_DIR": str(base / "cache"),
           "BORG_BASE_DIR": str(base), "HOME": str(base), "PATH": f"{reader.TOOLS}:{os.environ['PATH']}",
           "BORG_RELOCATED_REPO_ACCESS_IS_OK": "yes"}
    tree, repo = ensure_big(base, args.entries, env, borg)
    config = base / "config.yaml"
    config.write_text(f"source_directories: [{tree}]\nrepositories:\n    - path: {repo}\n      label: bench\n"
                      f"encryption_passphrase: \"{PASSPHRASE}\"\n")
    kenv = {k: v for k, v in env.items() if k != "BORG_PASSPHRASE"}
    cache = base / ".cache/kastell/archives"
    list_cmd = [borg, "list", "--format", "{mode} {user} {group} {size} {mtime} {path}{NL}", f"{repo}::bench"]
    index_cmd = [args.kastell, "index", "--config", str(config), "--repository", "bench", "--archive", "bench"]
    reader.measure(list_cmd, env)  # page cache warm for both
    builds, lists, mounts, build_rss, list_rss = [], [], [], 0, 0
    for r in range(args.rounds):
        shutil.rmtree(cache, ignore_errors=True)
        wall, rss = reader.measure(index_cmd, kenv)
        builds.append(wall)
        build_rss = max(build_rss, rss)
        wall, rss = reader.measure(list_cmd, env)
        lists.append(wall)
        list_rss = max(list_rss, rss)
        if not args.no_mount:
            mounts.append(borg_mount_first_ls(borg, repo, env, "bench"))
        print(f"round {r + 1}: index {builds[-1]:.2f} s, borg list {lists[-1]:.2f} s"
              + (f", borg mount first ls {mounts[-1]:.2f} s" if mounts else ""), file=sys.stderr)
    index_dir = next(cache.iterdir())
    deep = "area7/project3/dir157"
    q = json.loads(subprocess.run([args.queries, str(index_dir), deep, "movie*", "big/movie.bin"],
                                  capture_output=True, text=True, check=True).stdout)
    # A pattern that matches half the archive: the cost of collecting hits.
    broad = json.loads(subprocess.run([args.queries, str(index_dir), deep, "file1*.txt", "big/movie.bin"],
                                      capture_output=True, text=True, check=True).stdout)
    q["search_broad_ms"] = broad["search_one_archive_ms"]
    q["search_broad_hits"] = broad["search_hits_one_archive"]
    results["big"] = {"entries": args.entries, "index_build_s": statistics.median(builds),
                      "index_build_rss_mb": build_rss, "borg_list_s": statistics.median(lists),
                      "borg_list_rss_mb": list_rss,
                      "borg_mount_first_ls_s": statistics.median(mounts) if mounts else None, **q}

    mbase = Path(args.work_dir) / f"index-{args.multi_entries}x{args.archives}"
    menv = {**env, "BORG_CACHE_DIR": str(mbase / "cache"), "BORG_BASE_DIR": str(mbase), "HOME": str(mbase)}
    mtree, mrepo = ensure_multi(mbase, args.multi_entries, args.archives, menv, borg)
    mconfig = mbase / "config.yaml"
    mconfig.write_text(f"source_directories: [{mtree}]\nrepositories:\n    - path: {mrepo}\n      label: days\n"
                       f"encryption_passphrase: \"{PASSPHRASE}\"\n")
    mkenv = {k: v for k, v in menv.items() if k != "BORG_PASSPHRASE"}
    mcache = mbase / ".cache/kastell/archives"
    shutil.rmtree(mcache, ignore_errors=True)
    started = time.perf_counter()
    subprocess.run([args.kastell, "index", "--config", str(mconfig), "--repository", "days"], env=mkenv,
                   check=True, stdout=subprocess.DEVNULL)
    all_build = time.perf_counter() - started
    mq = json.loads(subprocess.run([args.queries, str(next(mcache.iterdir())), "area3/project0/dir3", "diary*",
                                    "area0/diary.txt"], capture_output=True, text=True, check=True).stdout)
    # The whole command, process start and index opening included.
    find_wall, _ = reader.measure([args.kastell, "find", "--config", str(mconfig), "--repository", "days", "diary*"], mkenv)
    versions_wall, _ = reader.measure([args.kastell, "versions", "--config", str(mconfig), "--repository", "days",
                                       "area0/diary.txt"], mkenv)
    results["multi"] = {"entries_per_archive": args.multi_entries, "archives": args.archives,
                        "index_all_s": all_build, "kastell_find_command_s": find_wall,
                        "kastell_versions_command_s": versions_wall, **mq}
    print(json.dumps(results, indent=2))

    b, m = results["big"], results["multi"]
    print()
    print(f"| {args.entries:,}-entry archive | Kastell | borg | target |")
    print("|---|---:|---:|---|")
    print(f"| cold index build vs `borg list --format` | {b['index_build_s']:.2f} s ({b['index_build_rss_mb']:.0f} MB) "
          f"| {b['borg_list_s']:.2f} s ({b['borg_list_rss_mb']:.0f} MB) | ≤ 1/15: ratio {b['index_build_s'] / b['borg_list_s']:.3f} |")
    if b["borg_mount_first_ls_s"] is not None:
        print(f"| until the root is shown vs `borg mount` + first `ls` | {b['index_build_s'] + b['show_root_ms'] / 1e3:.2f} s "
              f"| {b['borg_mount_first_ls_s']:.2f} s | |")
    print(f"| index bytes per entry | {b['index_bytes_per_entry']:.1f} | | ≤ 64 |")
    print(f"| open the index (map + check every record; once per session) | {b['open_index_ms']:.2f} ms | | |")
    print(f"| warm: show the root (index open, as the window keeps it) | {b['show_root_index_open_ms']:.3f} ms | | 20 ms |")
    print(f"| warm: show a deep folder (index open) | {b['show_deep_folder_index_open_ms']:.3f} ms | | 20 ms |")
    print(f"| warm: show the root, opening the index first | {b['show_root_ms']:.2f} ms | | 20 ms |")
    print(f"| warm: show a deep folder, opening the index first | {b['show_deep_folder_ms']:.2f} ms | | 20 ms |")
    print(f"| name search over every entry (`movie*`) | {b['search_one_archive_ms']:.1f} ms ({b['search_hits_one_archive']:,} hit) | | 100 ms |")
    print(f"| name search over every entry (`file1*.txt`) | {b['search_broad_ms']:.1f} ms ({b['search_broad_hits']:,} hits) | | 100 ms |")
    print()
    print(f"| {m['archives']} archives × {m['entries_per_archive']:,} entries | Kastell | target |")
    print("|---|---:|---|")
    print(f"| index all archives (cold, once) | {m['index_all_s']:.1f} s | |")
    print(f"| open every index (first use in a session) | {m['open_all_indexes_ms']:.1f} ms | |")
    print(f"| name search across all archives (warm) | {m['search_all_archives_ms']:.1f} ms ({m['search_hits_all_archives']} hits) | 1 s |")
    print(f"| versions of one path across all archives (warm) | {m['versions_all_archives_ms']:.2f} ms ({m['different_versions']} different) | 100 ms |")
    print(f"| `kastell find` across all, whole command | {m['kastell_find_command_s']:.2f} s | |")
    print(f"| `kastell versions`, whole command | {m['kastell_versions_command_s']:.2f} s | |")


if __name__ == "__main__":
    main()
