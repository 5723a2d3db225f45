"""The long-lived local worker (``kinship worker``, :mod:`engine.worker`).

A real worker process is started on a socket in the test's directory; jobs reach it
through the real client (``python -m engine.cli search JOB --worker SOCKET``) or,
where the test needs to act in the middle of a job, through the socket directly
with the protocol's own helpers."""
from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import engine
import formats
from engine import worker as W
from engine.demo import _write_job_toml
from engine.execute import cancel_on
from engine.errors import Cancelled
from engine.output import Checkpoints

from enginelib import make_job, simulate

ROOT = Path(__file__).resolve().parents[2]
FILES = ("hits.parquet", "summary.txt")
#: the manifest's sections that depend on when, where and how long a run ran
MANIFEST_VARIES = ("run", "job_source")


def _env(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    for k in W.NOT_FORWARDED:
        env.pop(k, None)
    env.update(extra)
    return env


def _cli(*argv, cwd, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "engine.cli", *argv], cwd=cwd, env=env or _env(),
                          capture_output=True, text=True, timeout=timeout)


class Worker:
    """``kinship worker start --socket PATH`` in a subprocess."""

    def __init__(self, path: Path, log: Path, env=None, extra=()):
        self.path, self.log = Path(path), Path(log)
        self.proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "worker", "start",
                                      "--socket", str(path), *extra], env=env or _env(),
                                     stdout=subprocess.DEVNULL, stderr=open(log, "w"))

    def wait_ready(self, timeout=180):
        t0 = time.time()
        while time.time() - t0 < timeout:
            if "listening at" in self.log.read_text():
                return self
            if self.proc.poll() is not None:
                raise AssertionError(f"the worker ended: {self.log.read_text()}")
            time.sleep(0.1)
        raise AssertionError("the worker did not start")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("worker-data")
    profs, _ = simulate(n_cases=24, n_unrelated=24, n_unrelated_references=6, seed=77)
    formats.write_profiles(d / "ds", profs)
    return d


def _job(data, out, name, modes=("case", "parent-child", "identity"), **kw):
    kw.setdefault("execution__block_size", 4)
    kw.setdefault("execution__query_chunk", 8)
    job = make_job("ds", out, modes, search__top_k=3,
                   search__threshold=10.0, model__theta=0.01,
                   model__mutation={"model": "stepwise", "rate": 0.002, "rate2": 1e-6, "range": 0.1},
                   **kw)
    path = data / name
    _write_job_toml(path, job)
    return path


@pytest.fixture(scope="module")
def in_process(data):
    """The results of the standard job run by ``kinship search`` in a fresh process."""
    _job(data, "out-p", "p.toml")
    p = _cli("search", "p.toml", cwd=data)
    assert p.returncode == 0, p.stderr
    return p


@pytest.fixture(scope="module")
def wk(tmp_path_factory):
    d = tmp_path_factory.mktemp("worker")
    w = Worker(d / "sock" / "w.sock", d / "worker.log").wait_ready()
    yield w
    w.stop()


def _raw(path, req):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(str(path))
    W._send(s, req)
    return s, W._Lines(s, limit=1 << 30)


def _run_request(argv, cwd, **kw):
    req = W._request("run", argv=argv, cwd=str(cwd), umask=0o022,
                     env={k: os.environ.get(k) for k in W.JOB_ENV}, fixed_env=W._fixed_env(),
                     tty={"out": False, "err": False})
    req.update(kw)
    return req


def _same_results(a: Path, b: Path):
    for name in FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    ma, mb = (json.loads((x / "manifest.json").read_text()) for x in (a, b))
    for m in (ma, mb):
        for k in MANIFEST_VARIES:
            m.pop(k)
        m["job"]["output"].pop("path")
    assert ma == mb


def _stdout_shape(text: str) -> str:
    return re.sub(r"in \d+\.\d+ s", "in X s", text)


# -- the round trip and its bytes --------------------------------------------------------
def test_round_trip_same_bytes_and_output_as_in_process(wk, data, in_process):
    p = in_process
    job_w = _job(data, "out-w", "w.toml")
    w = _cli("search", "w.toml", "--worker", str(wk.path), cwd=data)
    assert w.returncode == 0, w.stderr
    assert w.stderr == p.stderr == ""
    assert _stdout_shape(w.stdout) == _stdout_shape(p.stdout).replace("out-p", "out-w")
    _same_results(data / "out-p", data / "out-w")
    # again (the model tables now come from the table store; caches were emptied)
    _job(data, "out-w2", "w2.toml")
    env = _env(STRKIN_WORKER=str(wk.path))           # the variable instead of the option
    w2 = _cli("search", "w2.toml", cwd=data, env=env)
    assert w2.returncode == 0, w2.stderr
    _same_results(data / "out-p", data / "out-w2")
    log = wk.log.read_text()
    assert f"start: {job_w}" in log and "exit 0" in log


def test_kept_tables_are_reused_and_give_the_same_bytes(tmp_path, data, in_process):
    """``--keep-tables``: the block tables stay in the worker between jobs; the next job
    against the same references and model reuses them and writes the same bytes."""
    w = Worker(tmp_path / "k.sock", tmp_path / "k.log", extra=("--keep-tables", "64MiB")).wait_ready()
    try:
        def kept():
            r = _cli("worker", "status", "--socket", str(w.path), cwd=data)
            assert r.returncode == 0, r.stderr
            m = re.search(r"reference tables kept between jobs: (\d+) blocks, (\d+) of 64 MiB", r.stdout)
            assert m, r.stdout
            return int(m.group(1))

        assert kept() == 0
        for i in (1, 2):
            _job(data, f"out-k{i}", f"k{i}.toml")
            r = _cli("search", f"k{i}.toml", "--worker", str(w.path), cwd=data)
            assert r.returncode == 0, r.stderr
            _same_results(data / "out-p", data / f"out-k{i}")
            if i == 1:
                blocks = kept()
                assert blocks > 8          # more than the cache's own CACHE_BLOCKS
            else:
                assert kept() == blocks    # the second job found every block it needed
        assert "keeping up to 64 MiB" in w.log.read_text()
    finally:
        w.stop()
    bad = _cli("worker", "start", "--socket", str(tmp_path / "b.sock"), "--keep-tables", "lots",
               cwd=data)
    assert bad.returncode == 2 and "--keep-tables" in bad.stderr and bad.stderr.count("\n") == 1


def test_block_cache_keeps_blocks_up_to_the_bytes_given():
    from engine import compile as C

    saved = dict(C._CACHE), dict(C._KEEP)
    try:
        C._CACHE.clear()
        C.keep_tables(0)
        for i in range(C.CACHE_BLOCKS + 5):
            with C._CACHE_LOCK:
                C._CACHE[("t", i)] = C.BlockTables([], [], nbytes=1000)
                C._trim()
        assert list(C._CACHE) == [("t", i) for i in range(5, C.CACHE_BLOCKS + 5)]
        C.keep_tables(20_000)               # 20 blocks of 1000 bytes beyond nothing
        for i in range(100, 130):
            with C._CACHE_LOCK:
                C._CACHE[("t", i)] = C.BlockTables([], [], nbytes=1000)
                C._trim()
        assert C.kept_tables() == (20, 20_000)
        assert list(C._CACHE)[-1] == ("t", 129) and ("t", 110) in C._CACHE
        C.keep_tables(5_000)                # between jobs: trimmed to the bytes kept
        assert C.kept_tables() == (5, 5_000) and list(C._CACHE)[0] == ("t", 125)
        C.keep_tables(0)                    # nothing kept between jobs
        assert C.kept_tables() == (0, 0)
    finally:
        C._CACHE.clear()
        C._CACHE.update(saved[0])
        C._KEEP.update(saved[1])


def test_errors_and_usage_come_back_as_in_process(wk, data):
    w = _cli("search", "no-such-job.toml", "--worker", str(wk.path), cwd=data)
    p = _cli("search", "no-such-job.toml", cwd=data)
    assert (w.returncode, w.stdout, w.stderr) == (p.returncode, p.stdout, p.stderr)
    assert w.returncode == 1 and w.stderr.count("\n") == 1
    # --log-file: written by the job in the worker, once (the client writes no log)
    w = _cli("search", "no-such-job.toml", "--worker", str(wk.path), "--log-file", "w.log", cwd=data)
    p = _cli("search", "no-such-job.toml", "--log-file", "p.log", cwd=data)
    lw, lp = ((data / f).read_text().splitlines() for f in ("w.log", "p.log"))
    assert len(lw) == len(lp) == 1 and lw[0].split(" ", 1)[1] == lp[0].split(" ", 1)[1]
    assert stat.S_IMODE(os.stat(data / "w.log").st_mode) == 0o600
    w = _cli("search", "--worker", str(wk.path), cwd=data)        # no JOB: a usage error
    p = _cli("search", cwd=data)
    assert w.returncode == p.returncode == 2
    assert "required: job" in w.stderr


def test_status_and_permissions(wk):
    r = _cli("worker", "status", "--socket", str(wk.path), cwd=wk.path.parent)
    assert r.returncode == 0, r.stderr
    assert f"pid {wk.proc.pid}" in r.stdout and "OTHER" not in r.stdout
    assert stat.S_IMODE(os.stat(wk.path).st_mode) == 0o600
    assert stat.S_ISSOCK(os.stat(wk.path).st_mode)
    assert stat.S_IMODE(os.stat(wk.path.parent).st_mode) == 0o700      # created by the worker


def test_default_socket_is_in_a_private_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    assert W.default_socket() == tmp_path / "run" / "strkin" / "worker.sock"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert W.default_socket() == tmp_path / "cache" / "strkin" / "worker.sock"
    monkeypatch.setenv("STRKIN_WORKER", str(tmp_path / "x.sock"))
    assert W.socket_path(None) == tmp_path / "x.sock"
    assert W.socket_path(str(tmp_path / "y.sock")) == tmp_path / "y.sock"


@pytest.mark.parametrize("mode", [0o777, 0o1777, 0o775])
def test_a_directory_others_can_write_is_refused(tmp_path, mode):
    # sticky (0o1777, as /tmp) included: another user could create the lock file or
    # the socket's name there first and keep every worker from starting
    d = tmp_path / "open"
    d.mkdir()
    os.chmod(d, mode)
    r = _cli("worker", "start", "--socket", str(d / "w.sock"), cwd=tmp_path, timeout=120)
    assert r.returncode == 1 and "is not private" in r.stderr and r.stderr.count("\n") == 1
    assert not (d / "w.sock").exists() and not (d / "w.sock.lock").exists()


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to make a file of another uid")
def test_a_lock_file_of_another_user_is_refused(tmp_path):
    lock = tmp_path / "w.sock.lock"
    lock.write_text("")
    os.chown(lock, 65534, 65534)
    r = _cli("worker", "start", "--socket", str(tmp_path / "w.sock"), cwd=tmp_path, timeout=120)
    assert r.returncode == 1 and "belongs to another user" in r.stderr and r.stderr.count("\n") == 1
    assert not (tmp_path / "w.sock").exists()


# -- refusals ------------------------------------------------------------------------------
def test_other_software_is_refused(wk, data):
    ident = W.software_identity()
    numpy = ident["numpy"][:2] + [ident["numpy"][2] + 1]          # numpy upgraded in place
    for what, bad in (("source", {**ident, "source": "0" * 64}), ("strkin", {**ident, "strkin": "0.0.0"}),
                      ("numpy", {**ident, "numpy": numpy})):
        s, lines = _raw(wk.path, {**_run_request(["search", "w.toml"], data), "software": bad})
        msg = lines.next()
        s.close()
        assert msg["t"] == "refused"
        assert "other software" in msg["msg"] and "kinship worker stop" in msg["msg"]
        assert f"differs in: {what};" in msg["msg"]
        assert "nothing was run" in msg["msg"]
    s, lines = _raw(wk.path, {**_run_request(["search", "w.toml"], data), "protocol": 99})
    assert lines.next()["t"] == "refused"
    s.close()


@pytest.mark.parametrize("name", ["KINSHIP_SLP", "NUMBA_OPT",
                                  "DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION"])
def test_other_import_time_environment_is_refused(wk, data, name):
    # Dask's variables are read once, when Dask is imported: a client's must not be
    # silently replaced by the worker's (its TLS settings among them)
    r = _cli("search", "w.toml", "--worker", str(wk.path), cwd=data,
             env=_env(**{name: "0"}))
    assert r.returncode == 1
    assert name in r.stderr and "restart the worker" in r.stderr
    assert r.stderr.count("\n") == 1


def test_not_json_and_other_commands_are_refused(wk, data):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(str(wk.path))
    s.sendall(b"\x80\x04 not json\n")
    assert W._Lines(s).next()["t"] == "refused"
    s.close()
    s, lines = _raw(wk.path, _run_request(["report", "out-p"], data))
    msgs = []
    while (m := lines.next()) is not None and m["t"] != "exit":
        msgs.append(m)
    s.close()
    assert msgs[-1] == {"t": "refused", "msg": "the worker runs kinship search only; nothing was run"}


def test_no_worker_is_one_line_and_no_fallback(tmp_path, data):
    r = _cli("search", str(data / "w.toml"), "--worker", str(tmp_path / "none.sock"), cwd=tmp_path)
    assert r.returncode == 1 and r.stdout == ""
    assert "no worker answers" in r.stderr and r.stderr.count("\n") == 1
    # a socket file nobody listens on (a worker killed with -9)
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(tmp_path / "dead.sock"))
    dead.close()
    r = _cli("search", str(data / "w.toml"), "--worker", str(tmp_path / "dead.sock"), cwd=tmp_path)
    assert r.returncode == 1 and "connection refused" in r.stderr and r.stderr.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_stale_socket_is_replaced_and_a_live_one_refused(tmp_path):
    path = tmp_path / "w.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(path))           # left behind, as by a worker killed with -9
    dead.close()
    w = Worker(path, tmp_path / "w.log").wait_ready()
    try:
        assert "replaced the socket file of a worker that had ended" in w.log.read_text()
        r = _cli("worker", "start", "--socket", str(path), cwd=tmp_path, timeout=120)
        assert r.returncode == 1
        assert f"already running at {path} (pid {w.proc.pid})" in r.stderr
        assert r.stderr.count("\n") == 1
        assert _cli("worker", "status", "--socket", str(path), cwd=tmp_path).returncode == 0
        r = _cli("worker", "stop", "--socket", str(path), cwd=tmp_path)
        assert r.returncode == 0 and "is stopping" in r.stdout
        assert w.proc.wait(60) == 0
        assert not path.exists()
    finally:
        w.stop()
    (tmp_path / "file").write_text("x")
    r = _cli("worker", "start", "--socket", str(tmp_path / "file"), cwd=tmp_path, timeout=120)
    assert r.returncode == 1 and "is not a socket" in r.stderr
    assert (tmp_path / "file").read_text() == "x"


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to connect as another uid")
def test_another_uid_is_refused(tmp_path):
    import shutil
    import tempfile

    # open the way to the socket for the test (the worker makes it 0600; pytest's
    # directories are 0700)
    d = Path(tempfile.mkdtemp(prefix="strkin-worker-test-", dir="/tmp"))
    os.chmod(d, 0o755)
    w = Worker(d / "w.sock", tmp_path / "w.log").wait_ready()
    try:
        os.chmod(d / "w.sock", 0o666)
        code = ("import os, socket, sys; os.setgid(65534); os.setuid(65534); "
                "s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); "
                "print(s.recv(1000).decode())")      # refused at once, before any request
        r = subprocess.run([sys.executable, "-c", code, str(d / "w.sock")], capture_output=True,
                           text=True, timeout=60)
        assert r.stdout.strip(), r
        assert json.loads(r.stdout) == {"t": "refused",
                                                   "msg": "this worker serves its own user only"}
        assert "refused a connection from uid 65534" in w.log.read_text()
    finally:
        w.stop()
        shutil.rmtree(d, ignore_errors=True)


# -- queue and cancellation ------------------------------------------------------------
def _big_job(data, out, name):
    # many small tasks: the run lasts long enough to act in its middle
    return _job(data, out, name, modes=["parent-child"], execution__block_size=2,
                execution__query_chunk=8, execution__threads=1)


def _task_done(m) -> bool:
    """A job's -vv log line saying that one of its tasks is done (checkpointed)."""
    return m["t"] == "err" and re.search(r"DEBUG: task \w+ done", m.get("s", "")) is not None


def _read_until(lines, pred):
    seen = []
    while True:
        m = lines.next()
        assert m is not None, seen[-5:]
        seen.append(m)
        if pred(m):
            return seen


def test_second_job_waits_for_the_first(wk, data, in_process):
    _big_job(data, "out-a", "a.toml")
    _job(data, "out-b", "b.toml")
    sa, la = _raw(wk.path, _run_request(["search", "a.toml", "-vv"], data))
    _read_until(la, _task_done)   # A runs
    sb, lb = _raw(wk.path, _run_request(["search", "b.toml"], data))
    assert lb.next() == {"t": "queued", "ahead": 1}
    order = []

    def finish(name, lines):
        m = _read_until(lines, lambda m: m["t"] == "exit")[-1]
        order.append((name, m["code"]))

    tb = threading.Thread(target=finish, args=("b", lb))
    tb.start()
    finish("a", la)
    tb.join(300)
    sa.close()
    sb.close()
    assert order == [("a", 0), ("b", 0)]
    _same_results(data / "out-p", data / "out-b")
    assert (data / "out-a" / "hits.parquet").exists()


def test_client_leaving_cancels_and_resume_finishes(wk, data):
    _big_job(data, "out-c", "c.toml")
    s, lines = _raw(wk.path, _run_request(["search", "c.toml", "-vv"], data))
    _read_until(lines, _task_done)
    s.shutdown(socket.SHUT_WR)       # what the client does on Ctrl-C (and a killed client)
    seen = _read_until(lines, lambda m: m["t"] == "exit")
    s.close()
    assert seen[-1] == {"t": "exit", "code": 130}
    assert any("interrupted" in m.get("s", "") for m in seen)
    tasks = list((data / "out-c" / "_state" / "tasks").glob("*.parquet"))
    assert tasks                                         # the tasks done are kept
    assert "cancelled (its client left)" in wk.log.read_text()
    # the run stays resumable: in-process --resume gives the uninterrupted run's bytes
    r = _cli("search", "c.toml", "--resume", cwd=data)
    assert r.returncode == 0, r.stderr
    _big_job(data, "out-c-full", "cf.toml")
    r = _cli("search", "cf.toml", "--worker", str(wk.path), cwd=data)
    assert r.returncode == 0, r.stderr
    _same_results(data / "out-c-full", data / "out-c")


def test_ctrl_c_in_the_client_cancels_the_job(wk, data):
    import signal

    _big_job(data, "out-i", "i.toml")
    p = subprocess.Popen([sys.executable, "-m", "engine.cli", "search", "i.toml", "-vv",
                          "--worker", str(wk.path)], cwd=data, env=_env(), text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for line in p.stderr:
        if _task_done({"t": "err", "s": line}):
            break
    p.send_signal(signal.SIGINT)
    err = p.stderr.read()
    assert p.wait(120) == 130
    assert "interrupting: the worker stops the run at its next task boundary" in err
    assert "kinship: interrupted" in err and "Traceback" not in err
    assert not (data / "out-i" / "hits.parquet").exists()
    assert list((data / "out-i" / "_state" / "tasks").glob("*.parquet"))


def test_queued_job_of_a_client_that_left_is_dropped(wk, data):
    _big_job(data, "out-d", "d.toml")
    _job(data, "out-e", "e.toml")
    sa, la = _raw(wk.path, _run_request(["search", "d.toml", "-vv"], data))
    _read_until(la, _task_done)
    sb, lb = _raw(wk.path, _run_request(["search", "e.toml"], data))
    assert lb.next()["t"] == "queued"
    sb.shutdown(socket.SHUT_WR)      # Ctrl-C while it waits: answered at once, A still runs
    seen = _read_until(lb, lambda m: m["t"] == "exit")
    sb.close()
    assert seen[-1] == {"t": "exit", "code": 130} and "nothing was run" in seen[0]["s"]
    assert re.search(r"job \d+ dropped before it started", wk.log.read_text())
    # a client that is simply gone (closed) while it waits: dropped too
    sc, lc = _raw(wk.path, _run_request(["search", "e.toml"], data))
    assert lc.next()["t"] == "queued"
    sc.close()
    assert _read_until(la, lambda m: m["t"] == "exit")[-1] == {"t": "exit", "code": 0}
    sa.close()
    time.sleep(0.5)
    assert not (data / "out-e").exists()
    assert len(re.findall(r"job \d+ dropped before it started", wk.log.read_text())) == 2
    assert "none running, 0 queued" in _cli("worker", "status", "--socket", str(wk.path), cwd=data).stdout


# -- the engine's side: the cancel hook, the memory, the environment ---------------------
def _cancelled_after_first_task(job):
    """``engine.run(job)`` inside :func:`cancel_on`, the event set when the first
    task's checkpoint is written (its -vv log line): it must raise Cancelled."""
    import logging

    ev = threading.Event()

    class OnFirstTask(logging.Handler):
        def emit(self, record):
            if re.match(r"task \w+ done", record.getMessage()):
                ev.set()

    lg = logging.getLogger("engine")
    h = OnFirstTask(logging.DEBUG)
    old = lg.level
    lg.setLevel(logging.DEBUG)
    lg.addHandler(h)
    try:
        with cancel_on(ev), pytest.raises(Cancelled):
            engine.run(job)
    finally:
        lg.removeHandler(h)
        lg.setLevel(old)


def test_cancel_at_a_task_boundary_in_process(tmp_path, data):
    kw = dict(execution__threads=2, execution__block_size=2, execution__query_chunk=4)
    job = make_job(data / "ds", tmp_path / "out", ["parent-child"], **kw)
    _cancelled_after_first_task(job)
    done = len(Checkpoints(tmp_path / "out" / "_state" / "tasks").done())
    full = engine.run(make_job(data / "ds", tmp_path / "full", ["parent-child"], **kw))
    assert 1 <= done < full.manifest["run"]["tasks"]
    assert "interrupted" in (tmp_path / "out" / "run.log").read_text()
    res = engine.run(job, resume=True)
    assert res.manifest["run"]["tasks_resumed"] == done
    _same_results(tmp_path / "full", tmp_path / "out")
    # an event set after the last task changes nothing; none set: no effect either
    with cancel_on(threading.Event()):
        engine.run(make_job(data / "ds", tmp_path / "again", ["parent-child"], **kw))
    _same_results(tmp_path / "full", tmp_path / "again")


def test_cancel_at_a_task_boundary_on_dask(tmp_path, data):
    distributed = pytest.importorskip("distributed")
    kw = dict(execution__block_size=2, execution__query_chunk=4)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        job = make_job(data / "ds", tmp_path / "out", ["parent-child"],
                       execution__scheduler=cluster.scheduler_address, **kw)
        _cancelled_after_first_task(job)
    done = len(Checkpoints(tmp_path / "out" / "_state" / "tasks").done())
    full = engine.run(make_job(data / "ds", tmp_path / "full", ["parent-child"], **kw))
    assert 1 <= done < full.manifest["run"]["tasks"]
    res = engine.run(make_job(data / "ds", tmp_path / "out", ["parent-child"], **kw), resume=True)
    assert res.manifest["run"]["tasks_resumed"] == done
    _same_results(tmp_path / "full", tmp_path / "out")


def test_release_job_memory_empties_every_job_cache(tmp_path, data):
    import importlib

    engine.run(make_job(data / "ds", tmp_path / "out", ["case", "parent-child"],
                        model__theta=0.01))
    filled = []
    for mod, attr in W.JOB_CACHES:
        obj = getattr(importlib.import_module(mod), attr)
        if len(obj):
            filled.append((mod, attr))
    assert ("engine.model", "_CACHE") in filled and ("engine.compile", "_CACHE") in filled
    W.release_job_memory()
    for mod, attr in W.JOB_CACHES:
        assert len(getattr(importlib.import_module(mod), attr)) == 0, (mod, attr)


def test_every_environment_variable_the_code_reads_is_classified():
    """A variable the engine reads is either applied per job, compared (read at
    import), or deliberately not forwarded: a new one must be added to a list."""
    from formats.perms import ENV

    names = set()
    pat = re.compile(r"""(?:environ\.get|environ\[|getenv)\(?\s*["']([A-Z][A-Z0-9_]+)["']""")
    for pkg in ("engine", "kinship", "formats"):
        for f in (ROOT / pkg).rglob("*.py"):
            names |= set(pat.findall(f.read_text()))
    names.add(ENV)
    classified = set(W.JOB_ENV) | set(W.FIXED_ENV) | set(W.NOT_FORWARDED)
    assert names - classified == set()
    assert ENV in W.JOB_ENV


def test_the_client_imports_nothing_heavy(tmp_path):
    """``kinship search JOB --worker`` (and with $STRKIN_WORKER) reaches the worker
    without importing NumPy, numba or pyarrow (here: no worker answers)."""
    code = ("import sys; from engine.cli import main; "
            "rc = main(sys.argv[1:]); "
            "heavy = sorted(m for m in ('numpy', 'numba', 'pyarrow', 'scipy') if m in sys.modules); "
            "print(rc, heavy)")
    for argv, env in (([str(tmp_path / "job.toml"), "--worker", str(tmp_path / "none.sock")], {}),
                      ([str(tmp_path / "job.toml")], {"STRKIN_WORKER": str(tmp_path / "none.sock")}),
                      (["-v", "--log-file", str(tmp_path / "log"), str(tmp_path / "job.toml"),
                        "--worker=" + str(tmp_path / "none.sock")], {})):
        if argv[0] == "-v":
            argv = argv[:3] + ["search"] + argv[3:]
        else:
            argv = ["search"] + argv
        r = subprocess.run([sys.executable, "-c", code, *argv], cwd=tmp_path, env=_env(**env),
                           capture_output=True, text=True, timeout=120)
        assert r.stdout.strip() == "1 []", (r.stdout, r.stderr)
        assert "no worker answers" in r.stderr and r.stderr.count("\n") == 1


@pytest.mark.parametrize("bad", [{"cwd": "/tmp/a\x00b"}, {"cwd": "/tmp/\ud800"},
                                 {"env": {"HOME": "/tmp/a\x00b"}}, {"env": {"HOME": "\ud800"}}])
def test_a_request_the_os_cannot_take_is_refused_and_the_worker_lives(wk, data, bad):
    """A directory or variable with a NUL or a lone surrogate (valid JSON, not a
    path or an environment value the OS takes) is a malformed request: refused in
    one line, nothing run, and the worker goes on serving (it raised ValueError out
    of its job loop and ended)."""
    req = _run_request(["search", "p.toml"], data)
    if "cwd" in bad:
        req["cwd"] = bad["cwd"]
    else:
        req["env"] = {**req["env"], **bad["env"]}
    s, lines = _raw(wk.path, req)
    msgs = []
    while (m := lines.next()) is not None and m["t"] not in ("exit", "refused"):
        msgs.append(m)
    s.close()
    assert m == {"t": "refused", "msg": "a malformed run request; nothing was run"}
    assert wk.proc.poll() is None
    assert W._simple(wk.path, "status")["t"] == "status"


def test_status_while_the_job_ends(tmp_path):
    """status() reads the running job once: a job that ends between two reads of
    ``current`` (the job loop sets it to None on its thread) gave AttributeError in
    the connection's thread and no answer."""
    import logging

    class Ending(W._Worker):
        reads = 0

        @property
        def current(self):
            Ending.reads += 1
            return None if Ending.reads > 1 else type("C", (), {"job": "/x/job.toml"})()

        @current.setter
        def current(self, value):
            pass

    w = Ending(tmp_path / "w.sock", logging.getLogger("test"), None)
    assert w.status()["running"] == "/x/job.toml"


def test_release_job_memory_drops_the_evidence_of_a_jobs_calls():
    """The evidence matrices of dropout models are keyed by a person's allele calls
    (up to 20,000 of them, 12.8 kB each at 40 alleles): a job's profiles must not
    stay in the worker after it (they did: kinship.likelihood._EV_CACHE was not a
    job cache), nor the pedigree expressions it built."""
    import numpy as np

    from kinship import likelihood as L

    L._evidence_cached((1, 2), 4, False, np.full(4, 0.25), 0.1, 0.0)
    assert len(L._EV_CACHE)
    W.release_job_memory()
    for name in ("_EV_CACHE", "_STRUCT_PATHS", "_EXPRESSIONS", "_PATH_CACHE", "_T_CACHE"):
        assert len(getattr(L, name)) == 0, name


def test_a_closed_stdout_ends_the_client_quietly(wk, data):
    """The client's reader gone (``kinship search ... --worker | head``): the
    client stops with exit 1 and no traceback, as a fresh process does
    (engine.errors.stdout_to_devnull)."""
    _job(data, "out-pipe", "pipe.toml")
    r, w = os.pipe()
    os.close(r)                                  # every write to stdout: EPIPE
    try:
        p = subprocess.run([sys.executable, "-m", "engine.cli", "search", "pipe.toml", "--worker",
                            str(wk.path)], cwd=data, env=_env(), stdout=w,
                           stderr=subprocess.PIPE, text=True, timeout=300)
    finally:
        os.close(w)
    assert p.returncode == 1 and "Traceback" not in p.stderr and "Broken" not in p.stderr, p.stderr
