"""One `rnn sweep` worker process: `python -m rnncli.cli.sweep_worker INDEX`, the sweep's spec as
JSON on stdin. Started by `rnn sweep` (tools/sweep.py WorkerPool) in a session of its own.

Prints nothing but a failure (one `rnn: error:` line); exits 0 when the study has its trials,
130 when a signal stopped it (the trial it ran is marked interrupted and queued again), 2 for a
usage error the trials revealed (e.g. an unknown --metric), 1 for anything else.
"""

from __future__ import annotations

import signal
import sys
import threading


def main() -> int:
    from rnncli.errors import Interrupted, RnnError
    from rnncli.tools.sweep import SweepSpec, run_worker

    stop = threading.Event()

    def _handle(signum, frame) -> None:
        stop.set()  # between trials; during one, the training loop's own handler takes over

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _handle)
    worker = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    try:
        run_worker(SweepSpec.from_json(sys.stdin.read()), stop, worker)
    except (Interrupted, KeyboardInterrupt):
        return 130
    except RnnError as e:
        print(f"rnn: error: {str(e).splitlines()[0]}", file=sys.stderr)
        return e.exit_code
    except Exception as e:  # noqa: BLE001 - one line, never a traceback
        print(f"rnn: error: sweep worker {worker}: {type(e).__name__}: {' '.join(str(e).split())}",
              file=sys.stderr)
        return 1
    return 130 if stop.is_set() else 0


if __name__ == "__main__":
    sys.exit(main())
