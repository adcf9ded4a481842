package wire

import (
	"testing"

	"github.com/chronik/chronik-node/wal/batch/batchtest"
)

// A partition's read counts toward MinBytes as Kafka's read of it would have come back:
// whole batches here, cut at the read limit there, the first partition's first batch
// whole in both.
func TestReadCountsAsKafkaReads(t *testing.T) {
	first := batchtest.Build(batchtest.DefaultOptions(0), batchtest.Values(3, 50)) // offsets 0-2
	opts := batchtest.DefaultOptions(0)
	opts.BaseOffset = 3
	second := batchtest.Build(opts, batchtest.Values(3, 50)) // offsets 3-5
	both := append(append([]byte{}, first...), second...)
	n := len(first)
	for _, c := range []struct {
		what           string
		got, readLimit int
		first          bool
		want           int
	}{
		{"the first partition's batch larger than the limit, whole", n, 10, true, n},
		{"a later partition's batch larger than the limit, cut", n, 10, false, 10},
		{"batches under the limit", n, 1000, false, n},
	} {
		if got := kafkaReadBytes(c.got, c.readLimit, c.first); got != c.want {
			t.Errorf("%s: counted %d bytes, want %d", c.what, got, c.want)
		}
	}
	for _, c := range []struct {
		what      string
		records   []byte
		readLimit int
		hw        int64
		want      bool
	}{
		{"nothing read", nil, 1000, 6, false},
		{"everything up to the high watermark", both, 1000, 6, false},
		{"the next batch did not fit", first, n + 10, 6, true},
		{"the limit filled by whole batches", first, n, 6, false},
	} {
		if got := holdsMoreThanRead(c.records, c.readLimit, c.hw); got != c.want {
			t.Errorf("%s: holds more than read %v, want %v", c.what, got, c.want)
		}
	}
	if end := recordsEnd(both); end != 6 {
		t.Errorf("records end after offsets 0-5: %d", end)
	}
	if end := recordsEnd(both[:len(both)-1]); end != 3 {
		t.Errorf("records end with the second batch cut short: %d, want 3", end)
	}
}
