"""``kinship worker``: a long-lived local process that runs ``kinship search`` jobs warm.

A fresh ``kinship search`` pays about a second before it reads its job: importing
NumPy, pyarrow and numba, and numba's first use in a process.  An operator who runs
many small searches can keep one process warm instead, the way ``dmypy`` or a
build daemon does::

    kinship worker start                  # in the foreground (systemd, nohup, a terminal)
    kinship search job.toml --worker      # or STRKIN_WORKER=SOCKET kinship search job.toml
    kinship worker status
    kinship worker stop

Opt-in and local only:

* The worker listens on a UNIX-domain socket, never on TCP (no network listener):
  by default ``$XDG_RUNTIME_DIR/strkin/worker.sock``, else
  ``$XDG_CACHE_HOME/strkin/worker.sock`` (``~/.cache/strkin/worker.sock``), in a
  directory created ``0700``; the socket is ``0600``; ``--socket PATH`` names
  another.  Each connection's peer is checked (``SO_PEERCRED``): another uid is
  refused, and the client refuses a worker run by another uid.  A lock file
  beside the socket (``PATH.lock``, held for the worker's life) tells a live
  worker from a dead one's socket file, which a new worker replaces.
* The protocol is JSON lines, nothing else (no pickle, no eval).  The client
  sends ``{"op": "run", "protocol", "software", "argv", "cwd", "umask", "env"}``:
  its command line, working directory, umask, the environment variables the
  engine reads (:data:`JOB_ENV`, :data:`FIXED_ENV`) and its software identity
  (:func:`software_identity`: strkin's version, a hash of its source files, the
  Python, and where the compiled dependencies are installed with the size and
  time of each one's ``__init__.py``).  The worker refuses
  another identity, and other values of the variables read at import time, with
  one line that tells the operator to restart it.  It answers
  ``{"t": "queued", "ahead": N}``, ``{"t": "started"}``, the job's output as
  ``{"t": "out"|"err", "s": TEXT}`` and at the end ``{"t": "exit", "code": N}``
  (a refusal: ``{"t": "refused", "msg": LINE}``).  ``{"op": "status"}`` and
  ``{"op": "stop"}`` are answered with one object.
* Jobs run one at a time, in arrival order, in the worker's main thread, through
  the same code as ``kinship search`` in a fresh process (:func:`engine.cli.main`
  with the client's argv, in its directory, with its variables and umask): the
  results on disk are the same bytes.
* A client that goes away (Ctrl-C, a killed shell: the worker reads end-of-file)
  cancels its job: a queued job is dropped, a running one stops at the next task
  boundary (:func:`engine.execute.cancel_on`) with its checkpoints written, so
  ``kinship search JOB --resume`` finishes it.  ``kinship worker stop`` (or
  SIGTERM, SIGINT) cancels the same way and exits.
* After each job the worker drops what the job built (models, block tables,
  memoised tables: :data:`JOB_CACHES`) and returns the freed memory to the
  system; it keeps numba's compiled kernels, the imported modules and the table
  store's mapped files, and, only when started with ``--keep-tables SIZE``, up to
  that much of the references' compiled block tables for later jobs against the
  same references and model (:func:`engine.compile.keep_tables`).
* Its log (stderr, ``--log-file``) has one line per job start and end with the
  job file, the exit code and the duration, and the connections it refused;
  never a profile.  The job's own log (``-v``) goes to the client, as in a fresh
  process.

The client path (``kinship search --worker``, ``kinship worker status|stop``)
imports only the standard library: this module imports NumPy, numba and the
engine only in the worker process.
"""
from __future__ import annotations

import json
import os
import socket
import struct
import sys
import threading
import time
from pathlib import Path

__all__ = ["register", "default_socket", "software_identity", "route", "uses_worker", "run_client",
           "serve",
           "release_job_memory", "JOB_ENV", "FIXED_ENV", "NOT_FORWARDED", "JOB_CACHES"]

#: the protocol's version (the first field a client sends)
PROTOCOL = 1
#: the client's variable naming the worker's socket (``kinship search`` then uses it)
SOCKET_ENV = "STRKIN_WORKER"
#: the longest request line the worker reads
MAX_REQUEST = 1 << 20

#: environment variables the engine reads while a job runs: the client's values
#: (set or unset) hold for its job, the worker's own are restored after it
JOB_ENV = ("STRKIN_TABLE_CACHE", "XDG_CACHE_HOME", "HOME", "STRKIN_SHARE_GROUP",
           "KINSHIP_NUM_THREADS", "COLUMNS", "LINES")
#: variables read once, when a module is imported: they hold for every job of a
#: worker, so a client with other values is refused (restart the worker with them);
#: every variable of :data:`FIXED_PREFIXES` is compared as well
FIXED_ENV = ("KINSHIP_NUMBA_CACHE", "KINSHIP_SLP", "KINSHIP_TABLE_MEMO_MB")
#: prefixes of variables compared the same way: numba's, and Dask's (``DASK_*`` set
#: ``dask.config`` once, when Dask is imported: a job with ``[execution] cluster``
#: would otherwise run with the worker's Dask settings, its security ones included)
FIXED_PREFIXES = ("NUMBA_", "DASK_")
#: variables the code reads that a client never passes to the worker:
#: ``STRKIN_ENGINE_KILL_AT`` is the tests' fault injection (it SIGKILLs the process
#: that runs the job, here the worker); ``STRKIN_WORKER`` and ``XDG_RUNTIME_DIR``
#: name the socket, on the client's side
NOT_FORWARDED = ("STRKIN_ENGINE_KILL_AT", SOCKET_ENV, "XDG_RUNTIME_DIR")

#: the per-process caches a job fills (module, attribute): emptied after each job
JOB_CACHES = (
    ("engine.model", "_CACHE"),            # compiled models, with their memoised tables
    ("engine.compile", "_CACHE"),          # block tables
    ("engine.compile", "_KEY_LOCKS"),
    ("engine.chance", "_PG_CACHE"),
    ("engine.ylineage", "_COUNTS"),
    ("engine.report_html", "_MUT_MEMO"),
    ("kinship.tables", "_EVIDENCE_STACKS"),
    ("kinship.tables", "_JOINTS"),
    ("kinship.tables", "_UNRELATED"),
    ("kinship.likelihood", "_T_CACHE"),
    ("kinship.likelihood", "_EV_CACHE"),   # keyed by a person's allele calls (dropout models)
    ("kinship.likelihood", "_STRUCT_PATHS"),
    ("kinship.likelihood", "_EXPRESSIONS"),
    ("kinship.likelihood", "_PATH_CACHE"),
    ("kinship.cases", "_SHAPES"),
    ("kinship.search", "_WORDS"),
)

#: the packages whose source the software identity hashes
PACKAGES = ("kinship", "formats", "engine", "validation")
#: the compiled dependencies whose versions are part of the identity
DEPENDENCIES = ("numpy", "numba", "llvmlite", "scipy", "pyarrow")

_SERVING = False


# -- shared by client and worker --------------------------------------------------------
def default_socket() -> Path:
    """``$XDG_RUNTIME_DIR/strkin/worker.sock``, else
    ``$XDG_CACHE_HOME/strkin/worker.sock`` (``~/.cache/strkin/worker.sock``)."""
    run = os.environ.get("XDG_RUNTIME_DIR")
    if run:
        return Path(run) / "strkin" / "worker.sock"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "strkin" / "worker.sock"


def socket_path(given) -> Path:
    """The socket a command uses: ``given`` (``--socket``, ``--worker PATH``), else
    ``$STRKIN_WORKER``, else :func:`default_socket`."""
    if given:
        return Path(given).expanduser()
    env = os.environ.get(SOCKET_ENV, "").strip()
    return Path(env).expanduser() if env else default_socket()


def _source_files():
    """(package-relative name, path) of every ``.py`` file of :data:`PACKAGES`, found
    without importing them."""
    from importlib.util import find_spec

    for pkg in PACKAGES:
        spec = find_spec(pkg)
        if spec is None or not spec.submodule_search_locations:
            continue
        for top in spec.submodule_search_locations:
            for root, dirs, files in os.walk(top):
                dirs[:] = sorted(d for d in dirs if d != "__pycache__")
                for f in sorted(files):
                    if f.endswith(".py"):
                        p = os.path.join(root, f)
                        yield pkg + "/" + os.path.relpath(p, top).replace(os.sep, "/"), p


def software_identity() -> dict:
    """What a client and a worker must share: strkin's version, the sha256 of its
    source files (name and bytes of each ``.py`` of :data:`PACKAGES`, about 3 ms),
    the Python (version and ``sys.prefix``) and, for each of :data:`DEPENDENCIES`,
    where it is installed and the size and modification time of its
    ``__init__.py`` (found without importing it: an upgrade replaces that file;
    reading the installed versions' metadata would cost 30 ms of every command)."""
    import hashlib
    import platform
    from importlib.util import find_spec

    from kinship import __version__     # kinship's names are loaded lazily: nothing heavy

    h = hashlib.sha256()
    for name, path in _source_files():
        with open(path, "rb") as f:
            data = f.read()
        h.update(name.encode() + b"\0" + len(data).to_bytes(8, "little"))
        h.update(data)
    deps = {}
    for name in DEPENDENCIES:
        spec = find_spec(name)
        if spec is None or not spec.origin:
            deps[name] = None
            continue
        st = os.stat(spec.origin)
        deps[name] = [spec.origin, st.st_size, st.st_mtime_ns]
    return {"strkin": __version__, "source": h.hexdigest(),
            "python": [platform.python_version(), sys.prefix], **deps}


def _fixed_env() -> dict:
    return {k: v for k, v in os.environ.items() if k in FIXED_ENV or k.startswith(FIXED_PREFIXES)}


def _peer_uid(sock) -> int:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


def _os_str(s) -> bool:
    """Whether ``s`` is a string the OS takes as a path, argument or environment
    value (JSON can carry a NUL or a lone surrogate, which ``os.chdir`` and
    ``os.environ`` refuse with ValueError)."""
    if not isinstance(s, str):
        return False
    try:
        return b"\0" not in os.fsencode(s)
    except UnicodeError:
        return False


def _send(sock, obj) -> None:
    sock.sendall((json.dumps(obj, separators=(",", ":")) + "\n").encode())


class _Lines:
    """JSON objects from a socket, one per line (a partial line is kept across
    calls, so a ``KeyboardInterrupt`` during ``recv`` loses nothing)."""

    def __init__(self, sock, limit: int = MAX_REQUEST):
        self.sock, self.buf, self.limit = sock, b"", limit

    def next(self):
        """The next object, or ``None`` at end-of-file."""
        while b"\n" not in self.buf:
            if len(self.buf) > self.limit:
                raise ValueError(f"a line longer than {self.limit} bytes")
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        obj = json.loads(line)
        if not isinstance(obj, dict):
            raise ValueError("a line that is not a JSON object")
        return obj


# -- client ------------------------------------------------------------------------------
class WorkerUnavailable(OSError):
    """No worker answers at the socket, or the one there is not ours."""


def _connect(path: Path) -> socket.socket:
    import stat

    start = f"Fix: start one with: kinship worker start --socket {path}"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(str(path))
    except FileNotFoundError:
        s.close()
        raise WorkerUnavailable(f"no worker answers at {path} (no such socket). {start}") from None
    except ConnectionRefusedError:
        s.close()
        try:
            is_sock = stat.S_ISSOCK(os.stat(path).st_mode)
        except OSError:
            is_sock = False
        if not is_sock:
            raise WorkerUnavailable(f"{path} is not a worker's socket. Fix: give the socket of "
                                    f"kinship worker start") from None
        raise WorkerUnavailable(f"no worker answers at {path} (connection refused: the worker "
                                f"that made it has ended). {start}") from None
    except OSError as e:
        s.close()
        raise WorkerUnavailable(f"cannot reach a worker at {path}: {e.strerror or e}. Fix: check "
                                f"the path, or start one with: kinship worker start --socket "
                                f"{path}") from None
    uid = _peer_uid(s)
    if uid != os.getuid():
        s.close()
        raise WorkerUnavailable(f"the socket {path} is served by another user (uid {uid}); "
                                f"nothing was sent. Fix: use a worker of your own (kinship worker "
                                f"start)")
    return s


def _request(op: str, **kw) -> dict:
    return {"op": op, "protocol": PROTOCOL, "software": software_identity(), **kw}


def route(args):
    """The worker's socket when ``kinship search`` is to run in a worker
    (``--worker [SOCKET]`` or ``$STRKIN_WORKER``), else ``None`` (and always
    ``None`` inside the worker, which runs the job itself)."""
    if _SERVING:
        return None
    given = getattr(args, "worker", None)
    if given is None and not os.environ.get(SOCKET_ENV, "").strip():
        return None
    return socket_path(given or None)


def uses_worker(argv) -> bool:
    """Whether the command line may be a ``kinship search`` for the worker (or this
    is the worker): :func:`engine.cli.main` then parses it with the search
    command's parser alone."""
    return _SERVING or bool(os.environ.get(SOCKET_ENV, "").strip()) or any(
        a == "--worker" or a.startswith("--worker=") for a in argv)


def run_client(path: Path, argv: list, prog: str = "kinship search") -> int:
    """Run ``kinship ARGV`` in the worker at ``path``: its output is written here as
    it comes, its exit code returned.  Ctrl-C closes the sending side (the worker
    cancels the job at its next task boundary and says so); a second Ctrl-C leaves
    at once."""
    try:
        s = _connect(path)
    except WorkerUnavailable as e:
        print(f"{prog}: error: {e} (or run the job without --worker)", file=sys.stderr)
        return 1
    mask = os.umask(0o077)
    os.umask(mask)
    env = {k: os.environ.get(k) for k in JOB_ENV}
    if sys.stderr.isatty():
        import shutil

        cols, lines = shutil.get_terminal_size()
        env.setdefault("COLUMNS", None)
        env["COLUMNS"] = env["COLUMNS"] or str(cols)
        env["LINES"] = env["LINES"] or str(lines)
    req = _request("run", argv=list(argv), cwd=os.getcwd(), umask=mask, env=env,
                   fixed_env=_fixed_env(),
                   tty={"out": sys.stdout.isatty(), "err": sys.stderr.isatty()})
    reader = _Lines(s, limit=1 << 30)
    presses = [0]

    def on_interrupt(signum, frame):
        # Ctrl-C: the first closes the sending side (the worker reads end of file and
        # cancels at its next task boundary) and keeps printing what comes back; the
        # second leaves at once.  Nothing is raised by the first, so no output is lost
        # half-way; the note is written unbuffered (a buffered write here could
        # interrupt one in progress)
        presses[0] += 1
        if presses[0] > 1:
            raise KeyboardInterrupt
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        try:
            os.write(2, f"{prog}: interrupting: the worker stops the run at its next task "
                        f"boundary (Ctrl-C again to leave now)\n".encode())
        except OSError:
            pass

    import signal

    try:
        old_handler = signal.signal(signal.SIGINT, on_interrupt)
    except ValueError:          # not the main thread (a program calling this): no handler
        old_handler = None
    try:
        _send(s, req)
        while True:
            msg = reader.next()
            if msg is None:
                print(f"{prog}: error: the worker at {path} closed the connection before the job "
                      f"ended (was it stopped?). Fix: check its log; kinship search JOB --resume "
                      f"finishes an interrupted run", file=sys.stderr)
                return 1
            t = msg.get("t")
            if t == "out":
                sys.stdout.write(msg.get("s", ""))
                sys.stdout.flush()
            elif t == "err":
                sys.stderr.write(msg.get("s", ""))
                sys.stderr.flush()
            elif t == "queued":
                if msg.get("ahead"):
                    print(f"{prog}: waiting for the worker ({msg['ahead']} job(s) ahead)",
                          file=sys.stderr)
            elif t == "exit":
                return int(msg.get("code", 1))
            elif t == "refused":
                print(f"{prog}: error: {msg.get('msg', 'the worker refused the job')}",
                      file=sys.stderr)
                return 1
    except KeyboardInterrupt:
        print(f"{prog}: left the worker; the run stops at its next task boundary (finish it "
              f"with --resume)", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # this command's reader went away (kinship search ... | head): stop quietly, as
        # engine.cli does; the worker sees the connection close and cancels what is left
        from .errors import stdout_to_devnull     # the standard library only

        stdout_to_devnull()
        return 1
    except (OSError, ValueError) as e:
        print(f"{prog}: error: lost the worker at {path}: {getattr(e, 'strerror', None) or e}",
              file=sys.stderr)
        return 1
    finally:
        if old_handler is not None:
            signal.signal(signal.SIGINT, old_handler)
        s.close()


def _simple(path: Path, op: str) -> dict:
    s = _connect(path)
    try:
        _send(s, _request(op))
        msg = _Lines(s).next()
    finally:
        s.close()
    if msg is None:
        raise WorkerUnavailable(f"the worker at {path} closed the connection without an answer")
    return msg


# -- the subcommand ---------------------------------------------------------------------
def _cmd_worker(args) -> int:
    prog = f"kinship worker {args.action}"
    path = socket_path(args.socket)
    if args.action == "start":
        from .errors import InputError
        from .memory import parse_size

        try:
            keep = 0 if str(args.keep_tables).strip() == "0" else parse_size(args.keep_tables)
        except (InputError, ValueError) as e:
            print(f"{prog}: error: --keep-tables {args.keep_tables!r}: {e}", file=sys.stderr)
            return 2
        return serve(path, args.cli, keep_tables=keep)
    try:
        msg = _simple(path, args.action)
    except WorkerUnavailable as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as e:
        print(f"{prog}: error: no answer from the worker at {path}: "
              f"{getattr(e, 'strerror', None) or e}", file=sys.stderr)
        return 1
    if msg.get("t") == "refused":
        print(f"{prog}: error: {msg.get('msg')}", file=sys.stderr)
        return 1
    if args.action == "stop":
        print(f"the worker at {path} (pid {msg.get('pid')}) is stopping"
              + (f"; its running job stops at the next task boundary" if msg.get("running") else ""))
        return 0
    same = msg.get("software") == software_identity()
    print(f"worker at {path}: pid {msg.get('pid')}, up {msg.get('uptime_s', 0):.0f} s, "
          f"strkin {msg.get('software', {}).get('strkin')}"
          + ("" if same else " (OTHER software than this command: restart it)"))
    print(f"jobs: {msg.get('jobs_done', 0)} done, "
          + (f"running {msg['running']}" if msg.get("running") else "none running")
          + f", {msg.get('queued', 0)} queued; memory {msg.get('rss_mib', 0):.0f} MiB")
    if "kept_blocks" in msg:
        print(f"reference tables kept between jobs: {msg['kept_blocks']} blocks, "
              f"{msg['kept_mib']:.0f} of {msg['keep_mib']:.0f} MiB (--keep-tables)")
    return 0


def register(sub) -> None:
    p = sub.add_parser(
        "worker", help="a long-lived local worker that runs kinship search jobs warm",
        description="start: run a worker in the foreground (under systemd, nohup or a "
                    "terminal) on a UNIX-domain socket, private to your user; status / stop: ask "
                    "the running one. Jobs reach it with kinship search JOB --worker [SOCKET] or "
                    "STRKIN_WORKER=SOCKET. See docs/engine.md, The local worker.")
    p.add_argument("action", choices=("start", "status", "stop"))
    p.add_argument("--socket", metavar="PATH", default=None,
                   help=f"the socket (default: ${SOCKET_ENV}, else {default_socket()})")
    p.add_argument("--keep-tables", metavar="SIZE", default="0",
                   help="start: keep up to SIZE (e.g. 2GiB) of compiled reference tables between "
                        "jobs, so later jobs against the same references and model skip compiling "
                        "them; they are derived from the references' genotypes and stay in the "
                        "worker's memory (default 0: nothing of a job is kept)")
    p.set_defaults(func=_cmd_worker)


# -- worker -----------------------------------------------------------------------------
class _Client:
    """One connection of a ``run`` request: its job, its stream back, its cancel event."""

    def __init__(self, sock, req: dict, number: int):
        self.sock, self.req, self.number = sock, req, number
        self.lock = threading.Lock()
        self.cancel = threading.Event()
        self.gone = False
        self.started = self.dropped = False     # under the worker's lock

    def send(self, obj) -> None:
        with self.lock:
            if self.gone:
                return
            try:
                _send(self.sock, obj)
            except OSError:
                self.gone = True
                self.cancel.set()

    def watch(self) -> None:
        """In the connection's thread: end-of-file (or anything) from the client
        cancels its job."""
        try:
            while self.sock.recv(4096):
                pass
        except OSError:
            pass
        self.cancel.set()


class _Stream:
    """``sys.stdout`` / ``sys.stderr`` of a job in the worker: text goes to the client."""

    encoding = "utf-8"
    errors = "strict"

    def __init__(self, client: _Client, kind: str, tty: bool):
        self.client, self.kind, self.tty = client, kind, bool(tty)

    def write(self, s) -> int:
        if s:
            self.client.send({"t": self.kind, "s": str(s)})
        return len(s)

    def writelines(self, lines) -> None:
        for x in lines:
            self.write(x)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return self.tty

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        import io

        raise io.UnsupportedOperation("a worker job's stream has no file descriptor")


class _Worker:
    def __init__(self, path: Path, log, cli):
        import queue

        self.path, self.log, self.cli = path, log, cli
        self.keep_tables = 0          # bytes of block tables kept between jobs (--keep-tables)
        self.queue: "queue.Queue[_Client]" = queue.Queue()
        self.stopping = threading.Event()
        self.current: _Client | None = None
        self.waiting = 0
        self.count = 0
        self.done = 0
        self.lock = threading.Lock()
        self.started = time.time()
        self.identity = software_identity()
        self.fixed = _fixed_env()

    # the connections (one thread each) ------------------------------------------------
    def accept_loop(self, server) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                if self.stopping.is_set():
                    return
                continue
            threading.Thread(target=self.handle, args=(conn,), daemon=True,
                             name="strkin-worker-conn").start()

    def handle(self, conn) -> None:
        keep = False
        try:
            uid = _peer_uid(conn)
            if uid != os.getuid():
                self.log.warning("refused a connection from uid %d (this worker serves uid %d "
                                 "only)", uid, os.getuid())
                _send(conn, {"t": "refused", "msg": "this worker serves its own user only"})
                return
            conn.settimeout(30)
            try:
                req = _Lines(conn).next()
            except (ValueError, UnicodeDecodeError):
                _send(conn, {"t": "refused", "msg": "not a worker request (JSON lines)"})
                return
            conn.settimeout(None)
            if req is None:
                return
            op = req.get("op")
            if op == "stop":
                _send(conn, {"t": "stopping", "pid": os.getpid(),
                             "running": self.current is not None})
                self.log.info("stop requested by a client")
                self.stop()
                return
            if op == "status":
                _send(conn, self.status())
                return
            if op != "run":
                _send(conn, {"t": "refused", "msg": f"unknown request {str(op)[:40]!r}"})
                return
            why = self.check(req)
            if why:
                _send(conn, {"t": "refused", "msg": why})
                return
            with self.lock:
                self.count += 1
                client = _Client(conn, req, self.count)
                ahead = self.waiting + (self.current is not None)
                self.waiting += 1
                self.queue.put(client)
            client.send({"t": "queued", "ahead": ahead})
            keep = True
            client.watch()
            with self.lock:
                if not client.started:        # it left while its job waited: drop the job
                    client.dropped = True
                    self.waiting -= 1
            if client.dropped:
                self.log.info("job %d dropped before it started: its client left", client.number)
                client.send({"t": "err", "s": "kinship search: interrupted before the job "
                                             "started; nothing was run\n"})
                client.send({"t": "exit", "code": 130})
                conn.close()
        except (OSError, ValueError):
            pass
        finally:
            if not keep:
                conn.close()

    def check(self, req: dict) -> str | None:
        """Why a run request is refused (``None``: accepted)."""
        restart = f"restart the worker: kinship worker stop --socket {self.path}, then kinship " \
                  f"worker start --socket {self.path}"
        if self.stopping.is_set():
            return "the worker is stopping; nothing was run"
        if req.get("protocol") != PROTOCOL:
            return (f"the worker speaks protocol {PROTOCOL}, this command "
                    f"{req.get('protocol')!r}; nothing was run. Fix: {restart}")
        if req.get("software") != self.identity:
            theirs = req.get("software") if isinstance(req.get("software"), dict) else {}
            diff = [k for k in self.identity if theirs.get(k) != self.identity[k]]
            return (f"the worker at {self.path} runs other software than this command (it differs "
                    f"in: {', '.join(diff) or 'the request'}; the worker has strkin "
                    f"{self.identity['strkin']}, source {self.identity['source'][:12]}, this command "
                    f"strkin {theirs.get('strkin')}, source {str(theirs.get('source'))[:12]}); "
                    f"nothing was run. Fix: {restart}")
        theirs = req.get("fixed_env")
        if theirs != self.fixed:
            theirs = theirs if isinstance(theirs, dict) else {}
            names = sorted(k for k in set(self.fixed) | set(theirs) if self.fixed.get(k) != theirs.get(k))
            return (f"the worker was started with other values of {', '.join(names)} (read once "
                    f"at start); nothing was run. Fix: {restart}, with this command's environment")
        argv, cwd, env = req.get("argv"), req.get("cwd"), req.get("env")
        if not (isinstance(argv, list) and all(_os_str(a) for a in argv)
                and _os_str(cwd) and os.path.isabs(cwd)
                and isinstance(req.get("umask"), int) and 0 <= req["umask"] <= 0o777
                and isinstance(env, dict)
                and all(k in JOB_ENV and (v is None or _os_str(v)) for k, v in env.items())):
            return "a malformed run request; nothing was run"
        return None

    def status(self) -> dict:
        return {"t": "status", "pid": os.getpid(), "uptime_s": time.time() - self.started,
                "software": self.identity, "jobs_done": self.done,
                "running": getattr(self.current, "job", None),   # read once: a job may end
                "queued": self.waiting, "rss_mib": _rss_mib(), **self._kept()}

    def _kept(self) -> dict:
        if not self.keep_tables:
            return {}
        from .compile import kept_tables

        blocks, nbytes = kept_tables()
        return {"kept_blocks": blocks, "kept_mib": nbytes / 2**20,
                "keep_mib": self.keep_tables / 2**20}

    def stop(self) -> None:
        self.stopping.set()
        cur = self.current
        if cur is not None:
            cur.cancel.set()

    # the jobs (main thread) --------------------------------------------------------------
    def job_loop(self) -> None:
        import queue

        while True:
            try:
                client = self.queue.get(timeout=0.2)
            except queue.Empty:
                if self.stopping.is_set():
                    return
                continue
            with self.lock:
                if client.dropped:            # answered and closed by its connection's thread
                    continue
                client.started = True
                self.waiting -= 1
            if self.stopping.is_set():
                client.send({"t": "refused", "msg": "the worker was stopped before the job "
                                                    "started; nothing was run"})
            elif client.cancel.is_set():
                self.log.info("job %d dropped before it started: its client left", client.number)
            else:
                try:
                    self.run(client)
                except Exception as e:      # noqa: BLE001 - the worker outlives a job's failure
                    self.log.error("job %d failed in the worker: %s", client.number,
                                   type(e).__name__)
            try:
                client.sock.shutdown(socket.SHUT_RDWR)   # wakes the connection's thread
            except OSError:
                pass
            client.sock.close()

    def run(self, client: _Client) -> None:
        import traceback
        import warnings

        from .execute import cancel_on

        cli = self.cli
        req = client.req
        client.job = "?"
        self.current = client
        t0 = time.perf_counter()
        saved_env = {k: os.environ.get(k) for k in JOB_ENV}
        saved_cwd = os.getcwd()
        saved_out, saved_err = sys.stdout, sys.stderr
        saved_mask = os.umask(req["umask"])
        code = 1
        try:
            try:
                os.chdir(req["cwd"])
            except (OSError, ValueError) as e:
                client.send({"t": "err", "s": f"kinship search: error: the worker cannot enter "
                                             f"{req['cwd']}: {getattr(e, 'strerror', None) or e}\n"})
                return
            for k, v in req["env"].items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            tty = req.get("tty") if isinstance(req.get("tty"), dict) else {}
            sys.stdout = _Stream(client, "out", tty.get("out"))
            sys.stderr = _Stream(client, "err", tty.get("err"))
            # a fresh warnings registry per job: a warning shown to one job is shown to the next
            with warnings.catch_warnings(), cancel_on(client.cancel):
                try:
                    args = cli.search_args(req["argv"])
                    if args is None:      # the full parser: a usage error (SystemExit), or
                        args = cli.build_parser().parse_args(req["argv"])   # another command
                    if args.command != "search":
                        client.send({"t": "refused", "msg": "the worker runs kinship search only; "
                                                            "nothing was run"})
                        return
                    client.job = os.path.abspath(args.job)
                    self.log.info("job %d start: %s", client.number, client.job)
                    client.send({"t": "started"})
                    code = cli.main(list(req["argv"]))
                    if code == 130 and self.stopping.is_set():
                        print("kinship search: the worker was stopped (kinship worker stop); "
                              "finish the run with kinship search JOB --resume", file=sys.stderr)
                except SystemExit as e:        # usage errors, --help
                    code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
                    if e.code is not None and not isinstance(e.code, int):
                        print(e.code, file=sys.stderr)
                except BaseException:          # a bug: the traceback a fresh process would show
                    traceback.print_exc()
                    code = 1
        finally:
            sys.stdout, sys.stderr = saved_out, saved_err
            os.umask(saved_mask)
            for k, v in saved_env.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
            try:
                os.chdir(saved_cwd)
            except OSError:
                os.chdir("/")
            self.current = None
            release_job_memory(self.keep_tables)
            if client.job != "?":
                self.done += 1
                how = "cancelled (its client left)" if client.cancel.is_set() and code == 130 \
                    else f"exit {code}"
                self.log.info("job %d end: %s, %s in %.2f s; memory %.0f MiB", client.number,
                              client.job, how, time.perf_counter() - t0, _rss_mib())
            client.send({"t": "exit", "code": int(code or 0)})


def release_job_memory(keep_tables: int = 0) -> None:
    """Empty the per-process caches a job fills (:data:`JOB_CACHES`), reset numba's
    thread count, collect the garbage and give the freed heap back to the system
    (glibc ``malloc_trim``).  numba's compiled kernels and the table store's maps
    of other runs' files are all that stays; with ``keep_tables`` (bytes,
    ``--keep-tables``) also up to that much of the block tables, the least recently
    used dropped first (:func:`engine.compile.keep_tables`)."""
    import gc

    for mod, attr in JOB_CACHES:
        if keep_tables and (mod, attr) == ("engine.compile", "_CACHE"):
            from . import compile as _compile

            _compile.keep_tables(keep_tables)
            continue
        m = sys.modules.get(mod)
        obj = getattr(m, attr, None) if m is not None else None
        if obj is not None:
            if hasattr(obj, "cache_clear"):
                obj.cache_clear()
            else:
                obj.clear()
    nb = sys.modules.get("numba")
    if nb is not None:
        nb.set_num_threads(nb.config.NUMBA_NUM_THREADS)
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):   # not glibc
        pass


def _rss_mib() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def _warm() -> None:
    """Import what a search imports and load the scoring kernels (numba's first use)."""
    import gc

    from . import api, kernels  # noqa: F401

    kernels._warm()
    gc.collect()
    gc.freeze()      # the modules' and numba's objects: out of every later collection


def _bind(path: Path, log):
    """The listening socket at ``path`` (its directory made 0700 if missing, the
    socket 0600) and the lock file held while the worker lives; a live worker at
    ``path`` is refused, a dead one's socket file replaced."""
    import fcntl
    import stat

    if len(os.fsencode(str(path))) > 107:
        raise WorkerUnavailable(f"the socket path {path} is too long for a UNIX socket (at most "
                                f"107 bytes). Fix: give a shorter --socket")
    d = path.parent
    if not d.exists():
        os.makedirs(d, mode=0o700, exist_ok=True)
        os.chmod(d, 0o700)
    st = os.stat(d)
    # others must not be able to create files there, sticky bit or not: in a
    # world-writable sticky directory another user could create the lock file or the
    # socket's name first and hold them, so that no worker could start
    if st.st_uid != os.getuid() or st.st_mode & 0o022:
        raise WorkerUnavailable(f"the socket's directory {d} is not private (owned by uid "
                                f"{st.st_uid}, mode {stat.S_IMODE(st.st_mode):o}): another user "
                                f"could replace the socket. Fix: use a directory of your own "
                                f"(mode 0700), e.g. the default {default_socket().parent}")
    lock_path = Path(str(path) + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    if os.fstat(fd).st_uid != os.getuid():
        os.close(fd)
        raise WorkerUnavailable(f"the lock file {lock_path} belongs to another user; nothing was "
                                f"started. Fix: remove it, or use a directory of your own (mode "
                                f"0700), e.g. the default {default_socket().parent}")
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        try:
            pid = os.pread(fd, 32, 0).decode().strip()
        except (OSError, UnicodeDecodeError):
            pid = "?"
        os.close(fd)
        raise WorkerUnavailable(f"a worker is already running at {path} (pid {pid}). Fix: use it, "
                                f"or stop it first: kinship worker stop --socket {path}") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    if os.path.lexists(path):
        if not stat.S_ISSOCK(os.lstat(path).st_mode):
            os.close(fd)
            raise WorkerUnavailable(f"{path} exists and is not a socket; nothing was replaced. "
                                    f"Fix: give another --socket, or remove that file")
        os.unlink(path)            # a dead worker's socket (we hold the lock)
        log.info("replaced the socket file of a worker that had ended")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        server.bind(str(path))
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    server.listen(16)
    return server, fd


def serve(path: Path, cli, keep_tables: int = 0) -> int:
    """``kinship worker start``: warm up, listen at ``path`` and run jobs until
    stopped (``kinship worker stop``, SIGTERM, SIGINT).  ``cli`` is the command
    line module that started it (:mod:`engine.cli`, handed over by its ``main``):
    each job runs its ``main``."""
    global _SERVING
    import logging
    import signal

    LOGGERS = cli.LOGGERS

    log = logging.getLogger("strkin.worker")
    log.setLevel(logging.INFO)
    log.propagate = False
    handlers = list(logging.getLogger("engine").handlers)   # stderr, --log-file (engine.cli)
    if not handlers:
        handlers = [logging.StreamHandler(sys.stderr)]
    for name in LOGGERS:
        # each job sets up its own log, as in a fresh process (its -v, its --log-file)
        lg = logging.getLogger(name)
        for h in list(lg.handlers):
            lg.removeHandler(h)
        lg.propagate = True
        lg.setLevel(logging.NOTSET)
    for h in handlers:
        h2 = logging.StreamHandler(h.stream)
        h2.setFormatter(logging.Formatter("%(asctime)s kinship worker: %(message)s",
                                          "%Y-%m-%dT%H:%M:%SZ"))
        h2.formatter.converter = time.gmtime
        log.addHandler(h2)
    prog = "kinship worker start"
    t0 = time.perf_counter()
    try:
        server, lock_fd = _bind(path, log)
    except WorkerUnavailable as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"{prog}: error: cannot listen at {path}: {e.strerror or e}", file=sys.stderr)
        return 1
    worker = None
    try:
        _warm()
        _SERVING = True
        worker = _Worker(path, log, cli)
        worker.keep_tables = int(keep_tables)
        if keep_tables:
            from . import compile as _compile

            _compile.keep_tables(keep_tables)
            log.info("keeping up to %d MiB of compiled reference tables between jobs",
                     keep_tables >> 20)

        def on_signal(signum, frame):
            log.info("signal %d: stopping (a running job stops at its next task boundary)", signum)
            worker.stop()
            signal.signal(signum, signal.SIG_DFL)     # a second one ends the process

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        threading.Thread(target=worker.accept_loop, args=(server,), daemon=True,
                         name="strkin-worker-accept").start()
        log.info("listening at %s (pid %d, strkin %s, source %s; ready in %.1f s)", path,
                 os.getpid(), worker.identity["strkin"], worker.identity["source"][:12],
                 time.perf_counter() - t0)
        worker.job_loop()
        log.info("stopped after %d jobs", worker.done)
        return 0
    finally:
        _SERVING = False
        try:
            server.close()
            os.unlink(path)
        except OSError:
            pass
        os.close(lock_fd)     # the lock file stays (unlinking it could let two workers lock two files)
