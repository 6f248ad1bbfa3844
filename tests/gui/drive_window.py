#!/usr/bin/python3
"""Drives Kastell's real window under Xvfb through AT-SPI, as an assistive tool would.

Run inside `dbus-run-session`. Starts the accessibility bus, Xvfb and Kastell, then runs the
steps given on the command line against the accessibility tree:

  --expect NAME        wait until an element named NAME is showing
  --expect_contains T  wait until an element whose name contains T is showing
  --press NAME         press the element named NAME (AT-SPI "Press"/"Click" action)
  --shot FILE          save a screenshot of the window to FILE
  --type NAME=TEXT     click the field named NAME, replace its text with TEXT, press Tab
  --run COMMAND        run a shell command in the same session (fails the test if it fails)
  --shot_window C=FILE wait for a window of class C (another program's, such as `dolphin`)
                       and save a screenshot of it to FILE

With KASTELL_GUI_KEYRING=1 a gnome-keyring Secret Service is started, unlocked, on the bus.
With KASTELL_GUI_NOTIFY_LOG=FILE a notification server (dunst) runs on the bus and every Notify
call is recorded to FILE (dbus-monitor).
Programs the bus starts on request (D-Bus activation, e.g. Dolphin for FileManager1) get this
session's display and environment.

Steps run in order. Exit status 0 means every step passed; the reason is printed otherwise.
"""
import argparse
import os
import subprocess
import sys
import time

import pyatspi

TIMEOUT = float(os.environ.get("KASTELL_GUI_TIMEOUT", "150"))


class Step(argparse.Action):
    def __call__(self, parser, namespace, values, option_string=None):
        namespace.steps.append((self.dest, values))


def start_xvfb():
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-nolisten", "tcp", "-screen", "0", "1280x800x24"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    number = b""
    while not number.endswith(b"\n"):
        chunk = os.read(read_fd, 16)
        if not chunk:
            raise SystemExit("Xvfb did not start")
        number += chunk
    os.close(read_fd)
    return xvfb, ":" + number.decode().strip()


def find_app():
    desktop = pyatspi.Registry.getDesktop(0)
    for app in desktop:
        if app is not None and app.name and "kastell" in app.name.lower():
            return app
    return None


def walk(node, depth=0):
    if node is None or depth > 60:
        return
    yield node
    try:
        children = list(node)
    except Exception:
        return
    for child in children:
        yield from walk(child, depth + 1)


def showing(node):
    try:
        return node.getState().contains(pyatspi.STATE_SHOWING)
    except Exception:
        return False


EDITABLE_ROLES = ("text", "entry", "password text", "editbar")


def find(name, partial=False, editable=False):
    app = find_app()
    if app is None:
        return None
    for node in walk(app):
        try:
            matches = name in node.name if partial else node.name == name
            if editable and matches:
                matches = node.getRoleName() in EDITABLE_ROLES
            if matches and showing(node):
                return node
        except Exception:
            continue
    return None


def wait_for(name, partial=False, editable=False):
    deadline = time.time() + TIMEOUT
    while time.time() < deadline:
        node = find(name, partial, editable)
        if node is not None:
            return node
        time.sleep(0.3)
    raise SystemExit(f"FAIL: nothing named {name!r} appeared within {TIMEOUT:.0f} s\n" + dump())


def dump():
    app = find_app()
    if app is None:
        return "(Kastell is not on the accessibility bus)"
    lines = []
    for node in walk(app):
        try:
            # What a person would see: hidden pages and popups are not listed.
            if node.name and showing(node):
                lines.append(f"  {node.getRoleName()}: {node.name}")
        except Exception:
            pass
    return "visible names:\n" + "\n".join(lines[:400])


def press(name):
    node = wait_for(name)
    action = node.queryAction()
    names = [action.getName(i) for i in range(action.nActions)]
    # "Press" (or "Click") where offered: a radio button's "Toggle" skips its click handler.
    # A check box that offers only "Toggle" is toggled.
    wanted = ("press", "click", "Press", "Click")
    if not any(n in wanted for n in names):
        wanted = ("toggle", "Toggle")
    for i in range(action.nActions):
        if action.getName(i) in wanted:
            try:
                action.doAction(i)
            except Exception as e:  # noqa: BLE001 - GLib.GError from pyatspi
                # A busy window (a 2-core machine also compiling) may answer after AT-SPI's
                # reply timeout; the press was delivered, and the next step checks its effect.
                if "Did not receive a reply" not in str(e):
                    raise
                print(f"note: {name!r} answered late: {e}", flush=True)
            return
    raise SystemExit(f"FAIL: {name!r} has no press action")


def type_into(display, spec):
    name, text = spec.split("=", 1)
    node = wait_for(name, editable=True)
    ext = node.queryComponent().getExtents(pyatspi.DESKTOP_COORDS)
    x, y = ext.x + min(ext.width // 2, 40), ext.y + ext.height // 2
    env = {**os.environ, "DISPLAY": display}
    subprocess.run(["xdotool", "mousemove", str(x), str(y), "click", "1"], env=env, check=True)
    time.sleep(0.2)
    subprocess.run(["xdotool", "key", "ctrl+a"], env=env, check=True)
    subprocess.run(["xdotool", "type", "--delay", "20", text], env=env, check=True)
    subprocess.run(["xdotool", "key", "Tab"], env=env, check=True)
    time.sleep(0.3)


def start_keyring(env):
    out = subprocess.run(
        ["gnome-keyring-daemon", "--unlock", "--components=secrets"],
        input="gui-test-login", capture_output=True, text=True, check=True,
    ).stdout
    for line in out.splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            env[key] = value
            os.environ[key] = value


def screenshot(display, path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    time.sleep(0.8)  # let the last frame render
    window = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--name", "^Kastell$"], env={**os.environ, "DISPLAY": display},
        capture_output=True, text=True,
    ).stdout.split()
    target = window[0] if window else "root"
    subprocess.run(["import", "-window", target, path], env={**os.environ, "DISPLAY": display}, check=True)
    print(f"screenshot: {path}")


def screenshot_window(display, spec):
    # By class: titles with non-ASCII characters (Dolphin's "folder — Dolphin") do not reach
    # xdotool's name search whole.
    pattern, path = spec.split("=", 1)
    env = {**os.environ, "DISPLAY": display}
    deadline = time.time() + TIMEOUT
    while True:
        found = subprocess.run(["xdotool", "search", "--onlyvisible", "--classname", pattern], env=env,
                               capture_output=True, text=True).stdout.split()
        if found:
            break
        if time.time() > deadline:
            ids = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "."], env=env,
                                 capture_output=True, text=True).stdout.split()
            names = [subprocess.run(["xdotool", "getwindowname", i], env=env, capture_output=True,
                                    text=True).stdout.strip() for i in ids]
            raise SystemExit(f"FAIL: no window of class {pattern!r} appeared within {TIMEOUT:.0f} s;"
                             f" windows: {names}")
        time.sleep(0.3)
    time.sleep(2.0)  # let it fill in its view (a file manager lists, then draws icons)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    subprocess.run(["import", "-window", found[0], path], env=env, check=True)
    print(f"screenshot: {path}")


def start_notification_server(env, log_path):
    log = open(log_path, "w")
    monitor = subprocess.Popen(
        ["dbus-monitor", "interface='org.freedesktop.Notifications',member='Notify'"],
        env=env, stdout=log, stderr=subprocess.DEVNULL,
    )
    rc = os.path.join(os.path.dirname(os.path.abspath(log_path)), "dunstrc")
    with open(rc, "w") as f:
        f.write("[global]\n    font = Monospace 8\n")
    dunst = subprocess.Popen(["dunst", "-config", rc], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 20
    while time.time() < deadline:
        owner = subprocess.run(
            ["dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
             "org.freedesktop.DBus.NameHasOwner", "string:org.freedesktop.Notifications"],
            env=env, capture_output=True, text=True).stdout
        if "boolean true" in owner:
            break
        time.sleep(0.1)
    return [monitor, dunst]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--app", required=True)
    parser.add_argument("--arg", action="append", default=[])
    parser.set_defaults(steps=[])
    for step in ("expect", "expect_contains", "press", "shot", "type", "run", "shot_window"):
        parser.add_argument("--" + step, dest=step, action=Step)
    args = parser.parse_args()

    launcher = subprocess.Popen(["/usr/libexec/at-spi-bus-launcher", "--launch-immediately"])
    xvfb, display = start_xvfb()
    env = {
        **os.environ,
        "DISPLAY": display,
        "QT_LINUX_ACCESSIBILITY_ALWAYS_ON": "1",
        "QT_ACCESSIBILITY": "1",
        "QT_QPA_PLATFORM": "xcb",
    }
    # What the bus starts on request (a file manager for FileManager1) must see this display.
    subprocess.run(["dbus-update-activation-environment", "--all"], env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if os.environ.get("KASTELL_GUI_KEYRING"):
        start_keyring(env)
    helpers = []
    if os.environ.get("KASTELL_GUI_NOTIFY_LOG"):
        helpers = start_notification_server(env, os.environ["KASTELL_GUI_NOTIFY_LOG"])
    log = open(os.environ.get("KASTELL_GUI_LOG", os.devnull), "w")
    app = subprocess.Popen([args.app] + args.arg, env=env, stdout=log, stderr=log)
    try:
        for kind, value in args.steps:
            if app.poll() is not None:
                raise SystemExit(f"FAIL: Kastell exited with {app.returncode}")
            if kind == "expect":
                wait_for(value)
                print(f"ok: {value!r} is showing")
            elif kind == "expect_contains":
                wait_for(value, partial=True)
                print(f"ok: something containing {value!r} is showing")
            elif kind == "press":
                press(value)
                print(f"ok: pressed {value!r}")
            elif kind == "type":
                type_into(display, value)
                print(f"ok: typed into {value.split('=', 1)[0]!r}")
            elif kind == "run":
                done = subprocess.run(value, shell=True, env=env, capture_output=True, text=True)
                if done.returncode != 0:
                    raise SystemExit(f"FAIL: {value!r} exited {done.returncode}:\n{done.stdout}{done.stderr}")
                print(f"ok: ran {value!r}")
            elif kind == "shot":
                screenshot(display, value)
            elif kind == "shot_window":
                screenshot_window(display, value)
    except SystemExit:
        # What the window showed when a step failed, next to the log.
        if os.environ.get("KASTELL_GUI_LOG"):
            try:
                screenshot(display, os.environ["KASTELL_GUI_LOG"] + ".failed.png")
            except Exception:  # noqa: BLE001 - the failure itself is what matters
                pass
        raise
    finally:
        app.terminate()
        try:
            app.wait(10)
        except subprocess.TimeoutExpired:
            app.kill()
        for helper in helpers:
            helper.terminate()
        xvfb.terminate()
        launcher.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main())
