#!/usr/bin/env bash
# Segments Q1–Q10, ours vs the peers of shared/bench/gen_and_bench.py, in one run: the peer
# first, then our workload example, then a table with the ratios.
# Usage: bench/compare_segments.sh [profiles]   (needs: pip install duckdb numpy pyarrow pyroaring)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-1000000}"
cargo build --release --example workload >/dev/null
results=$(mktemp -d)
python3 ../shared/bench/gen_and_bench.py --n "$n" --skip-check --reps 5 \
    --results-dir "$results" --no-clickhouse >/dev/null
ours=$(./target/release/examples/workload --profiles "$n" --reps 9)
python3 - "$results" "$ours" <<'PY'
import glob, json, math, sys
peer = json.load(open(glob.glob(sys.argv[1] + "/results_*.json")[0]))["queries"]
ours = json.loads(sys.argv[2])
# A registered segment's count reads a maintained bitmap's length: well under a microsecond.
ours["query_ms"] = {q: max(t, 1e-6) for q, t in ours["query_ms"].items()}
qs = [f"Q{i}" for i in range(1, 11)]
print("query  count      ours_ms  register_ms  duckdb_ms  preagg_ms  pyroaring_ms  floor_ms  duckdb/ours  preagg/ours  ours/floor")
for q in qs:
    p, o = peer[q], ours["query_ms"][q]
    assert p["count"] == ours["counts"][q], q
    print(f"{q:<6} {p['count']:>9} {o:>10.4f} {ours['register_ms'][q]:>10.1f} {p['duckdb_ms']:>10.2f} "
          f"{p['duckdb_preagg_ms']:>10.2f} {p['pyroaring_ms']:>13.3f} {p['floor_ms']:>9.3f} "
          f"{p['duckdb_ms'] / o:>12.0f} {p['duckdb_preagg_ms'] / o:>12.1f} {o / p['floor_ms']:>11.1f}")
g = lambda xs: math.exp(sum(map(math.log, xs)) / len(xs))
print(f"geometric mean: duckdb/ours {g([peer[q]['duckdb_ms'] / ours['query_ms'][q] for q in qs]):.0f}, "
      f"preagg/ours {g([peer[q]['duckdb_preagg_ms'] / ours['query_ms'][q] for q in qs]):.1f}, "
      f"pyroaring/ours {g([peer[q]['pyroaring_ms'] / ours['query_ms'][q] for q in qs]):.2f}")
PY
rm -rf "$results"
