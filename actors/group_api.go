package actors

import (
	"context"
	"sort"
	"time"
	"unicode/utf16"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/chronik/chronik-node/actors/groups"
	"github.com/chronik/chronik-node/metastore"
	"github.com/chronik/chronik-node/raftnode/fsm"
)

// The consumer group coordinator as request handlers see it. Every group is coordinated
// by the metadata Raft leader, so a multi-node cluster needs no second replication path
// for offsets: they are Raft commands like any other metadata. A node that does not lead
// answers NOT_COORDINATOR and clients look the coordinator up again.

// groupMessage is a request for a group actor; fail answers it when the actor cannot.
type groupMessage interface{ fail(code int16) }

type (
	joinGroupMsg struct {
		req   *groups.JoinRequest
		reply chan groups.JoinResult
	}
	syncGroupMsg struct {
		req   *groups.SyncRequest
		reply chan groups.SyncResult
	}
	heartbeatMsg struct {
		ref   groups.MemberRef
		reply chan int16
	}
	leaveGroupMsg struct {
		refs  []groups.MemberRef
		reply chan leaveReply
	}
	leaveReply struct {
		results []groups.LeaveResult
		code    int16
	}
	commitOffsetsMsg struct {
		ref     groups.MemberRef
		offsets []fsm.OffsetCommit
		reply   chan commitStarted
	}
	// commitStarted is a group's verdict on a commit: an error, or where the outcome of
	// the proposal arrives.
	commitStarted struct {
		code    int16
		applied <-chan proposeResult // nil when there was nothing to propose
	}
	describeGroupMsg struct{ reply chan describeReply }
	describeReply    struct {
		desc groups.Description
		code int16
	}
	deleteGroupMsg   struct{ reply chan int16 }
	deleteOffsetsMsg struct {
		partitions []TopicPartition
		reply      chan deleteOffsetsStarted
	}
	deleteOffsetsStarted struct {
		code    int16
		codes   []int16
		applied <-chan proposeResult // nil when nothing is deleted
	}
)

func trySend[T any](ch chan T, v T) {
	select {
	case ch <- v:
	default:
	}
}

func (m *joinGroupMsg) fail(code int16) {
	trySend(m.reply, groups.JoinResult{Code: code, Generation: -1, MemberID: m.req.MemberID})
}
func (m *syncGroupMsg) fail(code int16)     { trySend(m.reply, groups.SyncResult{Code: code}) }
func (m *heartbeatMsg) fail(code int16)     { trySend(m.reply, code) }
func (m *leaveGroupMsg) fail(code int16)    { trySend(m.reply, leaveReply{code: code}) }
func (m *commitOffsetsMsg) fail(code int16) { trySend(m.reply, commitStarted{code: code}) }
func (m *describeGroupMsg) fail(code int16) { trySend(m.reply, describeReply{code: code}) }
func (m *deleteGroupMsg) fail(code int16)   { trySend(m.reply, code) }
func (m *deleteOffsetsMsg) fail(code int16) { trySend(m.reply, deleteOffsetsStarted{code: code}) }

// Timeouts: a parked JoinGroup or SyncGroup is answered by the group within its
// rebalance timeout; parkedTimeout only guards against an answer lost with a crashed
// actor. Other group requests are answered at once.
const (
	parkedTimeout = 10 * time.Minute
	groupTimeout  = 30 * time.Second
)

// ask sends msg to the group's actor and waits for its reply; a group actor that cannot
// be reached in time counts as COORDINATOR_NOT_AVAILABLE (the client retries).
func ask[T any](ctx context.Context, n *Node, group string, create bool, msg groupMessage, reply chan T, timeout time.Duration) (T, int16) {
	var zero T
	if code := n.sendToGroup(group, create, msg); code != 0 {
		return zero, code // -1: no such group
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case r := <-reply:
		return r, 0
	case <-timer.C:
		return zero, kerr.CoordinatorNotAvailable.Code
	case <-ctx.Done():
		return zero, kerr.CoordinatorNotAvailable.Code
	}
}

// coordinatorCode is 0 when this node coordinates groups (it leads the metadata Raft
// group), NOT_COORDINATOR when another node does and COORDINATOR_NOT_AVAILABLE when
// there is no leader.
func (n *Node) coordinatorCode() int16 {
	switch n.Controller() {
	case int32(n.opts.NodeID):
		return 0
	case -1:
		return kerr.CoordinatorNotAvailable.Code
	}
	return kerr.NotCoordinator.Code
}

// JoinGroup joins (creating if needed) a group. It returns when the member's join phase
// ends, which may take up to the group's rebalance timeout.
func (n *Node) JoinGroup(ctx context.Context, group string, req *groups.JoinRequest) groups.JoinResult {
	fail := func(code int16) groups.JoinResult {
		return groups.JoinResult{Code: code, Generation: -1, MemberID: req.MemberID}
	}
	if group == "" {
		return fail(kerr.InvalidGroupID.Code)
	}
	if code := n.coordinatorCode(); code != 0 {
		return fail(code)
	}
	reply := make(chan groups.JoinResult, 1)
	r, code := ask(ctx, n, group, true, &joinGroupMsg{req: req, reply: reply}, reply, parkedTimeout)
	if code != 0 {
		return fail(missingAs(code, kerr.CoordinatorNotAvailable.Code))
	}
	return r
}

// SyncGroup sends a member's SyncGroup (the leader's carries the assignment) and returns
// its assignment once the leader's has arrived.
func (n *Node) SyncGroup(ctx context.Context, group string, req *groups.SyncRequest) groups.SyncResult {
	if code := n.memberRequestCode(group); code != 0 {
		return groups.SyncResult{Code: code}
	}
	reply := make(chan groups.SyncResult, 1)
	r, code := ask(ctx, n, group, false, &syncGroupMsg{req: req, reply: reply}, reply, parkedTimeout)
	if code != 0 {
		return groups.SyncResult{Code: missingAs(code, kerr.UnknownMemberID.Code)}
	}
	return r
}

// Heartbeat keeps a member alive and reports a running rebalance.
func (n *Node) Heartbeat(ctx context.Context, group string, ref groups.MemberRef) int16 {
	if code := n.memberRequestCode(group); code != 0 {
		return code
	}
	reply := make(chan int16, 1)
	r, code := ask(ctx, n, group, false, &heartbeatMsg{ref: ref, reply: reply}, reply, groupTimeout)
	if code != 0 {
		return missingAs(code, kerr.UnknownMemberID.Code)
	}
	return r
}

// LeaveGroup removes members; the second result is a group-level error.
func (n *Node) LeaveGroup(ctx context.Context, group string, refs []groups.MemberRef) ([]groups.LeaveResult, int16) {
	if code := n.memberRequestCode(group); code != 0 {
		return nil, code
	}
	reply := make(chan leaveReply, 1)
	r, code := ask(ctx, n, group, false, &leaveGroupMsg{refs: refs, reply: reply}, reply, groupTimeout)
	if code != 0 {
		return nil, missingAs(code, kerr.UnknownMemberID.Code)
	}
	return r.results, r.code
}

// memberRequestCode checks what SyncGroup, Heartbeat and LeaveGroup share.
func (n *Node) memberRequestCode(group string) int16 {
	if group == "" {
		return kerr.InvalidGroupID.Code
	}
	return n.coordinatorCode()
}

// missingAs maps ask's "no such group" to code.
func missingAs(code, missing int16) int16 {
	if code == -1 {
		return missing
	}
	return code
}

// OffsetCommitRequest is an OffsetCommit for one group.
type OffsetCommitRequest struct {
	Group  string
	Member groups.MemberRef // Generation -1 and no member: a standalone commit
	// RetentionMs is OffsetCommit v2-v4's retention; -1 for the broker's.
	RetentionMs int64
	Offsets     []OffsetCommitEntry
	// MissingGroupCode answers a member's commit to a group that does not exist:
	// ILLEGAL_GENERATION before OffsetCommit v9, GROUP_ID_NOT_FOUND from v9.
	MissingGroupCode int16
	// Sequenced, if set, is called once the commit's proposal is queued behind every
	// proposal queued before it, before it is applied: a connection's next commit may
	// start then and still be applied after this one.
	Sequenced func()
}

// OffsetCommitEntry is one partition's commit.
type OffsetCommitEntry struct {
	Topic       string
	Partition   int32
	Offset      int64
	LeaderEpoch int32
	Metadata    *string
	// CommitTimestampMs is OffsetCommit v1's explicit commit time; -1 for now.
	CommitTimestampMs int64
}

// CommitOffsets stores a group's offsets and returns each entry's error code once the
// offsets are durable (applied through Raft to the metadata store).
func (n *Node) CommitOffsets(ctx context.Context, r *OffsetCommitRequest) []int16 {
	codes := make([]int16, len(r.Offsets))
	fill := func(code int16) []int16 {
		for i := range codes {
			if codes[i] == 0 {
				codes[i] = code
			}
		}
		return codes
	}
	if code := n.coordinatorCode(); code != 0 {
		return fill(code)
	}
	now := time.Now().UnixMilli()
	img := n.Image()
	var offsets []fsm.OffsetCommit
	// Oversized metadata is reported only once the committer is known to be valid, as
	// Kafka does: a fenced member must hear that it has to rejoin.
	var tooLarge []int
	for i, e := range r.Offsets {
		t := img.Topics[e.Topic]
		switch {
		case t == nil || e.Partition < 0 || int(e.Partition) >= len(t.Partitions):
			codes[i] = kerr.UnknownTopicOrPartition.Code
			continue
		case e.Metadata != nil && javaStringLength(*e.Metadata) > n.groupOpts.MaxMetadataBytes:
			tooLarge = append(tooLarge, i)
			continue
		}
		oc := fsm.OffsetCommit{Topic: e.Topic, Partition: e.Partition, Offset: e.Offset, LeaderEpoch: e.LeaderEpoch, CommitTimestampMs: now}
		if e.Metadata != nil {
			oc.Metadata = *e.Metadata
		}
		if e.CommitTimestampMs >= 0 {
			oc.CommitTimestampMs = e.CommitTimestampMs
		}
		if r.RetentionMs >= 0 {
			oc.ExpireTimestampMs = now + r.RetentionMs
		}
		offsets = append(offsets, oc)
	}
	if len(offsets) == 0 && len(tooLarge) == 0 {
		return codes
	}
	standalone := r.Member.Generation < 0
	reply := make(chan commitStarted, 1)
	// Nothing to store creates no group; a standalone commit to no group is then valid.
	started, code := ask(ctx, n, r.Group, standalone && len(offsets) > 0, &commitOffsetsMsg{ref: r.Member, offsets: offsets, reply: reply}, reply, groupTimeout)
	if code == -1 && standalone && len(offsets) == 0 {
		code = 0 // nothing to store, and no group to check the committer against
	}
	if code == 0 {
		code = started.code
	}
	if code != 0 {
		return fill(missingAs(code, r.MissingGroupCode))
	}
	for _, i := range tooLarge {
		codes[i] = kerr.OffsetMetadataTooLarge.Code
	}
	if r.Sequenced != nil {
		r.Sequenced()
	}
	if started.applied == nil {
		return codes // nothing was proposed
	}
	return fill(n.awaitApplied(ctx, started.applied))
}

// javaStringLength is the length of s as a Java string: UTF-16 code units, two for a
// character outside the Basic Multilingual Plane. Kafka checks offset.metadata.max.bytes
// against that, despite the name, so a commit it accepts is accepted here too. (An
// invalid UTF-8 byte counts as one replacement character.)
func javaStringLength(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// awaitApplied waits for a proposal and maps its failure to a Kafka error code.
func (n *Node) awaitApplied(ctx context.Context, applied <-chan proposeResult) int16 {
	timer := time.NewTimer(n.proposalWait())
	defer timer.Stop()
	select {
	case res := <-applied:
		if res.err != nil {
			return proposeErrorCode(res.err)
		}
		if len(res.results) > 0 && !res.results[0].OK() {
			return res.results[0].Code
		}
		return 0
	case <-timer.C:
		return kerr.RequestTimedOut.Code
	case <-ctx.Done():
		return kerr.RequestTimedOut.Code
	}
}

// FetchOffsets returns a group's committed offsets. They are read from the metadata
// store, which every acknowledged commit reached before it was acknowledged.
func (n *Node) FetchOffsets(ctx context.Context, group string) ([]metastore.CommittedOffset, int16) {
	if code := n.coordinatorCode(); code != 0 {
		return nil, code
	}
	offsets, err := n.opts.Store.LoadOffsets(group)
	if err != nil {
		n.log.Error().Err(err).Str("group", group).Msg("fetch offsets")
		return nil, kerr.CoordinatorNotAvailable.Code
	}
	return offsets, 0
}

// DescribeGroup describes a group; a group that does not exist is reported Dead with
// GROUP_ID_NOT_FOUND (DescribeGroups v6 sends that code, older versions only the state).
func (n *Node) DescribeGroup(ctx context.Context, group string) (groups.Description, int16) {
	if code := n.coordinatorCode(); code != 0 {
		return groups.Description{Name: group, State: groups.Dead}, code
	}
	reply := make(chan describeReply, 1)
	r, code := ask(ctx, n, group, false, &describeGroupMsg{reply: reply}, reply, groupTimeout)
	if code == 0 {
		code = r.code
	}
	if code == 0 && r.desc.State == groups.Dead {
		code = -1
	}
	if code != 0 {
		return groups.Description{Name: group, State: groups.Dead}, missingAs(code, kerr.GroupIDNotFound.Code)
	}
	return r.desc, 0
}

// GroupListing is one group in ListGroups.
type GroupListing struct {
	Group        string
	State        groups.State
	ProtocolType string
}

// ListGroups lists every group this node coordinates, sorted by id. Admin clients ask
// every broker and merge the answers, so a node that coordinates no group answers with
// an empty list, not NOT_COORDINATOR (which Kafka's admin client reports as a failure of
// the whole listing); with no coordinator anywhere the answer is retriable.
func (n *Node) ListGroups() ([]GroupListing, int16) {
	switch code := n.coordinatorCode(); code {
	case 0:
	case kerr.NotCoordinator.Code:
		return nil, 0
	default:
		return nil, code
	}
	var out []GroupListing
	for name, s := range n.groupDir.list() {
		if s.state != groups.Dead {
			out = append(out, GroupListing{Group: name, State: s.state, ProtocolType: s.protocolType})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group < out[j].Group })
	return out, 0
}

// DeleteGroup deletes an empty group with its offsets (DeleteGroups).
func (n *Node) DeleteGroup(ctx context.Context, group string) int16 {
	if code := n.coordinatorCode(); code != 0 {
		return code
	}
	reply := make(chan int16, 1)
	r, code := ask(ctx, n, group, false, &deleteGroupMsg{reply: reply}, reply, groupTimeout+n.proposalWait())
	if code != 0 {
		return missingAs(code, kerr.GroupIDNotFound.Code)
	}
	return r
}

// DeleteOffsets deletes committed offsets of a group (OffsetDelete). It returns a code
// per partition and a group-level code.
func (n *Node) DeleteOffsets(ctx context.Context, group string, partitions []TopicPartition) ([]int16, int16) {
	if code := n.coordinatorCode(); code != 0 {
		return nil, code
	}
	reply := make(chan deleteOffsetsStarted, 1)
	started, code := ask(ctx, n, group, false, &deleteOffsetsMsg{partitions: partitions, reply: reply}, reply, groupTimeout)
	if code == 0 {
		code = started.code
	}
	if code != 0 {
		return nil, missingAs(code, kerr.GroupIDNotFound.Code)
	}
	if started.applied != nil {
		if code := n.awaitApplied(ctx, started.applied); code != 0 {
			return nil, code
		}
	}
	return started.codes, 0
}
