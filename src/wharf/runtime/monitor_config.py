"""The monitor's configuration file, ``<state_dir>/monitor.json``, as the monitor reads it.

Written by the engine (monitor_client.py, from its ``MonitorConfig``), read once by the
monitor process at start. One JSON object::

    {"id": str,                    the container (or exec) id, for messages
     "launch_argv": [str, ...],    the runtime command that creates the process
     "pid_file": str,              where the runtime writes the process's pid
     "tty": bool,                  a pty (received on console_socket) instead of pipes
     "open_stdin": bool,           give the container a stdin clients can write to
     "stdin_once": bool,           close it when the first stdin client is done
     "log_path": str | null,       the json-file log (null: no log)
     "log_max_size": int,          rotate past this many bytes (0: never)
     "log_max_files": int,         files kept, the current one included (>= 1)
     "console_socket": str | null, where the runtime sends the pty master (tty only)
     "attach_socket": str,         where clients attach
     "exit_file": str,             where the exit record is written
     "ready_fd": int}              inherited fd for the one-line readiness report

Imports the standard library only (it runs in the monitor process).
"""

from __future__ import annotations

from wharf.runtime.monitor_protocol import is_int


class MonitorSettings:
    """``monitor.json``, checked; raises ValueError naming the first bad field."""

    def __init__(self, raw: object) -> None:
        if not isinstance(raw, dict):
            raise ValueError("monitor.json must hold an object")
        self.container_id = _str_field(raw, "id")
        argv = raw.get("launch_argv")
        if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
            raise ValueError("monitor.json: launch_argv must be a non-empty list of strings")
        self.launch_argv: list[str] = argv
        self.pid_file = _str_field(raw, "pid_file")
        self.tty = _bool_field(raw, "tty")
        self.open_stdin = _bool_field(raw, "open_stdin")
        self.stdin_once = _bool_field(raw, "stdin_once")
        self.log_path = _optional_str(raw, "log_path")
        self.log_max_size = _int_field(raw, "log_max_size")
        self.log_max_files = _int_field(raw, "log_max_files")
        self.console_socket = _optional_str(raw, "console_socket")
        self.attach_socket = _str_field(raw, "attach_socket")
        self.exit_file = _str_field(raw, "exit_file")
        self.ready_fd = _int_field(raw, "ready_fd")
        self.hold_output = bool(raw.get("hold_output", False))
        if self.tty and self.console_socket is None:
            raise ValueError("monitor.json: a tty needs a console_socket")


def _str_field(raw: dict[str, object], name: str) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"monitor.json: {name} must be a non-empty string")
    return value


def _bool_field(raw: dict[str, object], name: str) -> bool:
    value = raw.get(name)
    if not isinstance(value, bool):
        raise ValueError(f"monitor.json: {name} must be a boolean")
    return value


def _int_field(raw: dict[str, object], name: str) -> int:
    value = raw.get(name)
    if not is_int(value):
        raise ValueError(f"monitor.json: {name} must be an integer")
    return value


def _optional_str(raw: dict[str, object], name: str) -> str | None:
    value = raw.get(name)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"monitor.json: {name} must be a string or null")
    return value
