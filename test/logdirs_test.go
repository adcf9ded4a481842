package test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Admin tools and UIs read topic sizes from DescribeLogDirs: the node's log directory
// lists every partition with its size on disk, and the volume's size and free space.
func TestDescribeLogDirsShowsPartitionSizes(t *testing.T) {
	n := startNode(t, "")
	ctx := testContext(t)
	createTopic(t, n, "sized", 3, nil)
	createTopic(t, n, "other", 1, nil)

	cl := n.client(kgo.DefaultProduceTopic("sized"), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(kgo.NoCompression()))
	defer cl.Close()
	value := make([]byte, 1000)
	for i := range 200 {
		// Partition 2 stays empty; partition 1 gets three times partition 0's records.
		r := &kgo.Record{Value: value, Partition: int32(min(i%4, 1))}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	want := map[int32]int64{}
	for p := range int32(3) {
		want[p] = partitionInfo(t, n, "sized", p).SizeBytes
	}
	if !(want[1] > want[0] && want[0] > 50*1000 && want[2] == 0) {
		t.Fatalf("/debug/partitions sizes %v do not reflect what was produced", want)
	}
	logDir, err := filepath.Abs(filepath.Join(n.dir, "data", "partitions"))
	if err != nil {
		t.Fatal(err)
	}

	all, err := n.admin().DescribeAllLogDirs(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	dirs := all.Sorted()
	if len(dirs) != 1 {
		t.Fatalf("described %d log dirs, want the node's one: %+v", len(dirs), dirs)
	}
	d := dirs[0]
	if d.Err != nil || d.Dir != logDir {
		t.Fatalf("log dir %q (err %v), want %q", d.Dir, d.Err, logDir)
	}
	if d.TotalBytes <= 0 || d.UsableBytes < 0 || d.UsableBytes > d.TotalBytes {
		t.Fatalf("volume total %d usable %d", d.TotalBytes, d.UsableBytes)
	}
	for p, size := range want {
		got, ok := d.Topics.Lookup("sized", p)
		if !ok || got.Size != size {
			t.Fatalf("sized/%d: described %+v (found %v), /debug/partitions says %d bytes", p, got, ok, size)
		}
	}
	if _, ok := d.Topics.Lookup("other", 0); !ok {
		t.Fatal("other/0 missing from a describe of every partition")
	}

	// Asking for some partitions describes only those; one the node does not host is
	// left out (kadm refuses to ask for it, so ask directly).
	some, err := n.admin().DescribeAllLogDirs(ctx, kadm.TopicsSet{"sized": {1: {}}})
	if err != nil {
		t.Fatal(err)
	}
	var described []string
	some.Each(func(d kadm.DescribedLogDir) {
		d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
			described = append(described, fmt.Sprintf("%s/%d", p.Topic, p.Partition))
		})
	})
	if len(described) != 1 || described[0] != "sized/1" {
		t.Fatalf("a describe of sized/1 answered %v", described)
	}
	req := kmsg.NewPtrDescribeLogDirsRequest()
	rt := kmsg.NewDescribeLogDirsRequestTopic()
	rt.Topic, rt.Partitions = "sized", []int32{7}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, n.rawClient())
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Dirs) != 1 || len(resp.Dirs[0].Topics) != 0 {
		t.Fatalf("a describe of sized/7 answered %+v, want the log dir with no topics", resp.Dirs)
	}

	// Sarama's ClusterAdmin, as other tools use it.
	adm, err := sarama.NewClusterAdmin([]string{n.kafkaAddr}, saramaConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	byBroker, err := adm.DescribeLogDirs([]int32{1})
	if err != nil {
		t.Fatal(err)
	}
	sdirs := byBroker[1]
	if len(sdirs) != 1 || sdirs[0].ErrorCode != sarama.ErrNoError || sdirs[0].Path != logDir {
		t.Fatalf("Sarama: log dirs %+v", sdirs)
	}
	var total int64
	for _, topic := range sdirs[0].Topics {
		for _, p := range topic.Partitions {
			if topic.Topic == "sized" {
				total += p.Size
			}
		}
	}
	if total != want[0]+want[1]+want[2] {
		t.Fatalf("Sarama: topic sized holds %d bytes, /debug/partitions says %d", total, want[0]+want[1]+want[2])
	}
}
