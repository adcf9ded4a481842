package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// compare prints each chronik target's ratios to kfake, and for fsync=always its share
// of the disk limit.
func (b *bench) compare(prefix string, cells []cellResult) {
	var ref *cellResult
	for i := range cells {
		if cells[i].name == "kfake" {
			ref = &cells[i]
		}
	}
	for _, c := range cells {
		if c.name == "kfake" {
			continue
		}
		if ref != nil {
			b.printf(prefix+"/ratio/"+c.name+":kfake", "produce %.2fx  consume %.2fx  half-peak p99 %.2f ms vs %.2f ms",
				c.produce.recordsPerSec()/ref.produce.recordsPerSec(), c.consume.mbPerSec()/ref.consume.mbPerSec(),
				ms(c.half.latency.Quantile(0.99)), ms(ref.half.latency.Quantile(0.99)))
		}
		if strings.HasSuffix(c.name, "always") {
			var parts []string
			for _, d := range b.disk {
				parts = append(parts, fmt.Sprintf("%.0f%% of %s (%.1f MB/s)",
					100*c.produce.mbPerSec()/d.mbPerSec(), d.name(), d.mbPerSec()))
			}
			if len(parts) > 0 {
				b.printf(prefix+"/"+c.name+"/vs-disk-limit", "%.1f MB/s over %s = %s", c.produce.mbPerSec(),
					volume(c.produce.bytes, c.produce.elapsed), strings.Join(parts, ", "))
			}
		}
	}
}

// summarize prints, for each chronik target, the medians over rounds of its ratios to
// kfake (each round's ratio pairs the targets run back to back) and of every target's
// half-peak p99: one run on a shared machine spreads by ±20%.
func (b *bench) summarize(prefix string, rounds [][]cellResult) {
	for i, c := range rounds[0] {
		var produce, consume, p99, refP99 []float64
		for _, cells := range rounds {
			p99 = append(p99, ms(cells[i].half.latency.Quantile(0.99)))
			ref := slices.IndexFunc(cells, func(c cellResult) bool { return c.name == "kfake" })
			if ref < 0 {
				continue
			}
			produce = append(produce, cells[i].produce.recordsPerSec()/cells[ref].produce.recordsPerSec())
			consume = append(consume, cells[i].consume.mbPerSec()/cells[ref].consume.mbPerSec())
			refP99 = append(refP99, ms(cells[ref].half.latency.Quantile(0.99)))
		}
		name := fmt.Sprintf("%s/median-of-%d/%s", prefix, len(rounds), c.name)
		if c.name == "kfake" || len(produce) == 0 {
			b.printf(name, "half-peak p99 %.2f ms (rounds: %s)", median(p99), list(p99, "%.2f"))
			continue
		}
		b.printf(name+":kfake", "produce %.2fx  consume %.2fx  half-peak p99 %.2f ms vs %.2f ms  (rounds: produce %s, consume %s, p99 %s)",
			median(produce), median(consume), median(p99), median(refP99), list(produce, "%.2f"), list(consume, "%.2f"), list(p99, "%.2f"))
	}
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func list(v []float64, format string) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf(format, x)
	}
	return strings.Join(parts, " ")
}

func (b *bench) printProduce(name string, r produceResult) {
	b.printf(name, "%10.0f rec/s  %8.1f MB/s  p50 %7.2f ms  p99 %7.2f ms  %s  request p50 %.2f p99 %.2f ms  %s",
		r.recordsPerSec(), r.mbPerSec(), ms(r.latency.Quantile(0.5)), ms(r.latency.Quantile(0.99)),
		volume(r.bytes, r.elapsed), ms(r.request.Quantile(0.5)), ms(r.request.Quantile(0.99)), r.usage)
}

// printf prints one result line: LOAD/name, then the numbers.
func (b *bench) printf(name, format string, args ...any) {
	fmt.Fprintf(b.out, "LOAD/%-48s "+format+"  load=%s\n", append(append([]any{name}, args...), loadAverage())...)
}

func volume(bytes int64, d time.Duration) string {
	return fmt.Sprintf("%6.2f GB in %5.1fs", float64(bytes)/1e9, d.Seconds())
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func sizeLabel(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

// loadAverage is the 1-minute load average: the machine may be shared, and a result
// taken while other work ran says so.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "n/a"
	}
	return strings.Fields(string(data))[0]
}
