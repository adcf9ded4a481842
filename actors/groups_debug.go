package actors

import (
	"context"
	"net/http"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// GroupInfo is one consumer group as GET /debug/groups shows it.
type GroupInfo struct {
	Group        string            `json:"group"`
	State        string            `json:"state"`
	ProtocolType string            `json:"protocol_type"`
	Protocol     string            `json:"protocol"`
	Generation   int32             `json:"generation"`
	Leader       string            `json:"leader,omitempty"`
	Members      []GroupMemberInfo `json:"members"`
	Offsets      []GroupOffsetInfo `json:"offsets"`
	// TotalLag sums the lag of the partitions whose high watermark is known here.
	TotalLag int64 `json:"total_lag"`
}

// GroupMemberInfo is one member with its assignment (decoded for consumer groups).
type GroupMemberInfo struct {
	MemberID        string             `json:"member_id"`
	InstanceID      string             `json:"instance_id,omitempty"`
	ClientID        string             `json:"client_id"`
	ClientHost      string             `json:"client_host"`
	SessionTimeout  time.Duration      `json:"session_timeout_ns"`
	Assignment      map[string][]int32 `json:"assignment,omitempty"`
	AssignmentBytes int                `json:"assignment_bytes"`
}

// GroupOffsetInfo is a committed offset and how far behind the log it is.
type GroupOffsetInfo struct {
	Topic           string    `json:"topic"`
	Partition       int32     `json:"partition"`
	CommittedOffset int64     `json:"committed_offset"`
	Metadata        string    `json:"metadata,omitempty"`
	CommittedAt     time.Time `json:"committed_at"`
	HighWatermark   int64     `json:"high_watermark"` // -1 when the partition is not open here
	Lag             int64     `json:"lag"`            // -1 when the high watermark is unknown or the commit negative
}

// GroupsInfo describes every group this node coordinates, sorted by id.
func (n *Node) GroupsInfo(ctx context.Context) []GroupInfo {
	names := make([]string, 0)
	for name := range n.groupDir.list() {
		names = append(names, name)
	}
	sort.Strings(names)
	out := make([]GroupInfo, 0, len(names))
	for _, name := range names {
		d, code := n.DescribeGroup(ctx, name)
		if code != 0 {
			continue // gone meanwhile
		}
		gi := GroupInfo{
			Group: name, State: d.State.String(), ProtocolType: d.ProtocolType, Protocol: d.Protocol,
			Generation: d.Generation, Leader: d.Leader, Members: []GroupMemberInfo{}, Offsets: []GroupOffsetInfo{},
		}
		for _, m := range d.Members {
			mi := GroupMemberInfo{
				MemberID: m.MemberID, ClientID: m.ClientID, ClientHost: m.ClientHost,
				SessionTimeout: m.SessionTimeout, AssignmentBytes: len(m.Assignment),
			}
			if m.InstanceID != nil {
				mi.InstanceID = *m.InstanceID
			}
			if d.ProtocolType == "consumer" && len(m.Assignment) > 0 {
				var a kmsg.ConsumerMemberAssignment
				if err := a.ReadFrom(m.Assignment); err == nil {
					mi.Assignment = map[string][]int32{}
					for _, t := range a.Topics {
						mi.Assignment[t.Topic] = t.Partitions
					}
				}
			}
			gi.Members = append(gi.Members, mi)
		}
		offsets, _ := n.FetchOffsets(ctx, name)
		for _, o := range offsets {
			oi := GroupOffsetInfo{
				Topic: o.Topic, Partition: o.Partition, CommittedOffset: o.Offset, Metadata: o.Metadata,
				CommittedAt: time.UnixMilli(o.CommitTimestampMs).UTC(), HighWatermark: -1, Lag: -1,
			}
			if p, ok := n.PartitionInfo(TopicPartition{Topic: o.Topic, Partition: o.Partition}); ok {
				oi.HighWatermark = p.HighWatermark
				// A negative commit (a reset to "latest" or "earliest", as kafkajs writes
				// one) names no position: its lag stays unknown, as kafka-consumer-groups.sh
				// shows it.
				if o.Offset >= 0 {
					oi.Lag = max(p.HighWatermark-o.Offset, 0)
					gi.TotalLag += oi.Lag
				}
			}
			gi.Offsets = append(gi.Offsets, oi)
		}
		out = append(out, gi)
	}
	return out
}

// serveGroups is GET /debug/groups.
func (n *Node) serveGroups(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]any{"time": time.Now(), "groups": n.GroupsInfo(r.Context())})
}

// groupViews turns the coordinator's group descriptions into what the debug page,
// /metrics and `status` show (see SetGroupsView).
func groupViews(infos []GroupInfo) []GroupView {
	out := make([]GroupView, 0, len(infos))
	for _, gi := range infos {
		g := GroupView{Group: gi.Group, State: gi.State, Generation: gi.Generation, Protocol: gi.Protocol, Leader: gi.Leader,
			Members: make([]GroupMemberView, 0, len(gi.Members)), Partitions: make([]GroupPartitionView, 0, len(gi.Offsets))}
		for _, m := range gi.Members {
			g.Members = append(g.Members, GroupMemberView{MemberID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost})
		}
		for _, o := range gi.Offsets {
			lag := max(o.Lag, 0)
			g.Partitions = append(g.Partitions, GroupPartitionView{Topic: o.Topic, Partition: o.Partition,
				CommittedOffset: o.CommittedOffset, HighWatermark: o.HighWatermark, Lag: lag})
		}
		out = append(out, g)
	}
	return out
}
