package wire

import (
	"context"
	"net"
	"time"

	"github.com/chronik/chronik-node/actors"
	"github.com/chronik/chronik-node/actors/groups"
	"github.com/chronik/chronik-node/metastore"
)

// GroupCoordinator is what the consumer group handlers need from the node: one group
// coordinator per group, committed offsets that are durable before they are
// acknowledged. *actors.Node implements it; Cluster embeds it.
type GroupCoordinator interface {
	JoinGroup(ctx context.Context, group string, req *groups.JoinRequest) groups.JoinResult
	SyncGroup(ctx context.Context, group string, req *groups.SyncRequest) groups.SyncResult
	Heartbeat(ctx context.Context, group string, ref groups.MemberRef) int16
	LeaveGroup(ctx context.Context, group string, refs []groups.MemberRef) ([]groups.LeaveResult, int16)
	CommitOffsets(ctx context.Context, r *actors.OffsetCommitRequest) []int16
	FetchOffsets(ctx context.Context, group string) ([]metastore.CommittedOffset, int16)
	DescribeGroup(ctx context.Context, group string) (groups.Description, int16)
	ListGroups() ([]actors.GroupListing, int16)
	DeleteGroup(ctx context.Context, group string) int16
	DeleteOffsets(ctx context.Context, group string, partitions []actors.TopicPartition) ([]int16, int16)
}

// clientHost is how Kafka shows a member's address: the peer IP after a slash.
func clientHost(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	return "/" + host
}

func millis(ms int32) time.Duration { return time.Duration(ms) * time.Millisecond }

// nonEmpty returns a pointer to s, or nil for "" (nullable response strings).
func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// topicByID resolves a v10 OffsetCommit/OffsetFetch topic id; the zero id names nothing.
func topicByID(img *metastore.Image, id [16]byte) (string, bool) {
	if t := img.TopicByID(id); t != nil {
		return t.Name, true
	}
	return "", false
}

// allGroupOperations is the authorized-operations bitfield for a group when nothing is
// denied (no ACLs): READ, DELETE, DESCRIBE.
const allGroupOperations = 1<<3 | 1<<6 | 1<<8

// untilDraining returns ctx, cancelled too when the server starts shutting down. A
// JoinGroup or SyncGroup parked in a rebalance can wait for a member's whole session
// (minutes); cut short it answers COORDINATOR_NOT_AVAILABLE, which clients retry, as
// they retry NOT_COORDINATOR from a Kafka coordinator that resigns at shutdown.
func untilDraining(ctx context.Context, r *Request) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	if draining := r.Draining(); draining != nil {
		go func() {
			select {
			case <-draining:
				cancel()
			case <-ctx.Done():
			}
		}()
	}
	return ctx, cancel
}
