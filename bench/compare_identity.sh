#!/usr/bin/env bash
# Identity resolution, ours vs the peers of shared/bench/identity_bench.py, in one run.
# Usage: bench/compare_identity.sh [default|merge_heavy]   (needs: pip install duckdb numpy pyarrow networkx)
set -euo pipefail
cd "$(dirname "$0")/.."
variant="${1:-default}"
cargo build --release --example identity_workload >/dev/null
peer=$(mktemp)
python3 ../shared/bench/identity_bench.py --variant "$variant" >"$peer" 2>&1
ours=$(./target/release/examples/identity_workload --variant "$variant")
grep -E '^(duckdb|duckdb_1t|unionfind):' "$peer"
echo "ours: $ours"
python3 - "$peer" "$ours" <<'PY'
import json, re, sys
peer = open(sys.argv[1]).read()
ours = json.loads(sys.argv[2])
for name in ("duckdb", "duckdb_1t", "unionfind"):
    m = re.search(rf"^{name}: (\d+) ms", peer, re.M)
    if m:
        print(f"ratio {name}_ms / ours_ms = {int(m.group(1)) / ours['ingest_ms']:.2f}")
PY
rm -f "$peer"
