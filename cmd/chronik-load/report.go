package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// isKfake reports whether a target is a kfake reference rather than a chronik node.
func isKfake(name string) bool { return name == "kfake" || name == "kfake-process" }

// compare prints each chronik target's ratios to every kfake reference in the run, and
// for fsync=always its share of the disk limit.
func (b *bench) compare(prefix string, cells []cellResult) {
	for _, c := range cells {
		if isKfake(c.name) {
			continue
		}
		for _, ref := range cells {
			if !isKfake(ref.name) {
				continue
			}
			b.printf(prefix+"/ratio/"+c.name+":"+ref.name, "produce %.2fx  consume %.2fx  half-peak p99 %.2f ms vs %.2f ms",
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

// summarize prints every target's median half-peak p99 over the rounds and, for each
// chronik target and kfake reference, the medians of the per-round ratios (each round's
// ratio pairs targets run back to back): one run on a shared machine spreads by ±20%.
func (b *bench) summarize(prefix string, rounds [][]cellResult) {
	for i, c := range rounds[0] {
		var p99 []float64
		for _, cells := range rounds {
			p99 = append(p99, ms(cells[i].half.latency.Quantile(0.99)))
		}
		name := fmt.Sprintf("%s/median-of-%d/%s", prefix, len(rounds), c.name)
		b.printf(name, "half-peak p99 %.2f ms (rounds: %s)", median(p99), list(p99, "%.2f"))
		if isKfake(c.name) {
			continue
		}
		for j, ref := range rounds[0] {
			if !isKfake(ref.name) {
				continue
			}
			var produce, consume []float64
			for _, cells := range rounds {
				produce = append(produce, cells[i].produce.recordsPerSec()/cells[j].produce.recordsPerSec())
				consume = append(consume, cells[i].consume.mbPerSec()/cells[j].consume.mbPerSec())
			}
			b.printf(name+":"+ref.name, "produce %.2fx  consume %.2fx  (rounds: produce %s, consume %s)",
				median(produce), median(consume), list(produce, "%.2f"), list(consume, "%.2f"))
		}
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
	b.printf(name, "%10.0f rec/s  %8.1f MB/s  p50 %7.2f ms  p99 %7.2f ms  max %7.2f ms  %s  request p50 %.2f p99 %.2f max %.2f ms  write-wait max %.2f ms  %.0f rec/batch  %s",
		r.recordsPerSec(), r.mbPerSec(), ms(r.latency.Quantile(0.5)), ms(r.latency.Quantile(0.99)), ms(r.latency.Quantile(1)),
		volume(r.bytes, r.elapsed), ms(r.request.Quantile(0.5)), ms(r.request.Quantile(0.99)), ms(r.request.Quantile(1)),
		ms(r.writeWait.Quantile(1)), r.recordsPerBatch, r.usage)
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
