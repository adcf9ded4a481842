#!/usr/bin/env bash
# chronik-node benchmarks, in sections. Every result line is printed under the exact
# command that produced it, so any number can be reproduced by copying that command.
#
#   scripts/bench.sh                 all sections (about 13 minutes; `make bench` runs this
#                                    after `make build`)
#   scripts/bench.sh metadata e2e    only the named sections
#
# Sections: machine, raft-storage, metadata, e2e, data, groups, sessions. To add one, write a
# section_<name> function below and append <name> to ALL_SECTIONS.
#
# Environment: GO (default go), CHRONIK_BIN (default bin/chronik-node, used by e2e, data
# and groups), BENCH_COUNT (go test -count, default 1). docs/benchmarks.md explains the
# numbers.
set -euo pipefail

cd "$(dirname "$0")/.."
GO=${GO:-go}
CHRONIK_BIN=${CHRONIK_BIN:-bin/chronik-node}
BENCH_COUNT=${BENCH_COUNT:-1}
ALL_SECTIONS=(machine raft-storage metadata e2e data groups sessions)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/chronik-bench-sh.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

header() { printf '\n== %s ==\n' "$*"; }

# show prints a command so that it can be pasted back into a shell.
show() {
	local a out='$'
	for a in "$@"; do
		if [[ $a =~ ^[A-Za-z0-9_./=:,-]+$ ]]; then out+=" $a"; else out+=" '$a'"; fi
	done
	printf '%s\n' "$out"
}

# run prints the command, runs it, and prints its result lines (go test's Benchmark
# lines, chronik-bench's E2E lines, chronik-load's LOAD lines). On failure it prints the
# whole output and stops.
run() {
	show "$@"
	local out="$WORK/out"
	if ! "$@" >"$out" 2>&1; then
		cat "$out"
		echo "bench.sh: command failed: $*" >&2
		exit 1
	fi
	grep -E '^(Benchmark|E2E/|LOAD/)' "$out" || { cat "$out"; echo "bench.sh: no results from: $*" >&2; exit 1; }
	printf '  (load average: %s)\n' "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a)"
}

# gobench PKG PATTERN BENCHTIME runs one benchmark function (and its sub-benchmarks).
gobench() {
	run "$GO" test -run '^$' -bench "$2" -benchtime "$3" -count "$BENCH_COUNT" -timeout 20m "$1"
}

# need_bin stops with a hint when the node binary the section runs has not been built.
need_bin() {
	if [[ ! -x "$CHRONIK_BIN" ]]; then
		echo "bench.sh: $CHRONIK_BIN not found; run make build (or make bench)" >&2
		exit 1
	fi
}

section_machine() {
	header "machine"
	echo "cpus: $(nproc)  ($(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ //'))"
	echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo 2>/dev/null)"
	echo "temp dir filesystem (benchmarks write here):"
	df -hT "${TMPDIR:-/tmp}" | sed 's/^/  /'
	echo "go: $($GO version)"
	echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (dirty)')"
	echo "load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo n/a)"
}

# RaftStorage append latency, memory vs bbolt (fsync) vs bbolt without fsync: one Save
# is one MsgStorageAppend. The design note's anchors: memory < 1 µs, persistent
# 100-1000 µs.
section_raft-storage() {
	header "raft-storage: append latency (Save), memory vs bbolt"
	gobench ./raftnode/storage/ '^BenchmarkSave$' 2000x
}

# The metadata path through the actor tree, all stores fsyncing unless named otherwise.
section_metadata() {
	header "metadata: commands/s through Node.Propose (target >= 20,000/s with bbolt and fsync)"
	gobench ./actors/ '^BenchmarkProposeThroughput$' 1s
	gobench ./actors/ '^BenchmarkProposeTopicConfigs100kPartitions$' 1s
	header "metadata: CreateTopics of 1,000 topics x 10 partitions"
	gobench ./actors/ '^BenchmarkCreateTopics1000x10$' 3x
	gobench ./actors/ '^BenchmarkCreateTopics1000x10Into100kPartitions$' 3x
	header "metadata: restart-to-ready with 100,000 partitions (targets: bbolt <= 2 s, memory Bootstrap <= 5 s)"
	gobench ./actors/ '^BenchmarkRestartToReady100kPartitions$' 5x
	gobench ./actors/ '^BenchmarkBootstrapMemory100kPartitions$' 5x
}

# The real binary over TCP: kadm CreateTopics and process-start-to-/healthz restarts.
section_e2e() {
	header "e2e: $CHRONIK_BIN over the wire (kadm), restart = process start until /healthz is 200"
	need_bin
	run "$GO" run ./cmd/chronik-bench -bin "$CHRONIK_BIN" -topics 1000 -partitions 10 -total-topics 10000 -restarts 5
}

# The data path: chronik-load produces to and consumes from fresh nodes and, in the same
# run with the same client, kfake in memory; before that the disk's own append+fdatasync
# bandwidth. fsync=always with 1 KiB records and acks=all writes 4 GiB; chronik-load
# refuses to start with less than 10 GiB free in the temp dir.
section_data() {
	header "data: produce/consume vs kfake, 8 partitions (targets: interval >= 1.0x kfake and >= 2M records/s at 100 B; always >= 50% of the disk limit; p99 <= 10 ms at half peak)"
	need_bin
	run "$GO" run ./cmd/chronik-load -bin "$CHRONIK_BIN"
	# 100 B is where chronik and kfake are closest and one run spreads by +-20% on a
	# shared VM: three more rounds of kfake against interval, alternating, and the medians.
	# kfake-process is kfake in a process of its own, as chronik is, with its CPU measured.
	header "data: 100 B, kfake (in process and on its own) vs interval, 3 rounds alternating (the medians decide the 100 B targets)"
	run "$GO" run ./cmd/chronik-load -bin "$CHRONIK_BIN" -sizes 100 -targets kfake,kfake-process,interval -rounds 3 -disk-time 0 -always-bytes 0
}

# Consumer groups: the same kgo clients against chronik-node (the real binary; metadata
# store and Raft log fsync, so an acknowledged commit is durable) and kfake (in memory) in
# one go test run. No targets: kfake is the reference. go test runs the benchmarks in
# test/, so a relative CHRONIK_BIN is handed to them relative to that directory.
section_groups() {
	header "groups: 10 members joining a 100-partition topic (rebalance time), offset commits/s; chronik-node vs kfake"
	need_bin
	local bin=$CHRONIK_BIN
	[[ $bin == /* ]] || bin=../$bin
	run env CHRONIK_BIN="$bin" "$GO" test -run '^$' -bench '^BenchmarkGroupRebalance$' -benchtime 10x -count "$BENCH_COUNT" -timeout 20m ./test/
	run env CHRONIK_BIN="$bin" "$GO" test -run '^$' -bench '^BenchmarkOffsetCommits$' -benchtime 5s -count "$BENCH_COUNT" -timeout 20m ./test/
}

# Incremental fetch sessions: what a caught-up consumer of 1,000 partitions costs on the
# wire, chronik-node with sessions and without, and kfake (which keeps them too).
section_sessions() {
	header "sessions: Fetch bytes/s of an idle kgo consumer of 1,000 partitions; chronik-node with and without fetch sessions, kfake"
	need_bin
	local bin=$CHRONIK_BIN
	[[ $bin == /* ]] || bin=../$bin
	run env CHRONIK_BIN="$bin" "$GO" test -run '^$' -bench '^BenchmarkIdleConsumerFetchBytes$' -benchtime 5x -count "$BENCH_COUNT" -timeout 20m ./test/
}

sections=("$@")
[[ ${#sections[@]} -eq 0 ]] && sections=("${ALL_SECTIONS[@]}")
for s in "${sections[@]}"; do
	if ! declare -F "section_$s" >/dev/null; then
		echo "bench.sh: unknown section $s (have: ${ALL_SECTIONS[*]})" >&2
		exit 2
	fi
done
started=$SECONDS
for s in "${sections[@]}"; do
	"section_$s"
done
printf '\nbench.sh: done in %ds\n' $((SECONDS - started))
