package wire

import (
	"context"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/chronik/chronik-node/actors"
)

// DescribeLogDirs v0-4 reports the node's log directory (where the partition logs live)
// with the size of every partition replica in it, and (v4) the volume's size and free
// space. Admin UIs and `kafka-log-dirs` show topic sizes from it. Topics null asks for
// every partition; a requested partition this node does not hold is left out, as Kafka
// leaves it out.
func (h *Handlers) handleDescribeLogDirs(ctx context.Context, r *Request) (kmsg.Response, error) {
	req := r.Body.(*kmsg.DescribeLogDirsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	dir := kmsg.NewDescribeLogDirsResponseDir()
	dir.Dir = h.cfg.LogDir
	if total, usable, err := volumeBytes(h.cfg.LogDir); err == nil {
		dir.TotalBytes, dir.UsableBytes = total, usable
	} else {
		h.log.Debug().Err(err).Str("dir", h.cfg.LogDir).Msg("describe log dirs: cannot read the volume's size")
	}
	var wanted map[actors.TopicPartition]bool
	if req.Topics != nil {
		wanted = make(map[actors.TopicPartition]bool)
		for _, t := range req.Topics {
			for _, p := range t.Partitions {
				wanted[actors.TopicPartition{Topic: t.Topic, Partition: p}] = true
			}
		}
	}
	// Views come sorted by topic, so each topic's partitions are consecutive; a replica
	// whose actor has not started yet has no data, so its size reads 0.
	for _, p := range h.cluster.PartitionViews() {
		if wanted != nil && !wanted[actors.TopicPartition{Topic: p.Topic, Partition: p.Partition}] {
			continue
		}
		if n := len(dir.Topics); n == 0 || dir.Topics[n-1].Topic != p.Topic {
			t := kmsg.NewDescribeLogDirsResponseDirTopic()
			t.Topic = p.Topic
			dir.Topics = append(dir.Topics, t)
		}
		rp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
		rp.Partition, rp.Size = p.Partition, p.SizeBytes
		t := &dir.Topics[len(dir.Topics)-1]
		t.Partitions = append(t.Partitions, rp)
	}
	resp.Dirs = []kmsg.DescribeLogDirsResponseDir{dir}
	return resp, nil
}
