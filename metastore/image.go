package metastore

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// UUID is a Kafka topic id: 16 random bytes, printed like Kafka does (URL-safe base64
// without padding).
type UUID [16]byte

// NewUUID returns a random topic id. Kafka reserves the all-zero id ("no id") and the id
// whose last byte is 1 and the rest zero (the metadata topic), so neither is returned.
func NewUUID() UUID {
	for {
		var u UUID
		if _, err := rand.Read(u[:]); err != nil {
			panic(fmt.Sprintf("crypto/rand failed: %v", err)) // the runtime guarantees it does not
		}
		if !u.reserved() {
			return u
		}
	}
}

func (u UUID) reserved() bool {
	var z UUID
	if u == z {
		return true
	}
	z[15] = 1
	return u == z
}

// IsZero reports whether u is the all-zero "no id" value.
func (u UUID) IsZero() bool { return u == UUID{} }

func (u UUID) String() string { return base64.RawURLEncoding.EncodeToString(u[:]) }

// MarshalText encodes the id as Kafka prints it, which keeps the stored JSON readable.
func (u UUID) MarshalText() ([]byte, error) { return []byte(u.String()), nil }

// UnmarshalText parses the form MarshalText writes.
func (u *UUID) UnmarshalText(b []byte) error {
	if n := base64.RawURLEncoding.DecodedLen(len(b)); n != len(u) {
		// Checked first: Decode writes past u for longer text (it panicked).
		return fmt.Errorf("parse topic id %q: %d bytes, want 16", b, n)
	}
	n, err := base64.RawURLEncoding.Decode(u[:], b)
	if err != nil {
		return fmt.Errorf("parse topic id %q: %w", b, err)
	}
	if n != len(u) {
		return fmt.Errorf("parse topic id %q: %d bytes, want 16", b, n)
	}
	return nil
}

// Broker is a registered node as clients see it.
type Broker struct {
	ID   int32  `json:"id"`
	Host string `json:"host"`
	Port int32  `json:"port"`
	Rack string `json:"rack,omitempty"`
}

// Partition is one partition's replica assignment and leadership.
type Partition struct {
	Replicas    []int32 `json:"replicas"`
	Leader      int32   `json:"leader"` // -1 when the partition has no leader
	LeaderEpoch int32   `json:"leader_epoch"`
	ISR         []int32 `json:"isr"`
	// Epoch grows with every change to this partition (Kafka's partition epoch); ISR
	// updates carry the epoch they were computed from so stale ones are refused.
	Epoch int32 `json:"epoch"`
}

// Topic is a topic with its partitions and config overrides. Topics held by an Image are
// immutable: a change produces a new *Topic, so readers may keep one without locking.
type Topic struct {
	Name       string            `json:"name"`
	ID         UUID              `json:"id"`
	Partitions []Partition       `json:"partitions"`
	Configs    map[string]string `json:"configs,omitempty"`
}

// Clone returns a deep copy that may be modified.
func (t *Topic) Clone() *Topic {
	c := *t
	c.Partitions = make([]Partition, len(t.Partitions))
	for i, p := range t.Partitions {
		p.Replicas = slices.Clone(p.Replicas)
		p.ISR = slices.Clone(p.ISR)
		c.Partitions[i] = p
	}
	c.Configs = maps.Clone(t.Configs)
	return &c
}

// ConfState is the Raft membership the image was built under.
type ConfState struct {
	Voters   []uint64 `json:"voters"`
	Learners []uint64 `json:"learners,omitempty"`
}

// Image is the whole metadata state at one Raft index. An Image is never modified after
// it is published: the state machine builds the next one, sharing unchanged topics.
type Image struct {
	Index     uint64    `json:"index"` // Raft index of the last applied entry
	Term      uint64    `json:"term"`  // term of that entry
	ConfState ConfState `json:"conf_state"`
	ClusterID string    `json:"cluster_id"`

	Brokers  map[int32]Broker  `json:"brokers"`
	Topics   map[string]*Topic `json:"topics"`
	TopicIDs map[UUID]string   `json:"-"` // derived from Topics
	// MetricNames maps the metric form of every topic name holding '.' or '_' (each '.'
	// read as '_') to the topic: Kafka refuses a topic whose metric name another has.
	// Derived from Topics.
	MetricNames map[string]string `json:"-"`

	// BrokerConfigs holds dynamic broker config overrides by resource name: "" is the
	// cluster-wide default, a broker id (as Kafka names it, e.g. "1") one broker.
	BrokerConfigs map[string]map[string]string `json:"broker_configs,omitempty"`

	// NextProducerID is the first producer id not yet handed out.
	NextProducerID int64 `json:"next_producer_id"`
}

// NewImage returns the empty image a fresh cluster starts from.
func NewImage() *Image {
	return &Image{
		Brokers:        map[int32]Broker{},
		Topics:         map[string]*Topic{},
		TopicIDs:       map[UUID]string{},
		MetricNames:    map[string]string{},
		BrokerConfigs:  map[string]map[string]string{},
		NextProducerID: 1000,
	}
}

// Empty reports whether the image holds no state beyond a fresh cluster's.
func (img *Image) Empty() bool {
	return img.Index == 0 && len(img.Topics) == 0 && len(img.Brokers) == 0
}

// TopicByID returns the topic with id, or nil.
func (img *Image) TopicByID(id UUID) *Topic {
	name, ok := img.TopicIDs[id]
	if !ok {
		return nil
	}
	return img.Topics[name]
}

// SortedTopicNames lists topic names in order, for stable listings.
func (img *Image) SortedTopicNames() []string {
	return slices.Sorted(maps.Keys(img.Topics))
}

// PartitionCount is the total number of partitions in the image.
func (img *Image) PartitionCount() int {
	n := 0
	for _, t := range img.Topics {
		n += len(t.Partitions)
	}
	return n
}

func (img *Image) reindexTopicIDs() {
	img.TopicIDs = make(map[UUID]string, len(img.Topics))
	img.MetricNames = map[string]string{}
	for name, t := range img.Topics {
		img.TopicIDs[t.ID] = name
		if m, ok := MetricName(name); ok {
			img.MetricNames[m] = name
		}
	}
}

// CollidingTopic returns the existing topic, other than name itself, whose metric name
// name has ("" if none): Kafka refuses to create such a topic.
func (img *Image) CollidingTopic(name string) string {
	if m, ok := MetricName(name); ok && img.MetricNames[m] != name {
		return img.MetricNames[m]
	}
	return ""
}

// MetricName is name with every '.' read as '_', and whether name holds '.' or '_' at
// all (only such names can collide with another).
func MetricName(name string) (string, bool) {
	if !strings.ContainsAny(name, "._") {
		return name, false
	}
	return strings.ReplaceAll(name, ".", "_"), true
}
