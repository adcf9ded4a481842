// Package fsm is the metadata state machine: the commands that travel through Raft and
// the pure function that applies them to a metastore.Image. It does no I/O and reads no
// clock, so every node that applies the same log reaches the same image.
package fsm

import (
	"encoding/json"
	"fmt"

	"github.com/chronik/chronik-node/metastore"
)

// Entry is the payload of one Raft log entry: a batch of commands from one proposer.
// (Node, Seq) identify the proposal so the proposing node can answer its waiters.
type Entry struct {
	Node uint64    `json:"n"`
	Seq  uint64    `json:"s"`
	Cmds []Command `json:"c"`
}

// Encode serialises the entry for the Raft log.
func (e *Entry) Encode() ([]byte, error) {
	data, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode raft entry %d/%d: %w", e.Node, e.Seq, err)
	}
	return data, nil
}

// DecodeEntry is the inverse of Encode.
func DecodeEntry(data []byte) (*Entry, error) {
	var e Entry
	if err := json.Unmarshal(data, &e); err != nil {
		return nil, fmt.Errorf("decode raft entry: %w", err)
	}
	return &e, nil
}

// Command is one metadata change. Exactly one field is set.
type Command struct {
	InitCluster         *InitCluster         `json:"init_cluster,omitempty"`
	RegisterBroker      *RegisterBroker      `json:"register_broker,omitempty"`
	CreateTopic         *CreateTopic         `json:"create_topic,omitempty"`
	DeleteTopic         *DeleteTopic         `json:"delete_topic,omitempty"`
	CreatePartitions    *CreatePartitions    `json:"create_partitions,omitempty"`
	AssignPartition     *AssignPartition     `json:"assign_partition,omitempty"`
	SetPartitionLeader  *SetPartitionLeader  `json:"set_partition_leader,omitempty"`
	UpdateISR           *UpdateISR           `json:"update_isr,omitempty"`
	AlterConfigs        *AlterConfigs        `json:"alter_configs,omitempty"`
	AllocateProducerIDs *AllocateProducerIDs `json:"allocate_producer_ids,omitempty"`

	// Consumer groups (groups.go).
	CommitOffsets *CommitOffsets `json:"commit_offsets,omitempty"`
	DeleteOffsets *DeleteOffsets `json:"delete_offsets,omitempty"`
	StoreGroup    *StoreGroup    `json:"store_group,omitempty"`
	DeleteGroup   *DeleteGroup   `json:"delete_group,omitempty"`
}

// Name is the command's kind, for logs and metrics.
func (c *Command) Name() string {
	switch {
	case c.InitCluster != nil:
		return "InitCluster"
	case c.RegisterBroker != nil:
		return "RegisterBroker"
	case c.CreateTopic != nil:
		return "CreateTopic"
	case c.DeleteTopic != nil:
		return "DeleteTopic"
	case c.CreatePartitions != nil:
		return "CreatePartitions"
	case c.AssignPartition != nil:
		return "AssignPartition"
	case c.SetPartitionLeader != nil:
		return "SetPartitionLeader"
	case c.UpdateISR != nil:
		return "UpdateISR"
	case c.AlterConfigs != nil:
		return "AlterConfigs"
	case c.AllocateProducerIDs != nil:
		return "AllocateProducerIDs"
	case c.CommitOffsets != nil:
		return "CommitOffsets"
	case c.DeleteOffsets != nil:
		return "DeleteOffsets"
	case c.StoreGroup != nil:
		return "StoreGroup"
	case c.DeleteGroup != nil:
		return "DeleteGroup"
	}
	return "Empty"
}

// InitCluster names the cluster; it is the first command a new cluster commits and is
// ignored once a cluster id exists.
type InitCluster struct {
	ClusterID string `json:"cluster_id"`
}

// RegisterBroker adds or updates a broker's advertised address.
type RegisterBroker struct {
	Broker metastore.Broker `json:"broker"`
}

// CreateTopic creates a topic with a proposer-chosen id and replica assignment; each
// partition's first replica becomes its leader at epoch 0 with a full ISR.
type CreateTopic struct {
	Name     string            `json:"name"`
	ID       metastore.UUID    `json:"id"`
	Replicas [][]int32         `json:"replicas"` // per partition
	Configs  map[string]string `json:"configs,omitempty"`
}

// DeleteTopic deletes a topic by name, or by id when Name is empty.
type DeleteTopic struct {
	Name string         `json:"name,omitempty"`
	ID   metastore.UUID `json:"id,omitzero"`
}

// CreatePartitions grows a topic to len(existing)+len(Replicas) partitions.
type CreatePartitions struct {
	Topic    string    `json:"topic"`
	Replicas [][]int32 `json:"replicas"` // for the new partitions only
}

// AssignPartition replaces a partition's replica set (a reassignment).
type AssignPartition struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	Replicas  []int32 `json:"replicas"`
}

// SetPartitionLeader installs a new leader (or -1) with a leader epoch greater than the
// current one, so a delayed or duplicated election cannot move leadership backwards.
type SetPartitionLeader struct {
	Topic       string `json:"topic"`
	Partition   int32  `json:"partition"`
	Leader      int32  `json:"leader"`
	LeaderEpoch int32  `json:"leader_epoch"`
	// ISR, when set, replaces the ISR together with the leader change.
	ISR []int32 `json:"isr,omitempty"`
}

// UpdateISR is a leader's request to change the in-sync replica set, valid only for the
// leader epoch and partition epoch it was computed under.
type UpdateISR struct {
	Topic          string  `json:"topic"`
	Partition      int32   `json:"partition"`
	LeaderEpoch    int32   `json:"leader_epoch"`
	PartitionEpoch int32   `json:"partition_epoch"`
	ISR            []int32 `json:"isr"`
}

// Config resource types, as Kafka numbers them.
const (
	ResourceTopic  int8 = 2
	ResourceBroker int8 = 4
)

// AlterConfigs changes config overrides of one resource. With Replace set, the resource's
// overrides become exactly Set (Kafka's AlterConfigs); otherwise Set and Delete are
// applied to the existing overrides (IncrementalAlterConfigs).
type AlterConfigs struct {
	ResourceType int8              `json:"resource_type"`
	ResourceName string            `json:"resource_name"`
	Replace      bool              `json:"replace,omitempty"`
	Set          map[string]string `json:"set,omitempty"`
	Delete       []string          `json:"delete,omitempty"`
}

// AllocateProducerIDs hands out Count consecutive producer ids; the result's ProducerID
// is the first.
type AllocateProducerIDs struct {
	Count int64 `json:"count"`
}

// Result is the outcome of one command: a Kafka error code (0 for success) and message.
type Result struct {
	Code       int16  `json:"code"`
	Message    string `json:"message,omitempty"`
	ProducerID int64  `json:"producer_id,omitempty"`
}

// OK reports success.
func (r Result) OK() bool { return r.Code == 0 }
