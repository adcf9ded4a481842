#!/usr/bin/env bash
# Consumer group benchmarks, chronik-node and kfake (franz-go's in-process fake Kafka)
# side by side in one run:
#   - BenchmarkGroupRebalance: 10 kgo consumers start together on a 100-partition topic;
#     time until every partition has exactly one owner and every member owns some.
#   - BenchmarkOffsetCommits: 64 concurrent committers, one partition per OffsetCommit;
#     commits per second (chronik-node fsyncs each acknowledged commit).
# Results go to stdout; docs/benchmarks-groups.md records a run.
#
#   scripts/bench_groups.sh                 # defaults below
#   REBALANCES=20 COMMIT_TIME=10s scripts/bench_groups.sh
set -euo pipefail
cd "$(dirname "$0")/.."

REBALANCES=${REBALANCES:-10}
COMMIT_TIME=${COMMIT_TIME:-5s}

go build -trimpath -o bin/chronik-node ./cmd/chronik-node
export CHRONIK_BIN="$PWD/bin/chronik-node"
go test -run '^$' -bench 'BenchmarkGroupRebalance$' -benchtime "${REBALANCES}x" ./test/
go test -run '^$' -bench 'BenchmarkOffsetCommits$' -benchtime "$COMMIT_TIME" ./test/
