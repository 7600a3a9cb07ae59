"""`make run`: the portal (gunicorn, or Flask's debug server when FLASK_DEBUG=1) and its huey worker.

Both run as child processes; Ctrl-C (or SIGTERM) stops both, and if either dies the other is stopped
too, so a broken worker is never left unnoticed behind a running site.
"""
import json
import os
import signal
import subprocess
import sys
import time

from portal.config import PROJECT_ROOT, env_bool, env_int, instance_path

BIN = os.path.dirname(sys.executable)


def web_command(port):
    if env_bool("FLASK_DEBUG"):
        return [os.path.join(BIN, "flask"), "--app", "wsgi", "run", "--debug", "--port", str(port)]
    # Workers, threads and the redacting access log come from gunicorn.conf.py.
    return [os.path.join(BIN, "gunicorn"), "wsgi:app", "--config", str(PROJECT_ROOT / "gunicorn.conf.py"),
            "--bind", f"127.0.0.1:{port}"]


def worker_command():
    return [os.path.join(BIN, "huey_consumer"), "portal.consumer.huey", "--workers", "2",
            "--worker-type", "thread"]


def print_logins():
    path = instance_path() / "demo-logins.json"
    if not path.exists():
        return
    data = json.loads(path.read_text())
    print("\nDemo logins (password for all: %s)" % data["password"])
    for login in data["logins"]:
        print(f"  {login['email']:<32} {login['org']:<16} {login['role']}")


def main():
    port = env_int("PORT", 5000)
    print_logins()
    print(f"\nAlliance Portal on http://127.0.0.1:{port}  (Ctrl-C stops the portal and its worker)\n",
          flush=True)
    children = [subprocess.Popen(web_command(port), cwd=PROJECT_ROOT),
                subprocess.Popen(worker_command(), cwd=PROJECT_ROOT)]

    def stop(*_):
        for child in children:
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + 10
        for child in children:
            try:
                child.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                child.kill()

    signal.signal(signal.SIGTERM, lambda *_: (stop(), sys.exit(0)))
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        exited = next(child for child in children if child.poll() is not None)
        print(f"{exited.args[0]} exited with status {exited.returncode}; stopping.", file=sys.stderr)
        stop()
        sys.exit(exited.returncode or 1)
    except KeyboardInterrupt:
        stop()


if __name__ == "__main__":
    main()
