#!/usr/bin/env bash
# One `rnn sweep` study shared through a real PostgreSQL server, as on several machines:
# starts a throwaway server on 127.0.0.1 (the distribution's package: apt-get install postgresql),
# creates a database, runs two `rnn sweep` processes against it at the same time (each its own
# --out, as two machines would have) and checks that together they stopped at N finished trials
# with distinct trial directories. Then runs the PostgreSQL test of tests/test_sweep.py against
# the same server. Needs optuna and psycopg2 (pip install 'rnncli[sweep]' psycopg2-binary).
#
#   bash scripts/sweep_postgres.sh            # N=6 trials
#   TRIALS=10 PORT=55432 bash scripts/sweep_postgres.sh
set -euo pipefail

TRIALS="${TRIALS:-6}"
PORT="${PORT:-55432}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="$(mktemp -d)"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
[ -x "$bin/initdb" ] || { echo "sweep_postgres.sh: no PostgreSQL (apt-get install postgresql)" >&2; exit 2; }

# initdb and postgres refuse to run as root: use the package's postgres user then.
as_db() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
if [ "$(id -u)" = 0 ]; then chown postgres "$work"; fi
data="$work/data"

cleanup() {
    as_db "$bin/pg_ctl" -D "$data" -m fast stop >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# Loopback only, trust authentication: a private server that lives as long as this script.
as_db "$bin/initdb" -D "$data" -U rnn --auth=trust -E UTF8 >/dev/null
as_db "$bin/pg_ctl" -D "$data" -l "$work/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $work" start >/dev/null
as_db "$bin/createdb" -h 127.0.0.1 -p "$PORT" -U rnn rnn_sweep
url="postgresql+psycopg2://rnn@127.0.0.1:$PORT/rnn_sweep"  # SQLAlchemy 2.1 defaults to psycopg 3
echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT, database rnn_sweep" >&2

export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
export OPENBLAS_NUM_THREADS=1
sweep=(python -m rnncli -q sweep --set data.num_samples=200 --set data.seq_len=20 --set train.epochs=3
       --param train.lr=loguniform:1e-4:1e-1 --param model.hidden_size=choice:8,16,32
       --trials "$TRIALS" --storage "$url" --study shared)
cd "$work"
start=$(date +%s)
"${sweep[@]}" --out machine-a & a=$!
"${sweep[@]}" --out machine-b & b=$!
wait "$a"; wait "$b"
echo "two rnn sweep processes finished in $(( $(date +%s) - start )) s" >&2

python -m rnncli sweep --summary machine-a --storage "$url" --study shared --json > summary.json
python - "$TRIALS" <<'PY'
import json, pathlib, sys

n = int(sys.argv[1])
s = json.load(open("summary.json"))
done = s["counts"]["complete"] + s["counts"]["pruned"] + s["counts"]["failed"]
dirs = [t["run_dir"] for t in s["trials"]]
local = {m: sorted(p.name for p in pathlib.Path(m).glob("trial-*")) for m in ("machine-a", "machine-b")}
print(f"finished trials: {done} (want {n}); counts {s['counts']}")
print(f"trial directories: machine-a {local['machine-a']}, machine-b {local['machine-b']}")
print(f"best: trial {s['best']['trial']} val_loss {s['best']['value']:.4g} {s['best']['params']}")
assert done == n, "the two processes did not stop at N finished trials together"
assert len(set(dirs)) == len(dirs) == n, "trial directories are not distinct"
assert not set(local["machine-a"]) & set(local["machine-b"]), "both machines wrote one trial number"
print("ok: N trials in total, distinct trial directories")
PY

cd "$repo"
RNN_TEST_POSTGRES_URL="$url" python -m pytest -q -p no:cacheprovider tests/test_sweep.py -k postgres
