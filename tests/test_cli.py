"""The command line as an operator sees it: one line per shop, nothing from dlt unless asked,
exactly one line per failing shop plus a summary, Ctrl-C and SIGTERM answered at once with one
line at any moment of a load, silent broken pipes, and bad arguments named."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines import cli
from simulators.registry import SIMULATORS
from tests.expected import expected_totals, warehouse_totals
from tests.helpers import query

ROOT = Path(__file__).parent.parent


def shop_env(platform: str, sim, name: str) -> dict[str, str]:
    prefix = f"SOURCES__{platform.upper()}__SHOPS__{name.upper()}__"
    values = {"BASE_URL": sim.base_url, "SHOP": name}
    values |= {k.upper(): v for k, v in {**SIMULATORS[platform].credentials}.items()}
    values |= {k.upper(): v for k, v in SIMULATORS[platform].options.items()}
    return {prefix + key: str(value) for key, value in values.items()}


def shopduck(
    *args: str, env: dict[str, str | None], hooks: Path | None = None, **popen: object
) -> subprocess.Popen:
    """`shopduck ARGS` in a process of its own, with this environment and `env` (None: unset);
    `hooks`: a folder whose `sitecustomize.py` every Python process of the command runs first."""
    path = [str(hooks), str(ROOT)] if hooks else [str(ROOT)]
    environment = {
        name: value for name, value in {**os.environ, **env}.items() if value is not None
    }
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", *args],
        env={**environment, "PYTHONPATH": os.pathsep.join(path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        **popen,
    )


def test_a_load_prints_one_line_per_shop_and_nothing_from_dlt(simulator, warehouse):
    haravan, spiffy = simulator("haravan", orders=40), simulator("spiffy", orders=30)
    env = shop_env("haravan", haravan, "north") | shop_env("spiffy", spiffy, "south")
    process = shopduck("load", "--warehouse", str(warehouse), env=env)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    lines = out.splitlines()
    assert len(lines) == 2, out
    assert lines[0].startswith("haravan/north: 40 orders, 0 quarantined, ")
    assert lines[1].startswith("spiffy/south: 30 orders, 0 quarantined, ")
    assert err == ""


def test_a_failing_shop_is_one_line_on_stderr_plus_a_summary(simulator, warehouse):
    good, bad = simulator("haravan", orders=20), simulator("spiffy", orders=20)
    bad.inject(["503"] * 50)
    env = shop_env("haravan", good, "good") | shop_env("spiffy", bad, "bad")
    env |= {"SHOPDUCK__RETRY_ATTEMPTS": "2", "SHOPDUCK__RETRY_INITIAL_WAIT": "0.01"}
    process = shopduck("load", "--warehouse", str(warehouse), env=env)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 1
    assert out.splitlines() == [line for line in out.splitlines() if line.startswith("haravan/")]
    failure, summary = err.splitlines()
    assert failure.startswith("shopduck: spiffy/bad: GET ") and "HTTP 503" in failure
    assert summary == "shopduck: 1 of 2 shop runs failed; the others loaded"


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_load_answers_at_once_and_the_rerun_is_exact(
    sig, code, simulator, warehouse
):
    sim = simulator("haravan", orders=1500)  # enough to start the mapping workers
    env = shop_env("haravan", sim, "crashy") | {"SOURCES__HARAVAN__SHOPS__CRASHY__PAGE_SIZE": "50"}
    sim.hooks.append(lambda n: time.sleep(0.15))  # a slow API: the load takes a few seconds
    for delay in (0.3, 1.0, 1.8, 2.6, 3.5):  # start, fetching, mapping (dlt's steps: see below)
        process = shopduck("load", "--warehouse", str(warehouse), env=env)
        time.sleep(delay)
        if process.poll() is not None:
            break
        assert_interrupted_at_once(process, sig, code)
    sim.hooks.clear()
    assert_rerun_is_exact(warehouse, env, sim, "crashy")


def assert_interrupted_at_once(process: subprocess.Popen, sig: int, code: int) -> None:
    """Send `sig` to a running `shopduck` command: it answers within 5 s, with one line."""
    os.killpg(process.pid, sig)
    started = time.monotonic()
    _, err = process.communicate(timeout=20)
    assert time.monotonic() - started < 5
    assert process.returncode == code, err
    assert err == "shopduck: interrupted: rerun to continue\n", err


def assert_rerun_is_exact(warehouse: Path, env: dict[str, str], sim, shop: str) -> None:
    """`shopduck load` again: the Haravan shop's totals are exactly the simulator's, once."""
    rerun = shopduck("load", "--warehouse", str(warehouse), env=env)
    _, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    assert warehouse_totals(warehouse, "haravan", shop) == expected_totals("haravan", sim.store)
    assert query(warehouse, "select count(*) - count(distinct order_id) from commerce.orders") == [
        (0,)
    ]


def test_a_broken_pipe_is_silent(simulator, warehouse):
    sim = simulator("haravan", orders=30)
    env = shop_env("haravan", sim, "piped")
    assert shopduck("load", "--warehouse", str(warehouse), env=env).wait(timeout=120) == 0
    for reader in ("head -1", "true"):  # a reader that stops early, one that never reads
        piped = subprocess.run(
            f"{sys.executable} -m pipelines.cli report --warehouse {warehouse} | {reader}",
            shell=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert piped.stderr == ""


def test_bad_arguments_name_the_flag_and_the_expected_form(capsys, warehouse):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["load", "--since", "yesterday"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "argument --since: expected an ISO date or time such as 2026-11-01" in err
    assert cli.main(["report", "--since", "2026-11-20", "--until", "2026-11-10"]) == 2
    assert "--since 2026-11-20 is after --until 2026-11-10" in capsys.readouterr().err


@pytest.mark.parametrize("content", [b"", os.urandom(4096)], ids=["empty", "random"])
@pytest.mark.parametrize("command", ["load", "report", "status"])
def test_a_file_that_is_not_a_warehouse_is_named_at_once(
    command, content, warehouse, monkeypatch, capsys
):
    monkeypatch.setenv("SOURCES__HARAVAN__BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("SOURCES__HARAVAN__ACCESS_TOKEN", "t")
    warehouse.write_bytes(content)
    started = time.monotonic()
    assert cli.main([command, "--warehouse", str(warehouse)]) == 1
    assert time.monotonic() - started < 10
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "is not a DuckDB warehouse" in err and "not a valid DuckDB database file" in err
    assert "locked" not in err and "another program" not in err


def test_dlts_own_pipeline_commands_work_with_the_pipelines_dir_the_readme_gives(
    simulator, warehouse
):
    sim = simulator("haravan", orders=20)
    env = shop_env("haravan", sim, "vn-main")
    assert shopduck("load", "--warehouse", str(warehouse), env=env).wait(timeout=120) == 0
    pipelines_dir = warehouse.parent / ".shopduck" / warehouse.name
    dlt = Path(sys.executable).parent / "dlt"
    for command in (
        ["--list-pipelines"],
        ["shopduck_haravan_vn_main", "info"],
        ["shopduck_haravan_vn_main", "trace"],
    ):
        shown = subprocess.run(
            [str(dlt), "pipeline", "--pipelines-dir", str(pipelines_dir), *command],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=warehouse.parent,
        )
        assert shown.returncode == 0, shown.stderr
        assert "shopduck_haravan_vn_main" in shown.stdout
        assert "sim-token" not in shown.stdout + shown.stderr


def test_shards_one_to_three_together_load_every_shop_exactly_once(simulator, warehouse):
    sims = [simulator("spiffy", orders=5, seed=seed) for seed in range(9)]
    env: dict[str, str] = {}
    for number, sim in enumerate(sims):
        env |= shop_env("spiffy", sim, f"shop{number}")
    listed = shopduck("shops", "--shards", "3", env=env)
    out, err = listed.communicate(timeout=60)
    assert listed.returncode == 0, err
    shards = {line.split()[0]: line.split()[1] for line in out.splitlines()[1:]}
    assert set(shards) == {f"spiffy/shop{n}" for n in range(9)}
    assert "sim-password" not in out and "sim-key" not in out
    assert len(set(shards.values())) > 1  # nine shops do not all hash to one shard
    loaded = []
    for index in (1, 2, 3):
        process = shopduck("load", "--warehouse", str(warehouse), "--shard", f"{index}/3", env=env)
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        mine = sorted(line.split(":")[0] for line in out.splitlines() if line.startswith("spiffy/"))
        assert mine == sorted(shop for shop, part in shards.items() if part == f"{index}/3")
        loaded += mine
    assert sorted(loaded) == sorted(shards)
    assert query(
        warehouse, "select shop, count(*) from commerce.orders group by shop order by 1"
    ) == [(f"shop{n}", 5) for n in range(9)]
    assert query(
        warehouse, "select count(*), count(distinct order_id || shop) from commerce.orders"
    ) == [(45, 45)]


def test_report_on_a_warehouse_without_models_says_what_to_run(warehouse, capsys):
    import duckdb

    with duckdb.connect(str(warehouse)) as con:  # a first load failed before any model was built
        con.execute("create schema commerce")
    assert cli.main(["report", "--warehouse", str(warehouse)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no reporting models yet" in err and "shopduck load" in err


def test_status_counts_orders_in_the_warehouse_not_summed_over_runs(simulator, warehouse, capsys):
    sim = simulator("haravan", orders=30)
    env = shop_env("haravan", sim, "vn-main")
    for extra in ([], ["--full-refresh"]):  # the second run reads every order again
        assert shopduck("load", "--warehouse", str(warehouse), *extra, env=env).wait(120) == 0
    assert cli.main(["status", "--warehouse", str(warehouse)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "haravan/vn-main"
    fields = {line[:23].strip(): line[23:] for line in lines[1:]}
    assert fields["orders in warehouse"] == "30"
    assert fields["last run"].endswith(", ok: 30 of 30 orders fetched")
    assert "None" not in "\n".join(lines) and "." not in fields["last success"]
    assert fields["last error"] == ""


def test_report_shows_money_to_the_cent_and_never_rounds():
    from decimal import Decimal

    import pandas as pd

    from pipelines.report import readable

    frame = pd.DataFrame(
        {
            "gross_sales": [Decimal("16630.3000"), Decimal("0.00012"), Decimal("233390660.0000")],
            "refund_rate": [Decimal("0.0810")] * 3,
        }
    )
    shown = readable(frame)
    assert shown["gross_sales"].tolist() == ["16630.30", "0.00012", "233390660.00"]
    assert shown["refund_rate"].tolist() == [Decimal("0.0810")] * 3


def test_a_load_does_without_pandas_and_sqlalchemy_and_a_report_still_has_pandas(
    simulator, warehouse
):
    """pyarrow and DuckDB import pandas only to ask whether something is a data frame (50 MB of
    each process), and dlt SQLAlchemy only to write a connection string in a load's summary
    (12 MB, 0.14 s); httpx its command line's click, rich and pygments (0.07 s); a load uses
    none of them, in its process or its mapping workers."""
    sim = simulator("haravan", orders=1500)  # enough to start the mapping workers
    env = shop_env("haravan", sim, "north")
    loading = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "pipelines.cli",
            "load",
            "--warehouse",
            warehouse,
        ],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert loading.returncode == 0, loading.stderr[-2000:]
    assert loading.stdout.startswith("haravan/north: 1500 orders, 0 quarantined, ")
    imported = {line.rpartition("|")[2].strip() for line in loading.stderr.splitlines()}
    assert "transforms.haravan" in imported  # the workers' imports are listed too
    assert "pyarrow" in imported and "duckdb" in imported
    # `-X importtime` lists the refused attempts too, as a bare `pandas`; none got further
    unused = ("pandas.", "sqlalchemy.", "click.", "rich.", "pygments.")
    assert not {name for name in imported if name.startswith(unused)}

    reporting = shopduck("report", "--warehouse", str(warehouse), env=env)
    out, err = reporting.communicate(timeout=120)
    assert reporting.returncode == 0, err
    assert out.strip()


RECORD_HOST_LOOKUPS = """
import os, socket

_lookup = socket.getaddrinfo
with open(os.environ["SHOPDUCK_TEST_HOSTS"], "a") as hosts:
    hosts.write("(recording)\\n")


def getaddrinfo(host, *args, **kwargs):
    with open(os.environ["SHOPDUCK_TEST_HOSTS"], "a") as hosts:
        hosts.write(f"{host}\\n")
    return _lookup(host, *args, **kwargs)


socket.getaddrinfo = getaddrinfo
"""


def test_a_load_talks_to_its_shops_and_to_nothing_else(simulator, warehouse, tmp_path):
    """dlt sends anonymous telemetry by default, a request from every step of every shop's
    pipeline (three a shop a run), and waits for them when the process exits."""
    sim = simulator("haravan", orders=20)
    looked_up = tmp_path / "hosts.txt"
    env: dict[str, str | None] = {**shop_env("haravan", sim, "north")}
    env |= {name: None for name in os.environ if name.startswith("RUNTIME__")}  # dlt's defaults
    env["SHOPDUCK_TEST_HOSTS"] = str(looked_up)
    process = shopduck(
        "load", "--warehouse", str(warehouse), env=env, hooks=hooks(tmp_path, RECORD_HOST_LOOKUPS)
    )
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    assert out.startswith("haravan/north: 20 orders, 0 quarantined, ")
    lines = looked_up.read_text().split()
    assert "(recording)" in lines  # the lookups were watched
    assert set(lines) - {"(recording)"} <= {"127.0.0.1", "localhost"}, lines


def hooks(tmp_path: Path, sitecustomize: str) -> Path:
    """A folder holding `sitecustomize.py` (see `shopduck`)."""
    folder = tmp_path / "hooks"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(sitecustomize)
    return folder


COUNT_MALLOC_ARENAS_AT_EXIT = """
import atexit, ctypes, os, sys, tempfile


def count_arenas():
    libc = ctypes.CDLL("libc.so.6")
    libc.fopen.restype = ctypes.c_void_p
    with tempfile.NamedTemporaryFile() as report:
        stream = ctypes.c_void_p(libc.fopen(report.name.encode(), b"w"))
        libc.malloc_info(0, stream)
        libc.fclose(stream)
        arenas = open(report.name).read().count("<heap nr=")
    with open(os.environ["SHOPDUCK_TEST_ARENAS"], "a") as counted:
        counted.write(f"{sys.argv[1:2]} {arenas}\\n")


atexit.register(count_arenas)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="malloc arenas are glibc's")
def test_a_loads_threads_share_two_malloc_arenas(simulator, warehouse, tmp_path):
    """Each thread allocating while others do would get an arena of its own and keep what it
    freed there: 55-70 MB more at 20 and 50 shops."""
    sim = simulator("haravan", orders=1500)  # mapping workers, extraction, a load
    counted = tmp_path / "arenas.txt"
    env = shop_env("haravan", sim, "north") | {
        "SHOPDUCK_TEST_ARENAS": str(counted),
        "MALLOC_ARENA_MAX": None,  # glibc's default
    }
    process = shopduck(
        "load",
        "--warehouse",
        str(warehouse),
        env=env,
        hooks=hooks(tmp_path, COUNT_MALLOC_ARENAS_AT_EXIT),
    )
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    # the loading process's count (its mapping workers and their server count theirs too)
    [arenas] = [line for line in counted.read_text().splitlines() if line.startswith("['load']")]
    assert int(arenas.split()[-1]) <= 2, counted.read_text()


WATCH_THE_EXIT = """
import atexit, os, sys

PID = os.getpid()


class FreedByTeardown:
    def __del__(self):
        sys.stderr.write(f"{PID}: interpreter torn down\\n")


kept = FreedByTeardown()  # a module's object: only the interpreter's teardown frees it
atexit.register(lambda: sys.stderr.write(f"{PID}: atexit handlers ran\\n"))
"""


def test_a_command_exits_without_tearing_the_interpreter_down(simulator, warehouse, tmp_path):
    """Freeing every object of the libraries a load imported, one by one, was about a quarter
    of a second of each command; the system frees the memory at once. What an exit must do still
    happens: atexit's handlers run, the output is complete, the exit code is the command's."""
    env = shop_env("haravan", simulator("haravan", orders=30), "north")
    process = shopduck(
        "load", "--warehouse", str(warehouse), env=env, hooks=hooks(tmp_path, WATCH_THE_EXIT)
    )
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert out.startswith("haravan/north: 30 orders, 0 quarantined, "), out
    # (the mapping fork server, a process of its own, exits as Python does)
    said = [line for line in err.splitlines() if line.startswith(f"{process.pid}: ")]
    assert said == [f"{process.pid}: atexit handlers ran"], err


HOLD_THE_LOAD_STEP = """
import os, time
from pathlib import Path

from dlt.common.runners import pool_runner
from dlt.load import Load

_run_pool = pool_runner.run_pool


def run_pool(config, step):
    if isinstance(step, Load):  # within dlt's load step, where dlt would take the signals over
        Path(os.environ["SHOPDUCK_TEST_LOADING"]).touch()
        time.sleep(10)
    return _run_pool(config, step)


pool_runner.run_pool = run_pool
"""


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_load_interrupted_within_dlts_load_step_answers_at_once(
    sig, code, simulator, warehouse, tmp_path
):
    """dlt takes Ctrl-C and SIGTERM over in its normalize and load steps (unless told not to):
    the shop then failed with "SignalReceivedException", exit 1, once the step had ended.
    Interrupted there, the rerun finishes the load exactly."""
    sim = simulator("haravan", orders=20)
    loading = tmp_path / "loading"
    env = shop_env("haravan", sim, "north") | {"SHOPDUCK_TEST_LOADING": str(loading)}
    process = shopduck(
        "load", "--warehouse", str(warehouse), env=env, hooks=hooks(tmp_path, HOLD_THE_LOAD_STEP)
    )
    deadline = time.monotonic() + 120
    while not loading.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert loading.exists(), process.communicate()[1]
    assert_interrupted_at_once(process, sig, code)
    assert_rerun_is_exact(warehouse, env, sim, "north")  # no hooks


def test_a_load_step_failing_in_a_lean_process_says_its_cause(simulator, warehouse):
    """dlt builds the error of a failed step with its command line's helpers, which import
    click: where a loading process made click unimportable, every failed load said "No module
    named 'click'" instead of its cause (here DuckDB out of memory, with what to do)."""
    env = shop_env("haravan", simulator("haravan", orders=600), "north")
    process = shopduck(
        "load", "--warehouse", str(warehouse), env={**env, "SHOPDUCK__DUCKDB_MEMORY_LIMIT": "2MB"}
    )
    _, err = process.communicate(timeout=120)
    assert process.returncode == 1
    assert err.startswith("shopduck: haravan/north: OutOfMemoryException: Out of Memory Error"), err
    assert "SHOPDUCK__DUCKDB_MEMORY_LIMIT)" in err and "click" not in err
