package test

import (
	"testing"
	"time"
)

// SIGTERM answers fetches parked in a long poll with what they have, as Kafka does,
// and exits cleanly. It used to wait for them: the shutdown took as long as the
// clients' MaxWaitMillis (kcat's fetch.wait.max.ms can be minutes), and past its 30 s
// grace it cut the connections under them and exited 1.
func TestShutdownAnswersParkedFetches(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "quiet", 2, nil)
	reply := longPoll(t, n, "quiet", 1, 2*time.Minute)
	if err := n.stop(); err != nil {
		t.Fatalf("SIGTERM with a fetch parked for 2 minutes: exit %v", err)
	}
	resp := <-reply // the client's own deadline is 2m30s: the node has exited by now
	if resp == nil {
		t.Fatal("the parked fetch was not answered before the node exited")
	}
	for _, p := range resp.Topics[0].Partitions {
		if p.ErrorCode != 0 || p.HighWatermark != 0 {
			t.Fatalf("partition %d answered error %d, high watermark %d; want an empty answer", p.Partition, p.ErrorCode, p.HighWatermark)
		}
	}
}
