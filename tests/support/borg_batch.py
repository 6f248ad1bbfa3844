"""Runs many borg commands in one Python process, each through borg's own argument parser and
code (`Archiver().run`), so hundreds of archives and prune dry runs do not pay for hundreds of
Python start-ups. Reads one JSON case per line on stdin: {"argv": ["create", ...]}; writes one
JSON result per line: {"rc": N, "output": "what borg printed to stderr and stdout"}.
"""
import io
import json
import os
import sys

from borg.archiver import Archiver

# borg runs its self-test before every command; once per process is enough here.
os.environ["BORG_SELFTEST"] = "disabled"
real_stdout, real_stderr = sys.stdout, sys.stderr

for raw in sys.stdin:
    case = json.loads(raw)
    captured = io.StringIO()
    sys.stdout = sys.stderr = captured
    try:
        archiver = Archiver()
        args = archiver.get_args(["borg"] + case["argv"], None)
        rc = archiver.run(args)
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else 2
    except Exception as e:  # noqa: BLE001 - reported to the test as the case's output
        captured.write(f"{type(e).__name__}: {e}\n")
        rc = 2
    finally:
        sys.stdout, sys.stderr = real_stdout, real_stderr
    real_stdout.write(json.dumps({"rc": rc, "output": captured.getvalue()}) + "\n")
    real_stdout.flush()
