package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// nodeCollector turns the node's snapshots into metrics at scrape time: partition
// offsets, replication health, Raft, actor mailboxes by kind and consumer lag.
type nodeCollector struct {
	src Source

	partLogEnd, partHW, partLogStart, partSize, partLeader *prometheus.Desc
	underReplicated, offline                               *prometheus.Desc

	raftTerm, raftLeader, raftIsLeader, raftCommit, raftApplied, raftSnapshot *prometheus.Desc
	raftLogEntries, raftLogBytes, raftLeaderChanges, raftApplyEntries         *prometheus.Desc
	raftPending, raftCommitLatency, metaDiskFull                              *prometheus.Desc

	actors, mailboxDepth, processed, restarts *prometheus.Desc

	groups, groupMembers, groupLag *prometheus.Desc

	compressedBatches, recompressed *prometheus.Desc

	cleans, cleanerRecords, cleanerBytes *prometheus.Desc
}

func newNodeCollector(src Source) *nodeCollector {
	tp := []string{"topic", "partition"}
	d := prometheus.NewDesc
	return &nodeCollector{
		src:          src,
		partLogEnd:   d("chronik_partition_log_end_offset", "Offset the next record appended to a local partition replica gets.", tp, nil),
		partHW:       d("chronik_partition_high_watermark", "High watermark of a local partition replica: consumers read below it.", tp, nil),
		partLogStart: d("chronik_partition_log_start_offset", "First offset still in a local partition replica's log.", tp, nil),
		partSize:     d("chronik_partition_size_bytes", "Bytes of a local partition replica's log segments on disk.", tp, nil),
		partLeader:   d("chronik_partition_leader", "1 if this node leads the partition, else 0.", tp, nil),
		underReplicated: d("chronik_partitions_under_replicated",
			"Partitions this node leads whose in-sync replicas are fewer than their replicas.", nil, nil),
		offline: d("chronik_partitions_offline",
			"Partitions in the cluster metadata without a leader (the same cluster-wide count on every node).", nil, nil),

		raftTerm:          d("chronik_raft_term", "Current Raft term of the metadata group.", nil, nil),
		raftLeader:        d("chronik_raft_leader", "Node id of the metadata Raft leader, 0 when there is none.", nil, nil),
		raftIsLeader:      d("chronik_raft_is_leader", "1 if this node is the metadata Raft leader (the controller), else 0.", nil, nil),
		raftCommit:        d("chronik_raft_commit_index", "Highest Raft log index known committed.", nil, nil),
		raftApplied:       d("chronik_raft_applied_index", "Raft log index of the metadata applied on this node.", nil, nil),
		raftSnapshot:      d("chronik_raft_snapshot_index", "Raft log index of the latest snapshot; the log is compacted behind it.", nil, nil),
		raftLogEntries:    d("chronik_raft_log_entries", "Raft log entries kept after the snapshot.", nil, nil),
		raftLogBytes:      d("chronik_raft_log_size_bytes", "Bytes of the Raft log entries kept after the snapshot.", nil, nil),
		raftLeaderChanges: d("chronik_raft_leader_changes_total", "Raft leaders this node has seen elected (a new leader, or the same one in a new term).", nil, nil),
		raftApplyEntries:  d("chronik_raft_entries_applied_total", "Raft entries applied to the metadata store since start.", nil, nil),
		raftPending:       d("chronik_raft_proposals_pending", "Metadata changes proposed on this node and not yet answered.", nil, nil),
		metaDiskFull:      d("chronik_metadata_disk_full", "1 while the Raft log or the metadata store has no disk space for a write (metadata changes are refused), else 0.", nil, nil),
		raftCommitLatency: d("chronik_raft_commit_latency_seconds", "Time from proposing a metadata change to its applied result, for changes that were applied.", nil, nil),

		actors:       d("chronik_actors", "Live actors, by kind.", []string{"kind"}, nil),
		mailboxDepth: d("chronik_actor_mailbox_depth", "Messages waiting in the mailboxes of the live actors of a kind.", []string{"kind"}, nil),
		processed:    d("chronik_actor_messages_processed_total", "Messages the actors of a kind have processed (stopped actors included).", []string{"kind"}, nil),
		restarts:     d("chronik_actor_restarts_total", "Restarts after a panic of the actors of a kind (stopped actors included).", []string{"kind"}, nil),

		groups:       d("chronik_consumer_groups", "Consumer groups, by state.", []string{"state"}, nil),
		groupMembers: d("chronik_consumer_group_members", "Members of a consumer group.", []string{"group"}, nil),
		groupLag: d("chronik_consumer_group_lag",
			"High watermark minus the group's committed offset, for partitions hosted on this node.", []string{"group", "topic", "partition"}, nil),

		compressedBatches: d("chronik_produce_compressed_batches_total",
			"Compressed batches produced, by what the broker did with them: checked (decompressed, records checked), unchecked (stored unchecked: they decompress past 32 MiB), refused (INVALID_RECORD).",
			[]string{"result"}, nil),
		recompressed: d("chronik_produce_recompressed_batches_total",
			"Batches rewritten in the codec their topic's compression.type names.", nil, nil),

		cleans: d("chronik_log_cleans_total",
			"Cleans of compacted partitions' logs, by result: cleaned (swapped in), abandoned (the log changed meanwhile, or the clean failed).",
			[]string{"result"}, nil),
		cleanerRecords: d("chronik_log_cleaner_records_removed_total", "Records the log cleaner removed (superseded by a newer record of their key, expired tombstones, keyless).", nil, nil),
		cleanerBytes:   d("chronik_log_cleaner_bytes_removed_total", "Segment bytes the log cleaner freed.", nil, nil),
	}
}

func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.partLogEnd, c.partHW, c.partLogStart, c.partSize, c.partLeader, c.underReplicated, c.offline,
		c.raftTerm, c.raftLeader, c.raftIsLeader, c.raftCommit, c.raftApplied, c.raftSnapshot,
		c.raftLogEntries, c.raftLogBytes, c.raftLeaderChanges, c.raftApplyEntries, c.raftPending, c.raftCommitLatency, c.metaDiskFull,
		c.actors, c.mailboxDepth, c.processed, c.restarts,
		c.groups, c.groupMembers, c.groupLag,
		c.compressedBatches, c.recompressed,
		c.cleans, c.cleanerRecords, c.cleanerBytes,
	} {
		ch <- d
	}
}

func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}

	for _, p := range c.src.Partitions() {
		part := strconv.Itoa(int(p.Partition))
		gauge(c.partLogEnd, float64(p.LogEndOffset), p.Topic, part)
		gauge(c.partHW, float64(p.HighWatermark), p.Topic, part)
		gauge(c.partLogStart, float64(p.LogStartOffset), p.Topic, part)
		gauge(c.partSize, float64(p.SizeBytes), p.Topic, part)
		gauge(c.partLeader, boolValue(p.Leader), p.Topic, part)
	}
	under, offline := c.src.ReplicationHealth()
	gauge(c.underReplicated, float64(under))
	gauge(c.offline, float64(offline))

	rs := c.src.RaftStatus()
	gauge(c.raftTerm, float64(rs.Term))
	gauge(c.raftLeader, float64(rs.Leader))
	gauge(c.raftIsLeader, boolValue(rs.Leader != 0 && rs.Leader == rs.NodeID))
	gauge(c.raftCommit, float64(rs.CommitIndex))
	gauge(c.raftApplied, float64(rs.AppliedIndex))
	gauge(c.raftSnapshot, float64(rs.SnapshotIndex))
	gauge(c.raftLogEntries, float64(rs.LogEntries))
	gauge(c.raftLogBytes, float64(rs.LogBytes))
	counter(c.raftLeaderChanges, float64(rs.LeaderChanges))
	counter(c.raftApplyEntries, float64(rs.CommandsApplied))
	gauge(c.raftPending, float64(rs.ProposalsPending))
	gauge(c.metaDiskFull, boolValue(rs.MetadataDiskFull))
	lat := c.src.CommitLatency()
	ch <- prometheus.MustNewConstHistogram(c.raftCommitLatency, lat.Count, lat.Sum, lat.Buckets)

	cs := c.src.CompressionStats()
	counter(c.compressedBatches, float64(cs.Checked), "checked")
	counter(c.compressedBatches, float64(cs.Unchecked), "unchecked")
	counter(c.compressedBatches, float64(cs.Refused), "refused")
	counter(c.recompressed, float64(cs.Recompressed))

	cl := c.src.CleanerStats()
	counter(c.cleans, float64(cl.Cleans), "cleaned")
	counter(c.cleans, float64(cl.Abandoned), "abandoned")
	counter(c.cleanerRecords, float64(cl.RecordsRemoved))
	counter(c.cleanerBytes, float64(cl.BytesRemoved))

	for _, k := range c.src.ActorKinds() {
		gauge(c.actors, float64(k.Actors), k.Kind)
		gauge(c.mailboxDepth, float64(k.MailboxDepth), k.Kind)
		counter(c.processed, float64(k.Processed), k.Kind)
		counter(c.restarts, float64(k.Restarts), k.Kind)
	}

	byState := map[string]int{}
	for _, g := range c.src.GroupsView() {
		byState[g.State]++
		gauge(c.groupMembers, float64(len(g.Members)), g.Group)
		for _, p := range g.Partitions {
			if p.HighWatermark >= 0 { // hosted here: the lag is known
				gauge(c.groupLag, float64(p.Lag), g.Group, p.Topic, strconv.Itoa(int(p.Partition)))
			}
		}
	}
	for state, count := range byState {
		gauge(c.groups, float64(count), state)
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
