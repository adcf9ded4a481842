package fsm

import (
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik/chronik-node/metastore"
)

// Batch applies a run of committed commands to an image. The published image is never
// touched: maps are copied on their first change in the batch and topics on theirs, so a
// batch that changes nothing about topics costs nothing proportional to their number.
type Batch struct {
	img     *metastore.Image
	changes *metastore.Changes

	brokersCopied, topicsCopied, configsCopied bool
	topicCopied                                map[string]bool
}

// NewBatch starts a batch on top of base.
func NewBatch(base *metastore.Image) *Batch {
	img := *base
	return &Batch{
		img:         &img,
		changes:     &metastore.Changes{Index: base.Index, Term: base.Term},
		topicCopied: map[string]bool{},
	}
}

// Image is the image as the batch has built it so far. It must not be modified.
func (b *Batch) Image() *metastore.Image { return b.img }

// Changed reports whether any command in the batch changed state (beyond the index).
func (b *Batch) Changed() bool {
	c := b.changes
	return c.ConfState != nil || c.ClusterID != nil || c.NextProducerID != nil ||
		len(c.Brokers) > 0 || len(c.Topics) > 0 || len(c.BrokerConfigs) > 0 || !c.Groups.Empty()
}

// SetApplied records the Raft position the batch has reached.
func (b *Batch) SetApplied(index, term uint64) {
	b.img.Index, b.img.Term = index, term
	b.changes.Index, b.changes.Term = index, term
}

// SetConfState records a membership change applied by Raft.
func (b *Batch) SetConfState(cs metastore.ConfState) {
	b.img.ConfState = cs
	b.changes.ConfState = &cs
}

// Done returns the new image and what changed since the base.
func (b *Batch) Done() (*metastore.Image, *metastore.Changes) { return b.img, b.changes }

// ChangedTopics lists the topics created, changed or deleted in this batch.
func (b *Batch) ChangedTopics() []string { return slices.Sorted(maps.Keys(b.changes.Topics)) }

// Apply applies one command. It never panics on bad input: a command that cannot apply
// leaves the image unchanged and returns the Kafka error a client would get.
func (b *Batch) Apply(cmd *Command) Result {
	switch {
	case cmd.InitCluster != nil:
		return b.initCluster(cmd.InitCluster)
	case cmd.RegisterBroker != nil:
		return b.registerBroker(cmd.RegisterBroker)
	case cmd.CreateTopic != nil:
		return b.createTopic(cmd.CreateTopic)
	case cmd.DeleteTopic != nil:
		return b.deleteTopic(cmd.DeleteTopic)
	case cmd.CreatePartitions != nil:
		return b.createPartitions(cmd.CreatePartitions)
	case cmd.AssignPartition != nil:
		return b.assignPartition(cmd.AssignPartition)
	case cmd.SetPartitionLeader != nil:
		return b.setPartitionLeader(cmd.SetPartitionLeader)
	case cmd.UpdateISR != nil:
		return b.updateISR(cmd.UpdateISR)
	case cmd.AlterConfigs != nil:
		return b.alterConfigs(cmd.AlterConfigs)
	case cmd.AllocateProducerIDs != nil:
		return b.allocateProducerIDs(cmd.AllocateProducerIDs)
	case cmd.CommitOffsets != nil:
		return b.commitOffsets(cmd.CommitOffsets)
	case cmd.DeleteOffsets != nil:
		return b.deleteOffsets(cmd.DeleteOffsets)
	case cmd.StoreGroup != nil:
		return b.storeGroup(cmd.StoreGroup)
	case cmd.DeleteGroup != nil:
		return b.deleteGroup(cmd.DeleteGroup)
	}
	return fail(kerr.InvalidRequest, "empty command")
}

func fail(e *kerr.Error, format string, args ...any) Result {
	return Result{Code: e.Code, Message: fmt.Sprintf(format, args...)}
}

func (b *Batch) initCluster(c *InitCluster) Result {
	if b.img.ClusterID != "" || c.ClusterID == "" {
		return Result{} // the first InitCluster wins; later ones are harmless repeats
	}
	b.img.ClusterID = c.ClusterID
	b.changes.ClusterID = &b.img.ClusterID
	return Result{}
}

func (b *Batch) registerBroker(c *RegisterBroker) Result {
	br := c.Broker
	if br.ID < 0 || br.Host == "" || br.Port <= 0 || br.Port > 65535 {
		return fail(kerr.InvalidRequest, "invalid broker registration %+v", br)
	}
	if cur, ok := b.img.Brokers[br.ID]; ok && cur == br {
		return Result{}
	}
	if !b.brokersCopied {
		b.img.Brokers = maps.Clone(b.img.Brokers)
		b.brokersCopied = true
	}
	b.img.Brokers[br.ID] = br
	if b.changes.Brokers == nil {
		b.changes.Brokers = map[int32]*metastore.Broker{}
	}
	b.changes.Brokers[br.ID] = &br
	return Result{}
}

// copyTopics makes the topic maps of this batch's image private before a change.
func (b *Batch) copyTopics() {
	if b.topicsCopied {
		return
	}
	b.img.Topics = maps.Clone(b.img.Topics)
	b.img.TopicIDs = maps.Clone(b.img.TopicIDs)
	b.img.MetricNames = maps.Clone(b.img.MetricNames)
	b.topicsCopied = true
	if b.changes.Topics == nil {
		b.changes.Topics = map[string]*metastore.Topic{}
	}
}

// mutableTopic returns a private copy of the named topic, or nil if it does not exist.
func (b *Batch) mutableTopic(name string) *metastore.Topic {
	t := b.img.Topics[name]
	if t == nil {
		return nil
	}
	b.copyTopics()
	if !b.topicCopied[name] {
		t = t.Clone()
		b.img.Topics[name] = t
		b.topicCopied[name] = true
	}
	b.changes.Topics[name] = t
	return t
}

func (b *Batch) createTopic(c *CreateTopic) Result {
	if err := ValidateTopicName(c.Name); err != nil {
		return fail(kerr.InvalidTopicException, "%v", err)
	}
	if _, ok := b.img.Topics[c.Name]; ok {
		return fail(kerr.TopicAlreadyExists, "topic %q already exists", c.Name)
	}
	if other := b.img.CollidingTopic(c.Name); other != "" {
		return fail(kerr.InvalidTopicException, "%s", CollisionMessage(c.Name, other))
	}
	if c.ID.IsZero() {
		return fail(kerr.InvalidRequest, "topic %q has no id", c.Name)
	}
	if _, ok := b.img.TopicIDs[c.ID]; ok {
		return fail(kerr.InvalidRequest, "topic id %s already in use", c.ID)
	}
	if len(c.Replicas) == 0 {
		return fail(kerr.InvalidPartitions, "topic %q needs at least one partition", c.Name)
	}
	t := &metastore.Topic{Name: c.Name, ID: c.ID, Configs: maps.Clone(c.Configs)}
	for i, replicas := range c.Replicas {
		if err := validReplicas(replicas); err != nil {
			return fail(kerr.InvalidReplicaAssignment, "partition %d: %v", i, err)
		}
		t.Partitions = append(t.Partitions, newPartition(replicas))
	}
	b.copyTopics()
	b.img.Topics[c.Name] = t
	b.img.TopicIDs[c.ID] = c.Name
	if m, ok := metastore.MetricName(c.Name); ok {
		if b.img.MetricNames == nil {
			b.img.MetricNames = map[string]string{}
		}
		b.img.MetricNames[m] = c.Name
	}
	b.topicCopied[c.Name] = true
	b.changes.Topics[c.Name] = t
	return Result{}
}

func newPartition(replicas []int32) metastore.Partition {
	return metastore.Partition{
		Replicas: slices.Clone(replicas),
		Leader:   replicas[0],
		ISR:      slices.Clone(replicas),
	}
}

// CollisionMessage is the error a topic is refused with when its name differs from an
// existing one's only by '.' vs '_', which Kafka refuses because both map to the same
// metric name.
func CollisionMessage(name, other string) string {
	return fmt.Sprintf("topic %q collides with existing topic %q ('.' and '_' are interchangeable in metric names)", name, other)
}

func validReplicas(replicas []int32) error {
	if len(replicas) == 0 {
		return fmt.Errorf("no replicas")
	}
	seen := map[int32]bool{}
	for _, r := range replicas {
		if r < 0 {
			return fmt.Errorf("invalid broker id %d", r)
		}
		if seen[r] {
			return fmt.Errorf("broker %d listed twice", r)
		}
		seen[r] = true
	}
	return nil
}

func (b *Batch) deleteTopic(c *DeleteTopic) Result {
	name := c.Name
	if name == "" {
		n, ok := b.img.TopicIDs[c.ID]
		if !ok {
			return fail(kerr.UnknownTopicID, "no topic with id %s", c.ID)
		}
		name = n
	}
	t, ok := b.img.Topics[name]
	if !ok {
		return fail(kerr.UnknownTopicOrPartition, "topic %q does not exist", name)
	}
	b.copyTopics()
	delete(b.img.Topics, name)
	delete(b.img.TopicIDs, t.ID)
	if m, ok := metastore.MetricName(name); ok {
		delete(b.img.MetricNames, m)
	}
	delete(b.topicCopied, name)
	b.changes.Topics[name] = nil
	b.purgeTopicOffsets(name)
	return Result{}
}

func (b *Batch) createPartitions(c *CreatePartitions) Result {
	cur, ok := b.img.Topics[c.Topic]
	if !ok {
		return fail(kerr.UnknownTopicOrPartition, "topic %q does not exist", c.Topic)
	}
	if len(c.Replicas) == 0 {
		return fail(kerr.InvalidPartitions, "topic %q already has %d partitions", c.Topic, len(cur.Partitions))
	}
	for i, replicas := range c.Replicas {
		if err := validReplicas(replicas); err != nil {
			return fail(kerr.InvalidReplicaAssignment, "new partition %d: %v", len(cur.Partitions)+i, err)
		}
	}
	t := b.mutableTopic(c.Topic)
	for _, replicas := range c.Replicas {
		t.Partitions = append(t.Partitions, newPartition(replicas))
	}
	return Result{}
}

// partition returns the named partition of a private copy of its topic.
func (b *Batch) partition(topic string, partition int32) (*metastore.Partition, Result) {
	cur, ok := b.img.Topics[topic]
	if !ok || partition < 0 || int(partition) >= len(cur.Partitions) {
		return nil, fail(kerr.UnknownTopicOrPartition, "partition %s/%d does not exist", topic, partition)
	}
	return &b.mutableTopic(topic).Partitions[partition], Result{}
}

func (b *Batch) assignPartition(c *AssignPartition) Result {
	if err := validReplicas(c.Replicas); err != nil {
		return fail(kerr.InvalidReplicaAssignment, "%s/%d: %v", c.Topic, c.Partition, err)
	}
	p, res := b.partition(c.Topic, c.Partition)
	if p == nil {
		return res
	}
	p.Replicas = slices.Clone(c.Replicas)
	// Replicas that left the assignment leave the ISR too; the leader keeps its role
	// only while it is still a replica.
	p.ISR = slices.DeleteFunc(p.ISR, func(r int32) bool { return !slices.Contains(p.Replicas, r) })
	if !slices.Contains(p.Replicas, p.Leader) {
		p.Leader = -1
		p.LeaderEpoch++
	}
	p.Epoch++
	return Result{}
}

func (b *Batch) setPartitionLeader(c *SetPartitionLeader) Result {
	cur, ok := b.img.Topics[c.Topic]
	if !ok || c.Partition < 0 || int(c.Partition) >= len(cur.Partitions) {
		return fail(kerr.UnknownTopicOrPartition, "partition %s/%d does not exist", c.Topic, c.Partition)
	}
	old := cur.Partitions[c.Partition]
	if c.LeaderEpoch <= old.LeaderEpoch {
		return fail(kerr.FencedLeaderEpoch, "%s/%d: leader epoch %d is not above current %d", c.Topic, c.Partition, c.LeaderEpoch, old.LeaderEpoch)
	}
	if c.Leader != -1 && !slices.Contains(old.Replicas, c.Leader) {
		return fail(kerr.InvalidReplicaAssignment, "%s/%d: broker %d is not a replica", c.Topic, c.Partition, c.Leader)
	}
	if c.ISR != nil {
		if err := validISR(c.ISR, old.Replicas, c.Leader); err != nil {
			return fail(kerr.InvalidRequest, "%s/%d: %v", c.Topic, c.Partition, err)
		}
	}
	p, _ := b.partition(c.Topic, c.Partition)
	p.Leader = c.Leader
	p.LeaderEpoch = c.LeaderEpoch
	if c.ISR != nil {
		p.ISR = slices.Clone(c.ISR)
	}
	p.Epoch++
	return Result{}
}

func (b *Batch) updateISR(c *UpdateISR) Result {
	cur, ok := b.img.Topics[c.Topic]
	if !ok || c.Partition < 0 || int(c.Partition) >= len(cur.Partitions) {
		return fail(kerr.UnknownTopicOrPartition, "partition %s/%d does not exist", c.Topic, c.Partition)
	}
	old := cur.Partitions[c.Partition]
	if c.LeaderEpoch != old.LeaderEpoch {
		return fail(kerr.FencedLeaderEpoch, "%s/%d: ISR update for leader epoch %d, current is %d", c.Topic, c.Partition, c.LeaderEpoch, old.LeaderEpoch)
	}
	if c.PartitionEpoch != old.Epoch {
		return fail(kerr.InvalidUpdateVersion, "%s/%d: ISR update for partition epoch %d, current is %d", c.Topic, c.Partition, c.PartitionEpoch, old.Epoch)
	}
	if err := validISR(c.ISR, old.Replicas, old.Leader); err != nil {
		return fail(kerr.InvalidRequest, "%s/%d: %v", c.Topic, c.Partition, err)
	}
	p, _ := b.partition(c.Topic, c.Partition)
	p.ISR = slices.Clone(c.ISR)
	p.Epoch++
	return Result{}
}

func validISR(isr, replicas []int32, leader int32) error {
	if err := validReplicas(isr); err != nil {
		return fmt.Errorf("isr: %w", err)
	}
	for _, r := range isr {
		if !slices.Contains(replicas, r) {
			return fmt.Errorf("isr member %d is not a replica", r)
		}
	}
	if leader != -1 && !slices.Contains(isr, leader) {
		return fmt.Errorf("isr %v does not contain leader %d", isr, leader)
	}
	return nil
}

func (b *Batch) alterConfigs(c *AlterConfigs) Result {
	switch c.ResourceType {
	case ResourceTopic:
		if _, ok := b.img.Topics[c.ResourceName]; !ok {
			return fail(kerr.UnknownTopicOrPartition, "topic %q does not exist", c.ResourceName)
		}
		t := b.mutableTopic(c.ResourceName)
		t.Configs = alteredConfigs(t.Configs, c)
	case ResourceBroker:
		if !b.configsCopied {
			cp := make(map[string]map[string]string, len(b.img.BrokerConfigs))
			for k, v := range b.img.BrokerConfigs {
				cp[k] = maps.Clone(v)
			}
			b.img.BrokerConfigs = cp
			b.configsCopied = true
			if b.changes.BrokerConfigs == nil {
				b.changes.BrokerConfigs = map[string]map[string]string{}
			}
		}
		m := alteredConfigs(b.img.BrokerConfigs[c.ResourceName], c)
		if len(m) == 0 {
			delete(b.img.BrokerConfigs, c.ResourceName)
			b.changes.BrokerConfigs[c.ResourceName] = nil
		} else {
			b.img.BrokerConfigs[c.ResourceName] = m
			b.changes.BrokerConfigs[c.ResourceName] = m
		}
	default:
		return fail(kerr.InvalidRequest, "unsupported config resource type %d", c.ResourceType)
	}
	return Result{}
}

func alteredConfigs(cur map[string]string, c *AlterConfigs) map[string]string {
	var out map[string]string
	if c.Replace {
		out = map[string]string{}
	} else {
		out = maps.Clone(cur)
		if out == nil {
			out = map[string]string{}
		}
	}
	maps.Copy(out, c.Set)
	for _, k := range c.Delete {
		delete(out, k)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func (b *Batch) allocateProducerIDs(c *AllocateProducerIDs) Result {
	if c.Count <= 0 || c.Count > 1<<20 {
		return fail(kerr.InvalidRequest, "invalid producer id block size %d", c.Count)
	}
	first := b.img.NextProducerID
	b.img.NextProducerID += c.Count
	b.changes.NextProducerID = &b.img.NextProducerID
	return Result{ProducerID: first}
}

// ValidateTopicName applies Kafka's topic name rules.
func ValidateTopicName(name string) error {
	if name == "" {
		return fmt.Errorf("topic name is empty")
	}
	if name == "." || name == ".." {
		return fmt.Errorf("topic name %q is not allowed", name)
	}
	if len(name) > 249 {
		return fmt.Errorf("topic name is %d characters, the limit is 249", len(name))
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Errorf("topic name %q contains %q; only ASCII letters, digits, '.', '_' and '-' are allowed", name, r)
		}
	}
	return nil
}
