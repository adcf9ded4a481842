package test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Topic configs altered while a producer is connected apply to its next batches:
// segment.bytes rolls the log, max.message.bytes refuses and then accepts again.
func TestAlteredTopicConfigsApplyToTheNextProduce(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "live", 1, nil)
	adm, ctx := n.admin(), testContext(t)
	cl := n.client(kgo.DefaultProduceTopic("live"), kgo.ProducerLinger(0), kgo.ProducerBatchCompression(kgo.NoCompression()))
	produce := func(size int) error {
		return cl.ProduceSync(ctx, &kgo.Record{Value: make([]byte, size)}).FirstErr()
	}
	alter := func(name, value string) {
		t.Helper()
		r, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: name, Value: strp(value)}}, "live")
		if err != nil || r[0].Err != nil {
			t.Fatalf("set %s=%s: %v %+v", name, value, err, r)
		}
	}
	if err := produce(1500); err != nil {
		t.Fatal(err)
	}

	// As in Kafka, the answer to AlterConfigs does not wait for the partitions to take a
	// change up: a batch or two may still go by the old value.
	alter("segment.bytes", "16384")
	for range 60 { // 90 KB: several segments of 16 KiB
		if err := produce(1500); err != nil {
			t.Fatalf("produce after segment.bytes changed: %v", err)
		}
	}
	if bases := segmentBases(t, n, "live", 0); len(bases) < 4 {
		t.Fatalf("segments after 90 KB at segment.bytes=16384: %v", bases)
	}

	stored := 61
	alter("max.message.bytes", "1000")
	eventually(t, 10*time.Second, "a 1.5 KB record to be refused after max.message.bytes=1000", func() bool {
		err := produce(1500)
		if err == nil {
			stored++
			return false
		}
		if !errors.Is(err, kerr.MessageTooLarge) {
			t.Fatalf("a 1.5 KB record after max.message.bytes=1000: %v, want MESSAGE_TOO_LARGE", err)
		}
		return true
	})
	alter("max.message.bytes", "1048588")
	eventually(t, 10*time.Second, "a 1.5 KB record to be accepted after max.message.bytes went back up", func() bool {
		err := produce(1500)
		if err != nil && !errors.Is(err, kerr.MessageTooLarge) {
			t.Fatalf("a 1.5 KB record after max.message.bytes went back up: %v", err)
		}
		return err == nil
	})
	stored++
	if got := consumeN(t, n, "live", stored); len(got) != stored {
		t.Fatalf("read back %d records, want %d", len(got), stored)
	}
}

// Partitions added while kgo and Sarama producers are running are served at once:
// produce to them works as soon as CreatePartitions returns, both producers spread onto
// them once their metadata refreshes, and a consumer reads every record.
func TestAddedPartitionsAreUsableWhileProducing(t *testing.T) {
	n := startNode(t, "")
	createTopic(t, n, "growing", 2, nil)
	ctx := testContext(t)

	kgoProd := n.client(kgo.DefaultProduceTopic("growing"), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()),
		kgo.ProducerLinger(0), kgo.MetadataMaxAge(200*time.Millisecond), kgo.MetadataMinAge(50*time.Millisecond))
	cfg := saramaConfig()
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Partitioner = sarama.NewRoundRobinPartitioner
	cfg.Metadata.RefreshFrequency = 200 * time.Millisecond
	saramaProd, err := sarama.NewSyncProducer([]string{n.kafkaAddr}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer saramaProd.Close()

	sent := 0
	partitionsUsed := map[string]map[int32]bool{"kgo": {}, "sarama": {}}
	produceOne := func() {
		t.Helper()
		r, err := kgoProd.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprint("kgo-", sent))}).First()
		if err != nil {
			t.Fatalf("kgo produce: %v", err)
		}
		partitionsUsed["kgo"][r.Partition] = true
		m := &sarama.ProducerMessage{Topic: "growing", Value: sarama.StringEncoder(fmt.Sprint("sarama-", sent))}
		if _, _, err := saramaProd.SendMessage(m); err != nil {
			t.Fatalf("sarama produce: %v", err)
		}
		partitionsUsed["sarama"][m.Partition] = true
		sent += 2
	}
	for range 10 {
		produceOne()
	}
	if r, err := n.admin().CreatePartitions(ctx, 4, "growing"); err != nil || r["growing"].Err != nil {
		t.Fatalf("create partitions: %v %+v", err, r)
	}
	// At once, by partition number.
	direct := n.client(kgo.DefaultProduceTopic("growing"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := int32(2); p < 6; p++ {
		r, err := direct.ProduceSync(ctx, &kgo.Record{Value: []byte("direct"), Partition: p}).First()
		if err != nil || r.Offset != 0 {
			t.Fatalf("produce to new partition %d right after CreatePartitions: offset %d, %v", p, r.Offset, err)
		}
	}
	sent += 4
	// The running producers move onto them.
	eventually(t, 10*time.Second, "both producers to use all six partitions", func() bool {
		produceOne()
		return len(partitionsUsed["kgo"]) == 6 && len(partitionsUsed["sarama"]) == 6
	})
	got := consumeN(t, n, "growing", sent)
	var partitions []int32
	for _, r := range got {
		if !slices.Contains(partitions, r.Partition) {
			partitions = append(partitions, r.Partition)
		}
	}
	if len(got) != sent || len(partitions) != 6 {
		t.Fatalf("read back %d records from partitions %v; sent %d over six", len(got), partitions, sent)
	}
}
