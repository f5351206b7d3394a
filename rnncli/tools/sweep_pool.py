"""The processes of `rnn sweep` on this machine: W workers, watched through the study's database.

Each worker is `python -m rnncli.cli.sweep_worker` in a session of its own, so a terminal's Ctrl-C
reaches only the command, which passes it on exactly once (a second one would make the training
loop give up mid-step). The spec goes on stdin, not argv: a storage URL may hold a password.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

from rnncli.tools.sweep import SweepSpec
from rnncli.tools.sweep_study import trial_record


class WorkerPool:
    """W worker processes on one sweep; signals to this process are passed on to them once."""

    def __init__(self, spec: SweepSpec, workers: int):
        self.procs: list[subprocess.Popen] = []
        self.interrupted = 0  # the signal that interrupted the sweep, 0 if none
        self.stopping = False
        for i in range(workers):
            proc = subprocess.Popen([sys.executable, "-m", "rnncli.cli.sweep_worker", str(i)],
                                    stdin=subprocess.PIPE, text=True, start_new_session=True)
            proc.stdin.write(spec.to_json())  # on stdin, not argv: a storage URL may hold a password
            proc.stdin.close()
            self.procs.append(proc)

    def interrupt(self, signum: int = signal.SIGINT, by_user: bool = True) -> None:
        """Pass a signal on to the workers still running (by_user: the sweep was interrupted)."""
        self.interrupted = self.interrupted or (signum if by_user else 0)
        self.stopping = True
        for proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signum)

    def running(self) -> bool:
        return any(p.poll() is None for p in self.procs)

    def exit_codes(self) -> list[int | None]:
        return [p.poll() for p in self.procs]


def watch(study, pool: WorkerPool, interval: float = 0.5) -> Iterator[dict]:
    """Yield each trial record once it has finished, until every worker has exited.

    SIGINT/SIGTERM while watching go to the workers (each stops its trial at the end of the step,
    saves a checkpoint and marks the trial interrupted); a worker exiting with a usage error
    (exit 2) stops the others.
    """
    seen: set[int] = set()
    old = {s: signal.signal(s, lambda signum, frame: pool.interrupt(signum))
           for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            alive = pool.running()
            if 2 in pool.exit_codes() and not pool.stopping:
                pool.interrupt(signal.SIGTERM, by_user=False)
            for t in study.get_trials(deepcopy=False):
                rec = trial_record(t)
                if t.number not in seen and t.state.is_finished() and rec["state"] != "skipped":
                    seen.add(t.number)
                    yield rec
            if not alive:
                return
            time.sleep(interval)
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
