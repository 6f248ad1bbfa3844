#!/usr/bin/python3
"""The retention preview's first answer against `borg prune --dry-run --list`, in one run.

A local repository (repokey-blake2) with 500 archives spread over two years (made with
`borg create --timestamp`, through borg's own code in one Python process), and a borgmatic
config with the guide's retention (keep_daily 7, keep_weekly 4, keep_monthly 6). Measured,
alternating which goes first, --rounds times each:

- `kastell prune --config C --repository local --dry-run --json`: Kastell's preview (opens the
  repository with its own reader, lists the archives, computes borg's rules);
- `borg prune --dry-run --list --glob-archives 'home-*' --keep-daily 7 …`: borg's dry run with
  the flags borgmatic passes;
- `borgmatic prune --dry-run --list`: what a person would otherwise run.

Both answers are compared archive by archive before anything is timed.

    scripts/bench-prune.py [--archives 500] [--rounds 5] [--kastell target/lean/release/kastell]

Needs `make setup-test` (borg, borgmatic) and a release build of Kastell (the window is not
needed: `cargo build --release --no-default-features --target-dir target/lean`).
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS = Path.home() / ".cache/kastell-tools/bin"
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
PASSPHRASE = "bench prune passphrase"
RULES = ["--keep-daily", "7", "--keep-weekly", "4", "--keep-monthly", "6"]


def tool(name):
    found = shutil.which(name, path=f"{TOOLS}:{os.environ.get('PATH', '')}")
    if not found:
        sys.exit(f"{name} is not installed: run `make setup-test`")
    return found


def python_of(borg):
    first = Path(borg).read_text(errors="replace").splitlines()[0]
    return first.lstrip("#!").split()[0]


def timed(argv, env):
    start = time.perf_counter()
    out = subprocess.run(argv, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(f"{argv[0]} failed:\n{out.stderr}")
    return elapsed, out


def borg_verdicts(text):
    found = []
    for line in text.splitlines():
        if line.startswith("Would prune:"):
            found.append((line.split()[2], False))
        elif line.startswith("Keeping archive (rule:") or line.startswith("Keeping checkpoint"):
            found.append((line.split("):" if "):" in line else ":", 1)[1].split()[0], True))
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archives", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--kastell", default=str(TARGET / "lean/release/kastell"))
    args = parser.parse_args()
    if not os.access(args.kastell, os.X_OK):
        sys.exit(f"{args.kastell} is missing: cargo build --release --no-default-features "
                 "--target-dir target/lean")
    borg, borgmatic = tool("borg"), tool("borgmatic")

    work = Path(tempfile.mkdtemp(prefix="kastell-bench-prune-"))
    home = work / "home"
    (home / ".config/borgmatic").mkdir(parents=True)
    source = home / "Documents"
    source.mkdir()
    (source / "notes.txt").write_text("prune me\n")
    repo = work / "repo"
    config = home / ".config/borgmatic/user.yaml"
    config.write_text(
        f"source_directories:\n    - {source}\nrepositories:\n    - path: {repo}\n      label: local\n"
        f"encryption_passphrase: \"{PASSPHRASE}\"\n"
        "archive_name_format: 'home-{now:%Y-%m-%dT%H:%M:%S.%f}'\n"
        "keep_daily: 7\nkeep_weekly: 4\nkeep_monthly: 6\n")
    config.chmod(0o600)
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "XDG_CACHE_HOME": str(home / ".cache"), "XDG_STATE_HOME": str(home / ".local/state"),
           "BORG_PASSPHRASE": PASSPHRASE,
           "PATH": f"{Path(borg).parent}:{os.environ.get('PATH', '')}"}
    subprocess.run([borgmatic, "--config", str(config), "repo-create", "--encryption",
                    "repokey-blake2"], env=env, check=True)

    # The archives, through borg's own code in one process (500 start-ups would take minutes).
    now = datetime.now(timezone.utc)
    step = timedelta(days=730) / args.archives
    cases = []
    for i in range(args.archives):
        at = now - timedelta(days=730) + step * i
        name = f"home-{at.strftime('%Y-%m-%dT%H:%M:%S')}"
        cases.append(json.dumps({"argv": ["create", "--timestamp", at.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
                                          f"{repo}::{name}", str(source)]}))
    made = time.perf_counter()
    batch = subprocess.run([python_of(borg), str(ROOT / "tests/support/borg_batch.py")],
                           input="\n".join(cases) + "\n", env=env, capture_output=True, text=True,
                           check=True)
    failed = [r for r in map(json.loads, batch.stdout.splitlines()) if r["rc"] != 0]
    if failed:
        sys.exit(f"borg create failed: {failed[0]['output']}")
    print(f"{args.archives} archives made in {time.perf_counter() - made:.0f} s", file=sys.stderr)

    commands = {
        "kastell prune --dry-run --json": [args.kastell, "prune", "--config", str(config),
                                           "--repository", "local", "--dry-run", "--json"],
        "borg prune --dry-run --list": [borg, "prune", "--dry-run", "--list", "--glob-archives",
                                        "home-*", *RULES, str(repo)],
        "borgmatic prune --dry-run --list": [borgmatic, "--config", str(config), "prune",
                                             "--dry-run", "--list"],
    }
    # Same answer first.
    _, kastell_out = timed(commands["kastell prune --dry-run --json"], env)
    kastell = [(r["archive"], r["keep"]) for r in json.loads(kastell_out.stdout)]
    _, borg_out = timed(commands["borg prune --dry-run --list"], env)
    borg_said = borg_verdicts(borg_out.stderr + borg_out.stdout)
    if kastell != borg_said:
        sys.exit(f"the answers differ:\nkastell {kastell[:5]}…\nborg    {borg_said[:5]}…")
    kept = sum(1 for _, keep in kastell if keep)

    times = {name: [] for name in commands}
    names = list(commands)
    for round_ in range(args.rounds):
        order = names if round_ % 2 == 0 else list(reversed(names))
        for name in order:
            elapsed, _ = timed(commands[name], env)
            times[name].append(elapsed)

    print(f"Repository: {args.archives} archives over two years, repokey-blake2, local; rules "
          f"keep_daily 7, keep_weekly 4, keep_monthly 6 (keeps {kept}); {args.rounds} rounds "
          "alternating; the same answer checked archive by archive.\n")
    print("| command | median | min | max |")
    print("|---|---:|---:|---:|")
    base = statistics.median(times["kastell prune --dry-run --json"])
    for name in names:
        t = times[name]
        median = statistics.median(t)
        ratio = "" if name.startswith("kastell") else f" ({median / base:.1f}× Kastell)"
        print(f"| `{name}` | {median * 1000:.0f} ms{ratio} | {min(t) * 1000:.0f} ms | "
              f"{max(t) * 1000:.0f} ms |")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
