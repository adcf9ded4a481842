package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// slowProduceBound is where the node's request latency histogram
// (chronik_request_duration_seconds) has a bucket: Produce requests above it count as
// slow. A request that slow in the node misses the 10 ms half-peak target by itself.
const slowProduceBound = "0.01"

// requestCounter is a target that counts its own slow requests: chronik-node, from its
// /metrics. A half-peak p99 miss with no slow request in the node spent its time outside
// it: in the client, the socket, or the machine.
type requestCounter interface {
	slowProduces(ctx context.Context) (slow, total uint64, err error)
}

// slowProduces reads the node's Produce requests so far, and how many of them took more
// than slowProduceBound from being read to their response being handed to the socket.
func (t *chronikTarget) slowProduces(ctx context.Context) (slow, total uint64, err error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+t.DebugAddr+"/metrics", nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := t.http.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("read node metrics: %w", err)
	}
	defer resp.Body.Close()
	var fast uint64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, `api="Produce"`) {
			continue
		}
		switch {
		case strings.HasPrefix(line, "chronik_request_duration_seconds_bucket{") && strings.Contains(line, `le="`+slowProduceBound+`"`):
			fast += metricValue(line)
		case strings.HasPrefix(line, "chronik_request_duration_seconds_count{"):
			total += metricValue(line)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, fmt.Errorf("read node metrics: %w", err)
	}
	return total - fast, total, nil
}

// metricValue is the value of one line of the Prometheus text format.
func metricValue(line string) uint64 {
	f := strings.Fields(line)
	if len(f) < 2 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[len(f)-1], 64)
	return uint64(v)
}
