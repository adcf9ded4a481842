package test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestCompactedTopicKeepsNewestValuePerKey produces many updates over a few keys to a
// topic with cleanup.policy=compact and waits for the node's cleaner: a consumer from the
// earliest offset then sees each key once, with its newest value at the offset it was
// produced at, and far fewer records than were produced. The same holds after a
// restart, Sarama reads the same records across the gaps, and a consumer group whose
// committed offset was cleaned away resumes at the next retained record.
func TestCompactedTopicKeepsNewestValuePerKey(t *testing.T) {
	n := startNode(t, "log.cleaner.backoff.ms = 100\nlog.flush.interval.ms = 100\n")
	const topic = "compacted"
	createTopic(t, n, topic, 1, map[string]string{
		"cleanup.policy":            "compact",
		"segment.bytes":             "4096",
		"min.cleanable.dirty.ratio": "0.01",
	})
	ctx := testContext(t)
	cl := n.client(kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0))

	const keys, rounds = 8, 150
	type update struct {
		offset int64
		value  string
	}
	latest := map[string]update{}
	for r := 0; r < rounds; r++ {
		var recs []*kgo.Record
		for k := 0; k < keys; k++ {
			recs = append(recs, &kgo.Record{Key: fmt.Appendf(nil, "key-%d", k), Value: fmt.Appendf(nil, "round %03d of key-%d %0100d", r, k, 0)})
		}
		res := cl.ProduceSync(ctx, recs...)
		if err := res.FirstErr(); err != nil {
			t.Fatalf("produce round %d: %v", r, err)
		}
		for _, p := range res {
			latest[string(p.Record.Key)] = update{p.Record.Offset, string(p.Record.Value)}
		}
	}
	// Records with keys of their own seal the segments holding the updates (the active
	// segment is never cleaned).
	for i := 0; i < 40; i++ {
		if err := cl.ProduceSync(ctx, &kgo.Record{Key: fmt.Appendf(nil, "filler-%d", i), Value: make([]byte, 200)}).FirstErr(); err != nil {
			t.Fatalf("produce filler: %v", err)
		}
	}
	produced := int64(keys*rounds + 40)
	adm := n.admin()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	end := ends[topic][0].Offset
	if end != produced {
		t.Fatalf("log end %d, want %d", end, produced)
	}

	// A group committed at an offset the cleaner will remove (round 10's first update).
	const group = "compacted-readers"
	removed := int64(10 * keys)
	commit := kadm.Offsets{}
	commit.Add(kadm.Offset{Topic: topic, Partition: 0, At: removed, LeaderEpoch: -1})
	if resp, err := adm.CommitOffsets(ctx, group, commit); err != nil || resp.Error() != nil {
		t.Fatalf("commit: %v %v", err, resp.Error())
	}

	// check reads the partition from the start and reports what is wrong, if anything.
	check := func() ([]*kgo.Record, string) {
		recs := readPartition(t, n, topic, 0, 0, end)
		seen := map[string]int{}
		for i, r := range recs {
			if i > 0 && r.Offset <= recs[i-1].Offset {
				return recs, fmt.Sprintf("offset %d after %d", r.Offset, recs[i-1].Offset)
			}
			if u, ok := latest[string(r.Key)]; ok {
				seen[string(r.Key)]++
				if r.Offset != u.offset || string(r.Value) != u.value {
					return recs, fmt.Sprintf("%s at offset %d is not its newest record (offset %d)", r.Key, r.Offset, u.offset)
				}
			}
		}
		for k := range latest {
			if seen[k] != 1 {
				return recs, fmt.Sprintf("%s seen %d times", k, seen[k])
			}
		}
		return recs, ""
	}
	var recs []*kgo.Record
	deadline := time.Now().Add(60 * time.Second)
	for problem := "not read yet"; problem != ""; {
		if time.Now().After(deadline) {
			t.Fatalf("log not compacted within 60s: %s", problem)
		}
		recs, problem = check()
		if problem != "" {
			time.Sleep(100 * time.Millisecond) // poll again: the cleaner runs every 100 ms
		}
	}
	if len(recs) > keys+40 || !n.logsContain("log cleaned", "records_removed") {
		t.Fatalf("%d records of %d remain after compaction; cleaner logged: %v", len(recs), produced, n.logsContain("log cleaned"))
	}
	// The operator sees the cleaner's work in /metrics: every record gone was removed by
	// a clean, once. (The counters move right after the swap the reads saw.)
	gone := float64(produced - int64(len(recs)))
	eventually(t, 10*time.Second, fmt.Sprintf("the cleaner metrics to count a clean and the %v records gone", gone), func() bool {
		m := n.scrapeMetrics()
		return m.sum("chronik_log_cleans_total", `result="cleaned"`) >= 1 && m.sum("chronik_log_cleaner_records_removed_total") == gone &&
			m.sum("chronik_log_cleaner_bytes_removed_total") > 0
	})

	// A restart (kill -9) finds the cleaned log as it was.
	n.restart()
	after, problem := check()
	if problem != "" || len(after) != len(recs) {
		t.Fatalf("after restart: %s (%d records, %d before)", problem, len(after), len(recs))
	}
	// Sarama reads the same records across the gaps, batch by batch.
	pc := saramaPartition(t, n, saramaConfig(), topic, 0)
	for i, want := range after {
		select {
		case m := <-pc.Messages():
			if m.Offset != want.Offset || string(m.Key) != string(want.Key) || string(m.Value) != string(want.Value) {
				t.Fatalf("Sarama's record %d: offset %d key %s, want offset %d key %s", i, m.Offset, m.Key, want.Offset, want.Key)
			}
		case err := <-pc.Errors():
			t.Fatalf("Sarama consumer: %v", err)
		case <-time.After(30 * time.Second):
			t.Fatalf("Sarama read %d of %d records within 30s", i, len(after))
		}
	}

	// The group resumes at the first retained record past its committed offset, not at
	// the log end (its reset policy), which would skip records.
	var next int64 = -1
	for _, r := range after {
		if r.Offset >= removed {
			next = r.Offset
			break
		}
	}
	if next == removed {
		t.Fatalf("offset %d was not removed; the test needs it removed", removed)
	}
	gcl := n.client(kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()),
		kgo.FetchMaxWait(100*time.Millisecond))
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		fs := gcl.PollFetches(pctx)
		if pctx.Err() != nil {
			t.Fatal("group consumer got no records within 30s")
		}
		fs.EachError(func(topic string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		if got := fs.Records(); len(got) > 0 {
			if got[0].Offset != next {
				t.Fatalf("group resumed at offset %d, want %d (the first retained record past its committed %d)", got[0].Offset, next, removed)
			}
			return
		}
	}
}

// TestCompactionSurvivesKills kills the node (SIGKILL) at arbitrary moments after a
// producer updated a few keys, while the cleaner runs all the time (tiny segments, a 10 ms
// backoff). After each restart the log reads back with increasing offsets, and each key's
// newest acknowledged record is there, at its offset, and last: a clean interrupted
// anywhere loses nothing it would have kept and duplicates nothing.
func TestCompactionSurvivesKills(t *testing.T) {
	n := startNode(t, "log.cleaner.backoff.ms = 10\nlog.flush.interval.ms = 10\n")
	const topic = "compacted-kills"
	createTopic(t, n, topic, 1, map[string]string{
		"cleanup.policy":            "compact",
		"segment.bytes":             "2048",
		"min.cleanable.dirty.ratio": "0.01",
	})
	ctx := testContext(t)
	type update struct {
		offset int64
		value  string
	}
	latest := map[string]update{}
	round := 0
	for kill := 0; kill < 5; kill++ {
		cl, err := kgo.NewClient(kgo.SeedBrokers(n.kafkaAddr), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0))
		if err != nil {
			t.Fatal(err)
		}
		// Produce until cleans have happened since the last restart, then kill the node:
		// with a 10 ms backoff the cleaner is as likely as not in a pass, at a point that
		// varies from kill to kill.
		cleans := n.logLines("log cleaned")
		stop := time.Now().Add(30 * time.Second)
		for n.logLines("log cleaned") < cleans+3 || round%7 != kill {
			if time.Now().After(stop) {
				t.Fatalf("no clean within 30s after restart %d", kill)
			}
			var recs []*kgo.Record
			for k := 0; k < 4; k++ {
				recs = append(recs, &kgo.Record{Key: fmt.Appendf(nil, "key-%d", k), Value: fmt.Appendf(nil, "round %d of key-%d %080d", round, k, 0)})
			}
			res := cl.ProduceSync(ctx, recs...)
			if err := res.FirstErr(); err != nil {
				t.Fatalf("produce round %d: %v", round, err)
			}
			for _, p := range res {
				latest[string(p.Record.Key)] = update{p.Record.Offset, string(p.Record.Value)}
			}
			round++
		}
		cl.Close()
		n.restart()

		ends, err := n.admin().ListEndOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		recs := readPartition(t, n, topic, 0, 0, ends[topic][0].Offset)
		last := map[string]*kgo.Record{}
		for i, r := range recs {
			if i > 0 && r.Offset <= recs[i-1].Offset {
				t.Fatalf("after kill %d: offset %d after %d", kill, r.Offset, recs[i-1].Offset)
			}
			last[string(r.Key)] = r
		}
		for k, u := range latest {
			r := last[k]
			if r == nil || r.Offset != u.offset || string(r.Value) != u.value {
				t.Fatalf("after kill %d: %s's last record is %v, want its newest acknowledged at offset %d", kill, k, r, u.offset)
			}
		}
	}
}
