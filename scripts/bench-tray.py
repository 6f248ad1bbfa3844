#!/usr/bin/python3
"""Resident memory of Kastell's tray (`kastell tray`) next to Kastell's window and Vorta, in one run.

On a private session bus with a StatusNotifierWatcher stand-in (`examples/tray_watcher.rs`; no
Plasma runs here) and a home with a borgmatic config and a local repository, it measures:

- the tray right after it registered;
- the tray after 100 status changes: `kastell backup --only create` runs that alternately
  succeed and fail (the repository moved away), each seen by the tray (it refreshes within
  2 seconds);
- the tray after idling for --idle-minutes (60 by default; sampled every minute);
- Kastell's window (`kastell --config C` under Xvfb) once its archive list is shown;
- Vorta (`vorta --foreground`, Debian's package) idle under Xvfb, when it is installed.

    scripts/bench-tray.py [--idle-minutes 60] [--changes 100]

Needs `make setup-test` (borg, borgmatic, Xvfb, dbus) and release builds:
`cargo build --release && cargo build --release --example tray_watcher`.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS = Path.home() / ".cache/kastell-tools/bin"
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
PASSPHRASE = "bench tray passphrase"


def tool(name):
    found = shutil.which(name, path=f"{TOOLS}:{os.environ.get('PATH', '')}")
    if not found:
        sys.exit(f"{name} is not installed: run `make setup-test`")
    return found


def rss_kb(pid, field="VmRSS"):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kb(pid):
    """A process and its children (Vorta's Python starts helpers)."""
    total = rss_kb(pid)
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        for child in children.read_text().split():
            total += tree_rss_kb(int(child))
    return total


def mb(kb):
    return f"{kb / 1024:.1f} MB"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle-minutes", type=float, default=60)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--kastell", default=str(TARGET / "release/kastell"))
    parser.add_argument("--tray", help="the binary to run `tray` with (default: --kastell)")
    parser.add_argument("--watcher", default=str(TARGET / "release/examples/tray_watcher"))
    args = parser.parse_args()
    for binary in (args.kastell, args.watcher):
        if not os.access(binary, os.X_OK):
            sys.exit(f"{binary} is missing: cargo build --release && "
                     "cargo build --release --example tray_watcher")

    work = Path(tempfile.mkdtemp(prefix="kastell-bench-tray-"))
    home, runtime = work / "home", work / "run"
    for folder in (home, runtime):
        folder.mkdir(mode=0o700)
    docs = home / "Documents"
    docs.mkdir()
    (docs / "notes.txt").write_text("back me up\n")
    repo = work / "repo"
    config = home / ".config/borgmatic/user.yaml"
    config.parent.mkdir(parents=True)
    config.write_text(
        f"source_directories:\n    - {docs}\n\nrepositories:\n    - path: {repo}\n"
        f"      label: local\n\nencryption_passphrase: \"{PASSPHRASE}\"\n"
        "archive_name_format: 'home-{now:%Y-%m-%dT%H:%M:%S.%f}'\nkeep_daily: 7\n")
    config.chmod(0o600)
    env = {
        "HOME": str(home), "XDG_RUNTIME_DIR": str(runtime), "LANG": "C.UTF-8",
        "PATH": f"{Path(tool('borg')).parent}:/usr/local/bin:/usr/bin:/bin",
        "KASTELL_BORG": tool("borg"), "KASTELL_BORGMATIC": tool("borgmatic"),
    }
    subprocess.run([tool("borgmatic"), "--config", str(config), "repo-create",
                    "--encryption", "repokey-blake2"], env=env, check=True)

    children = []
    try:
        bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1"],
                               stdout=subprocess.PIPE, text=True)
        children.append(bus)
        env["DBUS_SESSION_BUS_ADDRESS"] = bus.stdout.readline().strip()
        xvfb = subprocess.Popen(["Xvfb", "-displayfd", "1", "-screen", "0", "1280x800x24",
                                 "-nolisten", "tcp"], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
        children.append(xvfb)
        env["DISPLAY"] = ":" + xvfb.stdout.readline().strip()
        watcher = subprocess.Popen([args.watcher], env=env, stdout=subprocess.PIPE, text=True)
        children.append(watcher)
        time.sleep(0.5)
        tray = subprocess.Popen([args.tray or args.kastell, "tray"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        children.append(tray)
        item = watcher.stdout.readline().strip()
        time.sleep(5)
        rows = [("tray, registered", rss_kb(tray.pid))]
        print(f"tray {item} registered: {mb(rows[0][1])}", flush=True)

        away = work / "repo-away"
        for change in range(args.changes):
            fail = change % 2 == 1
            if fail:
                repo.rename(away)
            subprocess.run([args.kastell, "backup", "--config", str(config), "--only", "create",
                            "--no-notify"], env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            if fail:
                away.rename(repo)
            time.sleep(2.5)
        rows.append((f"tray, after {args.changes} status changes", rss_kb(tray.pid)))
        print(f"after {args.changes} changes: {mb(rows[-1][1])}", flush=True)

        samples = []
        for minute in range(int(args.idle_minutes)):
            time.sleep(60)
            samples.append(rss_kb(tray.pid))
            print(f"idle minute {minute + 1}: {mb(samples[-1])}", flush=True)
        rows.append((f"tray, after {args.idle_minutes:g} min idle", rss_kb(tray.pid)))
        rows.append(("tray, peak (VmHWM)", rss_kb(tray.pid, "VmHWM")))

        window = subprocess.Popen([args.kastell, "--config", str(config)],
                                  env={**env, "QT_QPA_PLATFORM": "xcb"},
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(20)
        rows.append(("Kastell window, archive list shown", rss_kb(window.pid)))
        window.terminate()
        window.wait(timeout=20)

        vorta = shutil.which("vorta")
        if vorta:
            vorta_home = work / "vorta-home"
            vorta_home.mkdir()
            proc = subprocess.Popen([vorta, "--foreground"],
                                    env={**env, "HOME": str(vorta_home),
                                         "QT_QPA_PLATFORM": "xcb"},
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(30)
            rows.append(("Vorta 0.8 (Debian), idle", tree_rss_kb(proc.pid)))
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        else:
            rows.append(("Vorta (not installed: apt install vorta)", 0))
    finally:
        for child in reversed(children):
            child.terminate()
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        shutil.rmtree(work, ignore_errors=True)

    print()
    print("| process | resident memory |")
    print("|---|---:|")
    for name, kb in rows:
        print(f"| {name} | {mb(kb)} |")


if __name__ == "__main__":
    main()
