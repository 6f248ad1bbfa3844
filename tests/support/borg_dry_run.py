"""Runs `borg create --dry-run --list --log-json` in-process, once per case, with borg's own
argument parser and create code, so thousands of differential cases do not pay for thousands of
Python start-ups. Reads one JSON case per line on stdin, writes one JSON result per line.

A case: {"roots": [...], "patterns": "file text", "flags": ["--exclude-caches", ...], "cwd": "..."}
A result: {"lines": [[status, path], ...], "warnings": [...], "error": null or "message"}
"""
import io
import json
import os
import sys
import tempfile

from borg.archiver import Archiver

real_stderr = sys.stderr
real_stdout = sys.stdout
workdir = tempfile.mkdtemp(prefix="kastell-borg-dry-run-")
patterns_path = os.path.join(workdir, "patterns.lst")
os.environ.setdefault("BORG_CACHE_DIR", os.path.join(workdir, "cache"))
# borg runs its self-test before every command; once per process is enough here.
os.environ["BORG_SELFTEST"] = "disabled"

for raw in sys.stdin:
    case = json.loads(raw)
    with open(patterns_path, "w", encoding="utf-8") as f:
        f.write(case["patterns"])
    argv = ["borg", "create", "--dry-run", "--list", "--log-json", "--patterns-from", patterns_path]
    argv += case.get("flags", [])
    argv += [os.path.join(workdir, "no-repo") + "::a"] + case.get("roots", [])
    captured = io.StringIO()
    result = {"lines": [], "warnings": [], "error": None}
    try:
        os.chdir(case.get("cwd") or "/")
        archiver = Archiver()
        args = archiver.get_args(argv, None)
        sys.stderr = captured
        sys.stdout = captured
        try:
            archiver.run(args)
        finally:
            sys.stderr = real_stderr
            sys.stdout = real_stdout
    except SystemExit as e:
        result["error"] = "exit %s" % e.code
    except Exception as e:  # noqa: BLE001 - borg's own errors become the case's error
        result["error"] = "%s: %s" % (type(e).__name__, e)
    for line in captured.getvalue().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("type") == "file_status":
            result["lines"].append([record["status"], record["path"]])
        elif record.get("type") == "log_message" and record.get("levelname") in ("WARNING", "ERROR"):
            result["warnings"].append(record.get("message", ""))
    real_stdout.write(json.dumps(result) + "\n")
    real_stdout.flush()
