#!/usr/bin/python3
"""Kastell's own repository reader against borg, on the same archive of about a million
entries, in one run: a full listing (`kastell ls --recursive` as text and as JSON lines, vs
`borg list --format` and `borg list --json-lines`) and one file's bytes (`kastell cat` vs
`borg extract --stdout`), locally and through a loopback sshd whose key is forced to
`borg serve --restrict-to-path` (as the seed's NAS), with peak memory of the client process.

    scripts/bench-reader.py [--entries 1000000] [--rounds 3] [--kastell target/release/kastell]

The tree and the repository (repokey-blake2, lz4, as in ../shared/BORG-FORMAT.md) are made once
into /var/tmp/kastell-bench/reader-N (--work-dir) and reused. Needs `make setup-test` and a
release build.
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
PASSPHRASE = "bench passphrase"


def tool(name):
    found = shutil.which(name, path=f"{TOOLS}:{os.environ.get('PATH', '')}")
    if not found:
        sys.exit(f"{name} is not installed: run `make setup-test`")
    return found


def generate(tree, entries):
    """Small files (0-2 kB) in nested folders, and one 100 MB file to read back."""
    rng = random.Random(11)
    made = 0
    d = 0
    while made < entries:
        folder = tree / f"area{d % 50}" / f"project{d // 50}" / f"dir{d}"
        folder.mkdir(parents=True, exist_ok=True)
        made += 1
        for i in range(min(200, entries - made)):
            with open(folder / f"file{i}.txt", "wb") as f:
                f.write(os.urandom(rng.randint(0, 2048)))
            made += 1
        d += 1
    big = tree / "big"
    big.mkdir(exist_ok=True)
    with open(big / "movie.bin", "wb") as f:
        for _ in range(100):
            f.write(os.urandom(1 << 20))
    return made + 2


def measure(cmd, env, out=None):
    timing = tempfile.NamedTemporaryFile(delete=False)
    timing.close()
    start = time.perf_counter()
    with open(out or os.devnull, "wb") as sink:
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", timing.name, *cmd],
                              env=env, stdout=sink, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{cmd[:3]} failed: {proc.stderr.decode()[-1500:]}")
    rss = int(Path(timing.name).read_text().split()[-1]) / 1024
    os.unlink(timing.name)
    return wall, rss


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_nas(base, borg):
    """sshd on 127.0.0.1 whose only key is forced to `borg serve --restrict-to-path BASE`."""
    nas = base / "nas"
    shutil.rmtree(nas, ignore_errors=True)
    nas.mkdir()
    for key in ("host", "client"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(nas / key)], check=True)
    public = (nas / "client.pub").read_text().strip()
    (nas / "authorized_keys").write_text(
        f'command="{borg} serve --restrict-to-path {base}",restrict {public}\n')
    port = free_port()
    (nas / "sshd_config").write_text(
        f"ListenAddress 127.0.0.1\nPort {port}\nHostKey {nas / 'host'}\nAuthorizedKeysFile {nas / 'authorized_keys'}\n"
        f"PidFile {nas / 'sshd.pid'}\nUsePAM no\nPasswordAuthentication no\nStrictModes no\n"
        "PermitRootLogin prohibit-password\nLogLevel ERROR\n")
    os.makedirs("/run/sshd", exist_ok=True)
    proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(nas / "sshd_config")])
    time.sleep(1)
    ssh = (f"ssh -i {nas / 'client'} -o BatchMode=yes -o StrictHostKeyChecking=no "
           "-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR")
    user = os.environ.get("USER") or subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
    return proc, f"ssh://{user}@127.0.0.1:{port}", ssh


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--entries", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--kastell", default=str(ROOT / "target/release/kastell"))
    ap.add_argument("--work-dir", default="/var/tmp/kastell-bench")
    ap.add_argument("--no-ssh", action="store_true", help="skip the loopback ssh NAS runs")
    args = ap.parse_args()
    borg = tool("borg")
    base = Path(args.work_dir) / f"reader-{args.entries}"
    tree, repo = base / "tree", base / "repo"
    env = {**os.environ, "BORG_PASSPHRASE": PASSPHRASE, "BORG_CACHE_DIR": str(base / "cache"),
           "BORG_BASE_DIR": str(base), "HOME": str(base), "PATH": f"{TOOLS}:{os.environ['PATH']}",
           # The same repository is reached as a path and through ssh://: borg's cache notices.
           "BORG_RELOCATED_REPO_ACCESS_IS_OK": "yes"}
    if not (base / ".ready").exists():
        shutil.rmtree(base, ignore_errors=True)
        tree.mkdir(parents=True)
        t = time.perf_counter()
        made = generate(tree, args.entries)
        print(f"generated {made} entries in {time.perf_counter() - t:.0f} s", file=sys.stderr)
        subprocess.run([borg, "init", "-e", "repokey-blake2", str(repo)], env=env, check=True)
        t = time.perf_counter()
        subprocess.run([borg, "create", "-C", "lz4", f"{repo}::bench", "."], cwd=tree, env=env, check=True)
        print(f"borg create took {time.perf_counter() - t:.0f} s", file=sys.stderr)
        (base / ".ready").write_text("ok")
    config = base / "config.yaml"
    config.write_text(f"source_directories: [{tree}]\nrepositories:\n    - path: {repo}\n      label: bench\n"
                      f"encryption_passphrase: \"{PASSPHRASE}\"\n")
    kenv = {k: v for k, v in env.items() if k != "BORG_PASSPHRASE"}
    k = args.kastell
    kls = ["ls", "--repository", "bench", "--archive", "bench", "--recursive"]
    kcat = ["cat", "--repository", "bench", "--archive", "bench", "big/movie.bin"]
    commands = {
        "borg list --format": ([borg, "list", "--format", "{mode} {user} {group} {size} {mtime} {path}{NL}", f"{repo}::bench"], env),
        "borg list --json-lines": ([borg, "list", "--json-lines", f"{repo}::bench"], env),
        "kastell ls --recursive": ([args.kastell, "ls", "--config", str(config), "--repository", "bench", "--archive", "bench", "--recursive"], kenv),
        "kastell ls --recursive --json-lines": ([args.kastell, "ls", "--config", str(config), "--repository", "bench", "--archive", "bench", "--recursive", "--json-lines"], kenv),
        "borg extract --stdout (100 MB file)": ([borg, "extract", "--stdout", f"{repo}::bench", "big/movie.bin"], env),
        "kastell cat (100 MB file)": ([args.kastell, "cat", "--config", str(config), "--repository", "bench", "--archive", "bench", "big/movie.bin"], kenv),
    }
    nas = None
    if not args.no_ssh:
        nas, url, ssh = start_nas(base, borg)
        remote = f"{url}{repo}"
        ssh_config = base / "config-ssh.yaml"
        ssh_config.write_text(f"source_directories: [{tree}]\nrepositories:\n    - path: {remote}\n      label: bench\n"
                              f"encryption_passphrase: \"{PASSPHRASE}\"\nssh_command: {ssh}\n")
        senv = {**env, "BORG_RSH": ssh, "BORG_RELOCATED_REPO_ACCESS_IS_OK": "yes"}
        commands.update({
            "ssh: borg list --format": ([borg, "list", "--format", "{mode} {user} {group} {size} {mtime} {path}{NL}", f"{remote}::bench"], senv),
            "ssh: borg list --json-lines": ([borg, "list", "--json-lines", f"{remote}::bench"], senv),
            "ssh: kastell ls --recursive": ([k, kls[0], "--config", str(ssh_config), *kls[1:]], kenv),
            "ssh: kastell ls --recursive --json-lines": ([k, kls[0], "--config", str(ssh_config), *kls[1:], "--json-lines"], kenv),
            "ssh: borg extract --stdout (100 MB file)": ([borg, "extract", "--stdout", f"{remote}::bench", "big/movie.bin"], senv),
            "ssh: kastell cat (100 MB file)": ([k, kcat[0], "--config", str(ssh_config), *kcat[1:]], kenv),
        })
    work = Path(tempfile.mkdtemp(prefix="kastell-bench-reader-"))
    walls = {name: [] for name in commands}
    rss = {name: 0.0 for name in commands}
    for name, (cmd, e) in commands.items():  # warm the page cache
        measure(cmd, e)
    for r in range(args.rounds):
        for name, (cmd, e) in commands.items():
            out = work / (name.replace(" ", "_").replace("/", "") + ".out")
            wall, mem = measure(cmd, e, out)
            walls[name].append(wall)
            rss[name] = max(rss[name], mem)
            print(f"round {r + 1}: {name}: {wall:.2f} s, {mem:.0f} MB", file=sys.stderr)
    if nas:
        nas.terminate()
    count = lambda name: sum(1 for _ in open(work / (name.replace(" ", "_").replace("/", "") + ".out"), "rb"))
    lines = {name: count(name) for name in commands if " ls" in name or "list" in name}
    same_json = False
    with open(work / "borg_list_--json-lines.out") as a, open(work / "kastell_ls_--recursive_--json-lines.out") as b:
        theirs = sorted(json.dumps(json.loads(l), sort_keys=True) for l in a)
        ours = sorted(json.dumps(json.loads(l), sort_keys=True) for l in b)
        same_json = theirs == ours
    med = {k: statistics.median(v) for k, v in walls.items()}
    print(json.dumps({"median_s": med, "rss_mb": rss, "lines": lines, "same_json_lines": same_json}, indent=2))
    print()
    print(f"| {args.entries:,}-entry archive (repokey-blake2, lz4) | wall | peak RSS |")
    print("|---|---:|---:|")
    for name in commands:
        print(f"| `{name}` | {med[name]:.2f} s | {rss[name]:.0f} MB |")
    print()
    print(f"listing ratio (kastell text / borg --format): {med['kastell ls --recursive'] / med['borg list --format']:.3f}")
    print(f"json ratio (kastell / borg --json-lines): {med['kastell ls --recursive --json-lines'] / med['borg list --json-lines']:.3f}")
    print(f"one file ratio: {med['kastell cat (100 MB file)'] / med['borg extract --stdout (100 MB file)']:.3f}")
    if nas:
        print(f"ssh listing ratio: {med['ssh: kastell ls --recursive'] / med['ssh: borg list --format']:.3f}")
        print(f"ssh one file ratio: {med['ssh: kastell cat (100 MB file)'] / med['ssh: borg extract --stdout (100 MB file)']:.3f}")
    print(f"same json lines: {same_json}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
