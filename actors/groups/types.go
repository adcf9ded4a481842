package groups

import (
	"strings"
	"time"
)

// State is a classic group's state.
type State int8

const (
	Empty State = iota
	PreparingRebalance
	CompletingRebalance
	Stable
	Dead
)

var stateNames = [...]string{"Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"}

// String is the state as Kafka names it in ListGroups and DescribeGroups.
func (s State) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return "Unknown"
	}
	return stateNames[s]
}

// ParseState reads a state name case-insensitively, as ListGroups' state filter does.
func ParseState(name string) (State, bool) {
	for i, n := range stateNames {
		if strings.EqualFold(n, name) {
			return State(i), true
		}
	}
	return 0, false
}

// Config is the coordinator's group configuration.
type Config struct {
	MinSessionTimeout     time.Duration // group.min.session.timeout.ms
	MaxSessionTimeout     time.Duration // group.max.session.timeout.ms
	InitialRebalanceDelay time.Duration // group.initial.rebalance.delay.ms
	// NewMemberID returns a fresh member id for a member with this client id or group
	// instance id (Kafka uses "<prefix>-<uuid>"). Required.
	NewMemberID func(prefix string) string
}

// newMemberJoinTimeout bounds how long a member that joined during a rebalance may wait
// in it without a response before it is dropped (Kafka's 5 minutes): its session timeout
// cannot apply because it has no member id to heartbeat with yet.
const newMemberJoinTimeout = 5 * time.Minute

// Waiter identifies a parked request for the caller; the machine hands it back in a
// Reply untouched.
type Waiter any

// Protocol is one assignment protocol a member supports, with its metadata.
type Protocol struct {
	Name     string
	Metadata []byte
}

// JoinRequest is a JoinGroup.
type JoinRequest struct {
	MemberID         string
	InstanceID       *string // KIP-345 static membership
	ClientID         string
	ClientHost       string
	ProtocolType     string
	Protocols        []Protocol
	SessionTimeout   time.Duration
	RebalanceTimeout time.Duration
	// RequireKnownMemberID (JoinGroup v4+): a new dynamic member first gets an id with
	// MEMBER_ID_REQUIRED and joins again with it (KIP-394).
	RequireKnownMemberID bool
	// SupportsSkipAssignment (JoinGroup v9+): a static leader that rejoins a stable group
	// is told to skip the assignment (KIP-814).
	SupportsSkipAssignment bool
	Reason                 string
}

// JoinResult answers a JoinGroup.
type JoinResult struct {
	Code           int16
	Generation     int32
	ProtocolType   string
	Protocol       string
	LeaderID       string
	MemberID       string
	Members        []JoinMember // the leader's view of the group; empty for followers
	SkipAssignment bool
}

// JoinMember is one member as the leader sees it.
type JoinMember struct {
	MemberID   string
	InstanceID *string
	Metadata   []byte
}

// SyncRequest is a SyncGroup; only the leader's carries assignments.
type SyncRequest struct {
	MemberID     string
	InstanceID   *string
	Generation   int32
	ProtocolType *string // v5+
	Protocol     *string // v5+
	Assignments  []Assignment
}

// Assignment is the leader's assignment for one member.
type Assignment struct {
	MemberID   string
	Assignment []byte
}

// SyncResult answers a SyncGroup.
type SyncResult struct {
	Code         int16
	ProtocolType string
	Protocol     string
	Assignment   []byte
}

// MemberRef names a member in Heartbeat, LeaveGroup and OffsetCommit.
type MemberRef struct {
	MemberID   string
	InstanceID *string
	Generation int32
	Reason     string
}

// LeaveResult is the outcome for one member of a LeaveGroup.
type LeaveResult struct {
	MemberID   string
	InstanceID *string
	Code       int16
}

// Reply is the answer to a parked (or just handled) JoinGroup or SyncGroup.
type Reply struct {
	To   Waiter
	Join *JoinResult
	Sync *SyncResult
}

// Output is what a call produced besides its direct result.
type Output struct {
	Replies []Reply
	// Store is set when the group's durable record changed (a generation completed,
	// the group emptied, a static member was replaced): the owner persists Record() and
	// sends Replies once that is done, so a client never acts on state a crash forgets.
	Store bool
	// Events describe what happened, for the owner's log.
	Events []string
}

func (o *Output) merge(other Output) {
	o.Replies = append(o.Replies, other.Replies...)
	o.Store = o.Store || other.Store
	o.Events = append(o.Events, other.Events...)
}

// Description is a group as DescribeGroups and the debug endpoint show it.
type Description struct {
	Name         string
	State        State
	ProtocolType string
	Protocol     string
	Generation   int32
	Leader       string
	Members      []MemberDescription
}

// MemberDescription is one member of a Description.
type MemberDescription struct {
	MemberID         string
	InstanceID       *string
	ClientID         string
	ClientHost       string
	Metadata         []byte // for the selected protocol
	Assignment       []byte
	SessionTimeout   time.Duration
	RebalanceTimeout time.Duration
}
