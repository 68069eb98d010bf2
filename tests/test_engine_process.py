"""The GUI's helper process: results, errors, a crash, cancellation, generation batches."""

import threading
import time

import engine_helpers as helpers
import pytest

from alphacrystal_gui.engine_process import EngineProcess


@pytest.fixture(scope="module")
def engine():
    e = EngineProcess()
    yield e
    e.stop()
    assert not e.running


def collect(engine, fn, *args, live=False, cancelled=lambda: False):
    events = []
    engine.call(fn, args, {}, lambda kind, *payload: events.append((kind, payload)), live, cancelled)
    return events


def test_result_and_progress_come_back(engine):
    events = collect(engine, helpers.add, 2, 3)
    assert events == [("progress", (("half", 2),)), ("succeeded", (5,))]
    assert engine.running and engine._process.pid is not None


def test_engine_errors_become_readable_failures(engine):
    kind, (message, details) = collect(engine, helpers.bad_formula)[-1]
    assert kind == "failed" and "unknown element 'Xx'" in message and details == ""


def test_a_crash_is_reported_and_the_next_call_starts_a_new_process(engine):
    kind, (message, _) = collect(engine, helpers.die)[-1]
    assert kind == "failed" and "exit code 3" in message
    assert collect(engine, helpers.add, 1, 1)[-1] == ("succeeded", (2,))


def test_cancel_reaches_the_call_and_generations_arrive_in_order(engine):
    flag = threading.Event()
    threading.Timer(0.5, flag.set).start()
    start = time.monotonic()
    events = collect(engine, helpers.wait_for_cancel, live=True, cancelled=flag.is_set)
    assert time.monotonic() - start < 5
    kind, ((state, stopped_at),) = events[-1]
    assert kind == "succeeded" and state == "cancelled"
    generations = [payload[1]["generation"] for kind, payload in events if kind == "generation"]
    assert generations == list(range(stopped_at))  # batched on the way, unbatched on arrival


@pytest.mark.skipif(not hasattr(__import__("signal"), "SIGUSR1"), reason="POSIX signals only")
def test_a_busy_process_prints_its_stacks_on_request(capfd):
    engine = EngineProcess()  # started under capfd, so that its stderr is captured here
    flag = threading.Event()
    caller = threading.Thread(target=collect, args=(engine, helpers.wait_for_cancel),
                              kwargs={"live": True, "cancelled": flag.is_set})
    assert not engine.dump_stacks()  # not started
    caller.start()
    try:
        deadline = time.monotonic() + 60
        while not engine.dump_stacks() and time.monotonic() < deadline:  # sent once the process serves
            time.sleep(0.05)
        deadline = time.monotonic() + 10
        err = ""
        while "wait_for_cancel" not in err and time.monotonic() < deadline:
            time.sleep(0.1)
            err += capfd.readouterr().err
    finally:
        flag.set()
        caller.join(10)
    assert "wait_for_cancel" in err and "_serve" in err  # the call's stack, printed by the engine process
    try:
        assert collect(engine, helpers.add, 1, 2)[-1] == ("succeeded", (3,))  # and it carries on
    finally:
        engine.stop()


def test_stop_leaves_no_semaphores_to_the_resource_tracker(tmp_path):
    """The app ends with os._exit; its stopped engine must not leave "leaked semaphore" warnings."""
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "stop_and_exit.py"
    script.write_text(
        "import os, sys\n"
        f"sys.path[:0] = [{str(Path(__file__).parent)!r}]\n"
        "import engine_helpers\n"
        "from alphacrystal_gui.engine_process import EngineProcess\n"
        "if __name__ == '__main__':\n"
        "    e = EngineProcess()\n"
        "    out = []\n"
        "    e.call(engine_helpers.add, (1, 2), {}, lambda kind, *p: out.append(kind))\n"
        "    e.stop()\n"
        "    print(out[-1], flush=True)\n"
        "    os._exit(0)\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).parents[1])
    assert done.returncode == 0 and done.stdout.strip() == "succeeded", done.stderr[-2000:]
    assert "leaked semaphore" not in done.stderr, done.stderr[-2000:]


def test_an_orphaned_engine_with_unread_events_exits(tmp_path):
    """The window dies while the engine still has events queued for it: the engine must
    still exit (its queue's feeder thread, blocked on a full pipe, kept it alive for hours)."""
    import os
    import subprocess
    import sys
    import time
    from pathlib import Path

    marker = tmp_path / "sent"
    script = tmp_path / "die_early.py"
    script.write_text(
        "import os, sys, time\n"
        f"sys.path[:0] = [{str(Path(__file__).parent)!r}]\n"
        "import engine_helpers\n"
        "from alphacrystal_gui.engine_process import EngineProcess\n"
        "if __name__ == '__main__':\n"
        "    e = EngineProcess()\n"
        "    e.start()\n"
        f"    e._requests.put((engine_helpers.chatty, ({str(marker)!r},), {{}}, False))\n"
        f"    while not os.path.exists({str(marker)!r}):\n"
        "        time.sleep(0.05)\n"
        "    print(e.pid, flush=True)\n"
        "    os._exit(0)\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).parents[1])
    assert done.returncode == 0, done.stderr[-2000:]
    pid = int(done.stdout.split()[-1])

    def alive() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        try:  # a zombie (exited, not yet reaped by init) counts as gone
            return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
        except OSError:
            return False

    deadline = time.monotonic() + 120  # it notices within about a second; the deadline only bounds a failure
    while alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    if alive():
        os.kill(pid, 9)
        raise AssertionError("the orphaned engine process did not exit")
