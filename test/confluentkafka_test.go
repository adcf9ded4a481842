package test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// These tests drive librdkafka as a full client through its Python binding
// (confluent-kafka-python, Debian's python3-confluent-kafka, which .ci/run installs): the
// producer, the consumer with librdkafka's own group code, and the AdminClient, the way
// applications use them. kcat (kcat_test.go) covers only librdkafka's produce and consume.
// The scripts in test/py print what they saw as JSON; the tests judge it and check that
// the node logged nothing these clients should not cause.

// confluentKafka returns a Python interpreter with confluent-kafka-python, skipping the
// test without one.
func confluentKafka(t *testing.T) string {
	t.Helper()
	return pythonWith(t, "confluent_kafka", "confluent-kafka-python (Debian package python3-confluent-kafka)")
}

// complaints returns the node's warning and error lines that contain none of allowed.
func (n *node) complaints(allowed ...string) []string {
	n.logMu.Lock()
	defer n.logMu.Unlock()
	var out []string
	for _, line := range n.logs {
		if !strings.Contains(line, `"level":"warn"`) && !strings.Contains(line, `"level":"error"`) {
			continue
		}
		if !slices.ContainsFunc(allowed, func(a string) bool { return strings.Contains(line, a) }) {
			out = append(out, line)
		}
	}
	return out
}

func checkNoComplaints(t *testing.T, n *node, allowed ...string) {
	t.Helper()
	if lines := n.complaints(allowed...); len(lines) > 0 {
		t.Errorf("the node logged %d warning/error line(s) under librdkafka, first: %s", len(lines), lines[0])
	}
}

// TestConfluentKafkaProduceConsume: idempotent acks=all producers with every codec, keys
// and headers, every delivery report a success, read back exactly and in order; a
// LogAppendTime topic's broker time in delivery reports and records; offsets_for_times,
// get_watermark_offsets, seek, position and list_topics (test/py/ck_data.py).
func TestConfluentKafkaProduceConsume(t *testing.T) {
	python := confluentKafka(t)
	n := startNode(t, "")
	var got struct {
		Delivered          int      `json:"delivered"`
		Failures           []string `json:"failures"`
		OffsetsInSendOrder bool     `json:"offsets_in_send_order"`
		Consumed           int      `json:"consumed"`
		Mismatched         int      `json:"mismatched"`
		OutOfOrder         int      `json:"out_of_order"`
		LogAppendTime      struct {
			ReportError        *string `json:"report_error"`
			ReportIsBrokerTime bool    `json:"report_is_broker_time"`
			ConsumedSame       bool    `json:"consumed_same"`
		} `json:"log_append_time"`
		OffsetsForTimes map[string]int64 `json:"offsets_for_times"`
		Watermarks      [][]int64        `json:"watermarks"`
		Seek            []any            `json:"seek"`
		Position        int64            `json:"position"`
		ListTopics      struct {
			Partitions          map[string]int `json:"partitions"`
			Brokers             []string       `json:"brokers"`
			ControllerIsABroker bool           `json:"controller_is_a_broker"`
			LeadersKnown        bool           `json:"leaders_known"`
		} `json:"list_topics"`
	}
	runPython(t, python, n, &got, "py/ck_data.py", "ck-data")
	const produced = 5 * 200
	if got.Delivered != produced || len(got.Failures) > 0 || !got.OffsetsInSendOrder {
		t.Errorf("delivery reports: %d of %d succeeded (failures %v); offsets in send order: %v", got.Delivered, produced, got.Failures, got.OffsetsInSendOrder)
	}
	if got.Consumed != produced || got.Mismatched != 0 || got.OutOfOrder != 0 {
		t.Errorf("read back %d of %d records, %d not as produced (key, value, headers, partition, offset), %d out of order",
			got.Consumed, produced, got.Mismatched, got.OutOfOrder)
	}
	if lat := got.LogAppendTime; lat.ReportError != nil || !lat.ReportIsBrokerTime || !lat.ConsumedSame {
		t.Errorf("LogAppendTime topic: delivery error %v, report carries the broker's append time: %v, consumer sees the same: %v",
			lat.ReportError, lat.ReportIsBrokerTime, lat.ConsumedSame)
	}
	wantTimes := map[string]int64{"before_first": 0, "between_3_and_4": 4, "exactly_9": 9, "after_last": -1, "empty_partition": -1}
	for what, want := range wantTimes {
		if off, ok := got.OffsetsForTimes[what]; !ok || off != want {
			t.Errorf("offsets_for_times %s: %d (found %v), want %d", what, off, ok, want)
		}
	}
	if fmt.Sprint(got.Watermarks) != "[[0 10] [0 0]]" {
		t.Errorf("get_watermark_offsets: %v, want [[0 10] [0 0]]", got.Watermarks)
	}
	// The first record read, then offset 7 after seek(7), stamped 7 s after the first.
	if fmt.Sprint(got.Seek) != "[0 [7 7 7000]]" || got.Position != 8 {
		t.Errorf("seek: read %v, want [0 [7 7 7000]]; position %d, want 8", got.Seek, got.Position)
	}
	lt := got.ListTopics
	if fmt.Sprint(lt.Partitions) != "map[ck-data:3 ck-data-bytime:2 ck-data-logappend:1]" ||
		!slices.Equal(lt.Brokers, []string{n.kafkaAddr}) || !lt.ControllerIsABroker || !lt.LeadersKnown {
		t.Errorf("list_topics: %+v (node at %s)", lt, n.kafkaAddr)
	}
	checkNoComplaints(t, n)
}

// groupsRun is what test/py/ck_groups.py reports.
type groupsRun struct {
	Split               bool      `json:"split"`
	Owned               [][]int   `json:"owned"`
	ReadAll             bool      `json:"read_all"`
	Consumed            int       `json:"consumed"`
	Distinct            int       `json:"distinct"`
	AsyncCommitReported bool      `json:"async_commit_reported"`
	Commits             [][]any   `json:"commits"`
	Committed           [][]int64 `json:"committed"`
	Position            [][]int64 `json:"position"`
	TookOver            bool      `json:"took_over"`
	ReadAfterTakeover   bool      `json:"read_after_takeover"`
	EventsAfterLeave    [][]any   `json:"events_after_leave"`
	ResumedAssigned     bool      `json:"resumed_assigned"`
	Resumed             [][]any   `json:"resumed"`
	Events              [][]any   `json:"events"`
}

// TestConfluentKafkaGroups runs librdkafka's consumer group code with the eager range
// assignor and with cooperative-sticky (KIP-429 incremental rebalancing): two members
// split a topic, commit synchronously and asynchronously, committed() and position()
// agree, one leaves and the other takes its partitions, and a new member resumes from the
// committed offsets after both closed (test/py/ck_groups.py).
func TestConfluentKafkaGroups(t *testing.T) {
	python := confluentKafka(t)
	n := startNode(t, "")
	for _, strategy := range []string{"range", "cooperative-sticky"} {
		t.Run(strategy, func(t *testing.T) {
			var got groupsRun
			runPython(t, python, n, &got, "py/ck_groups.py", "ck-"+strategy, strategy)
			all := slices.Concat(got.Owned...)
			slices.Sort(all)
			if !got.Split || len(got.Owned) != 2 || len(got.Owned[0]) == 0 || len(got.Owned[1]) == 0 || !slices.Equal(all, []int{0, 1, 2, 3}) {
				t.Fatalf("the two members own %v, want the four partitions split between them", got.Owned)
			}
			if !got.ReadAll || got.Consumed != 400 || got.Distinct != 400 {
				t.Errorf("the members read %d records (%d distinct), want 400", got.Consumed, got.Distinct)
			}
			// The asynchronous commit's callback reports success for c2's partitions at 100.
			want := fmt.Sprintf("[c2 <nil> [[%d 100 <nil>] [%d 100 <nil>]]]", got.Owned[1][0], got.Owned[1][1])
			var c2 []string
			for _, c := range got.Commits {
				if c[0] == "c2" {
					c2 = append(c2, fmt.Sprint(c))
				}
			}
			if !got.AsyncCommitReported || len(c2) != 1 || c2[0] != want {
				t.Errorf("asynchronous commit reported %v, want %s", c2, want)
			}
			const at100 = "[[0 100] [1 100] [2 100] [3 100]]"
			if fmt.Sprint(got.Committed) != at100 || fmt.Sprint(got.Position) != at100 {
				t.Errorf("committed() %v, position() %v, want both %s", got.Committed, got.Position, at100)
			}
			if !got.TookOver || !got.ReadAfterTakeover {
				t.Errorf("after c1 left, c2 took over all partitions: %v, read what followed: %v", got.TookOver, got.ReadAfterTakeover)
			}
			// Eager: everyone gives everything back and c2 gets all four. Incremental: c2
			// keeps its partitions and is given only c1's.
			after := fmt.Sprint(got.EventsAfterLeave)
			want = fmt.Sprintf("[[c1 revoke %v] [c2 revoke %v] [c2 assign [0 1 2 3]]]", got.Owned[0], got.Owned[1])
			if strategy == "cooperative-sticky" {
				want = fmt.Sprintf("[[c1 revoke %v] [c2 assign %v]]", got.Owned[0], got.Owned[0])
			}
			if after != want {
				t.Errorf("rebalance callbacks after c1 left: %s, want %s", after, want)
			}
			if fmt.Sprint(got.Resumed) != "[[0 102 third] [1 102 third] [2 102 third] [3 102 third]]" || !got.ResumedAssigned {
				t.Errorf("a new member resumed with %v, want only each partition's record after the committed offset 102", got.Resumed)
			}
		})
	}
	checkNoComplaints(t, n)
}

// TestConfluentKafkaStaticMembership: static members (KIP-345, group.instance.id) through
// librdkafka: a member that closes and comes back under its instance id within its
// session gets its partition back without a rebalance; a second process with an instance
// id in use fences the first, which gets a fatal error (test/py/ck_static.py).
func TestConfluentKafkaStaticMembership(t *testing.T) {
	python := confluentKafka(t)
	n := startNode(t, "")
	var got struct {
		Split             bool    `json:"split"`
		SamePartitionBack bool    `json:"same_partition_back"`
		EventsAfterReturn [][]any `json:"events_after_return"`
		BKept             bool    `json:"b_kept"`
		DuplicateTookOver bool    `json:"duplicate_took_over"`
		FencedErrors      [][]any `json:"fenced_errors"`
	}
	runPython(t, python, n, &got, "py/ck_static.py", "ck-static")
	if !got.Split || !got.SamePartitionBack || !got.BKept {
		t.Errorf("static members split the topic: %v; the returning member got its partition back: %v; the other kept its own: %v",
			got.Split, got.SamePartitionBack, got.BKept)
	}
	// Only the returning member's own assignment: no rebalance reached the other member.
	if len(got.EventsAfterReturn) != 1 || fmt.Sprint(got.EventsAfterReturn[0][:2]) != "[a-again assign]" {
		t.Errorf("rebalance callbacks after the static member returned: %v, want only its own assignment", got.EventsAfterReturn)
	}
	if !got.DuplicateTookOver || len(got.FencedErrors) == 0 || fmt.Sprint(got.FencedErrors[0][0]) != "_FATAL" ||
		!strings.Contains(fmt.Sprint(got.FencedErrors[0]), "fenced") {
		t.Errorf("a duplicate instance id took over: %v; the fenced member's errors: %v, want a fatal 'fenced'", got.DuplicateTookOver, got.FencedErrors)
	}
	checkNoComplaints(t, n)
}

// TestConfluentKafkaAdmin drives librdkafka's AdminClient (test/py/ck_admin.py).
func TestConfluentKafkaAdmin(t *testing.T) {
	python := confluentKafka(t)
	n := startNode(t, "")
	var got map[string]any
	runPython(t, python, n, &got, "py/ck_admin.py", "ck-admin")
	const resource = "ConfigResource(Type.TOPIC,ck-admin)"
	want := map[string]string{
		"validate_only":             "map[ck-admin:<nil>]",
		"listed_after_validate":     "false",
		"create":                    "map[ck-admin:<nil>]",
		"listed":                    "true",
		"create_again":              "map[ck-admin:TOPIC_ALREADY_EXISTS]",
		"create_bad_config":         "map[ck-admin-bad:INVALID_CONFIG]",
		"create_bad_replication":    "map[ck-admin-rf:INVALID_REPLICATION_FACTOR]",
		"grow_validate_only":        "map[ck-admin:<nil>]",
		"partitions_after_validate": "2",
		"grow":                      "map[ck-admin:<nil>]",
		"shrink":                    "map[ck-admin:INVALID_PARTITIONS]",
		"partitions":                "4",
		// [value source is_default]: 1 is DYNAMIC_TOPIC_CONFIG, 5 DEFAULT_CONFIG.
		"configs_at_create":      "map[cleanup.policy:[delete 1 false] retention.ms:[3600000 1 false] segment.bytes:[1073741824 5 true]]",
		"alter_validate_only":    "map[" + resource + ":<nil>]",
		"configs_after_validate": "map[cleanup.policy:[delete 1 false] retention.ms:[3600000 1 false] segment.bytes:[1073741824 5 true]]",
		"alter":                  "map[" + resource + ":<nil>]",
		// AlterConfigs replaces the topic's set: cleanup.policy, not named, is back to its default.
		"configs_after_alter": "map[cleanup.policy:[delete 5 true] retention.ms:[7200000 1 false] segment.bytes:[1073741824 5 true]]",
		"alter_bad_value":     "map[" + resource + ":INVALID_CONFIG]",
		"alter_missing_topic": "map[ConfigResource(Type.TOPIC,ck-admin-missing):UNKNOWN_TOPIC_OR_PART]",
		"group":               "[map[id:ck-admin-group members:[[rdkafka /127.0.0.1 true true]] protocol:range protocol_type:consumer state:Stable]]",
		"group_listed":        "true",
		"group_after_close":   "[[Empty 0]]",
		"delete":              "map[ck-admin:<nil> ck-admin-missing:UNKNOWN_TOPIC_OR_PART]",
		"listed_after_delete": "false",
	}
	for key, w := range want {
		if g := fmt.Sprint(got[key]); g != w {
			t.Errorf("%s: %s, want %s", key, g, w)
		}
	}
	if count, _ := got["broker_config_count"].(float64); count < 10 {
		t.Errorf("describe_configs of broker 1 returned %v entries", got["broker_config_count"])
	}
	checkNoComplaints(t, n)
}

// TestConfluentKafkaTransactionalProducerRefused: transactions are not implemented. The
// node answers FindCoordinator for a transactional id with itself (Kafka answers with the
// coordinator whenever DESCRIBE on the id is allowed) and InitProducerId with that id
// with TRANSACTIONAL_ID_AUTHORIZATION_FAILED, Kafka's answer when WRITE on the id is
// denied (KafkaApis.handleInitProducerIdRequest). librdkafka treats that as fatal at
// once; a coordinator error such as UNSUPPORTED_VERSION or COORDINATOR_NOT_AVAILABLE
// would make it query again every 500 ms until init_transactions() timed out.
func TestConfluentKafkaTransactionalProducerRefused(t *testing.T) {
	n := startNode(t, "")
	ctx := testContext(t)
	cl := n.client()
	find := kmsg.NewPtrFindCoordinatorRequest()
	find.CoordinatorType, find.CoordinatorKeys = 1, []string{"txn-raw"}
	fresp, err := find.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if c := fresp.Coordinators; len(c) != 1 || c[0].ErrorCode != 0 || fmt.Sprintf("%s:%d", c[0].Host, c[0].Port) != n.kafkaAddr {
		t.Errorf("FindCoordinator for a transactional id: %+v, want this node", c)
	}
	init := kmsg.NewPtrInitProducerIDRequest()
	init.TransactionalID, init.TransactionTimeoutMillis = kmsg.StringPtr("txn-raw"), 60000
	iresp, err := init.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if iresp.ErrorCode != kerr.TransactionalIDAuthorizationFailed.Code || iresp.ProducerID != -1 {
		t.Errorf("InitProducerId with a transactional id: error %d, producer id %d; want %d (TRANSACTIONAL_ID_AUTHORIZATION_FAILED), -1",
			iresp.ErrorCode, iresp.ProducerID, kerr.TransactionalIDAuthorizationFailed.Code)
	}

	python := confluentKafka(t)
	var got struct {
		Init *struct {
			Name      string `json:"name"`
			Fatal     bool   `json:"fatal"`
			Retriable bool   `json:"retriable"`
			Message   string `json:"message"`
		} `json:"init"`
		InitSeconds     float64   `json:"init_seconds"`
		Begin           *string   `json:"begin"`
		IdempotentAfter []*string `json:"idempotent_after"`
	}
	runPython(t, python, n, &got, "py/ck_txn.py", "ck-txn")
	// A refusal librdkafka retried would end in _TIMED_OUT after init_transactions' 30 s.
	if got.Init == nil || got.Init.Name != "TRANSACTIONAL_ID_AUTHORIZATION_FAILED" || !got.Init.Fatal || got.Init.Retriable {
		t.Errorf("init_transactions: %+v (after %.1fs), want a fatal, not retriable TRANSACTIONAL_ID_AUTHORIZATION_FAILED", got.Init, got.InitSeconds)
	}
	if got.Begin == nil || *got.Begin != "TRANSACTIONAL_ID_AUTHORIZATION_FAILED" {
		t.Errorf("begin_transaction after the refusal: %v, want the fatal error again", got.Begin)
	}
	if len(got.IdempotentAfter) != 1 || got.IdempotentAfter[0] != nil {
		t.Errorf("an idempotent producer after the refusal: delivery reports %v, want one success", got.IdempotentAfter)
	}
	// The node says why, for each refused producer (the raw request and librdkafka's).
	if c := n.waitLogLines(2, "transactional producer refused", "transactions are not supported"); c < 2 {
		t.Errorf("the node logged %d refusals, want one for each of the 2 producers", c)
	}
	checkNoComplaints(t, n, "transactional producer refused")
}

// TestConfluentKafkaGroupAdmin drives librdkafka's admin API for consumer groups and
// DeleteRecords, which librdkafka 2.0 has and binding 1.7 does not wrap (through ctypes,
// test/py/rdkafka_admin.py): a live group with one member and a simple group with
// committed offsets listed (with state filters), described, their offsets listed, altered
// and deleted (refused for the live group with Kafka's errors), records deleted, groups
// deleted (test/py/ck_group_admin.py).
func TestConfluentKafkaGroupAdmin(t *testing.T) {
	python := confluentKafka(t)
	n := startNode(t, "")
	var got map[string]json.RawMessage
	runPython(t, python, n, &got, "py/ck_group_admin.py", "ck-gadm")
	if skip, ok := got["skip"]; ok {
		t.Skipf("%s", skip)
	}
	host, port, _ := strings.Cut(n.kafkaAddr, ":")
	coordinator := fmt.Sprintf(`[1,%q,%s]`, host, port)
	const tp = `"ck-gadm"`
	// Group states: 3 Stable, 4 Dead (what Kafka describes an unknown group as), 5 Empty.
	// A group's second field says whether it is simple (protocol type "").
	want := map[string]string{
		"list":        `{"error":null,"groups":[["ck-gadm-live",0,3],["ck-gadm-simple",1,5]],"errors":[]}`,
		"list_stable": `{"error":null,"groups":[["ck-gadm-live",0,3]],"errors":[]}`,
		"list_empty":  `{"error":null,"groups":[["ck-gadm-simple",1,5]],"errors":[]}`,
		"describe": `{"error":null,"groups":[` +
			`{"group":"ck-gadm-live","error":null,"simple":0,"assignor":"range","state":3,"coordinator":` + coordinator +
			`,"members":[{"client_id":"rdkafka","consumer_id":true,"host":"/127.0.0.1","assignment":[[` + tp + `,0,-1001,"NO_ERROR"],[` + tp + `,1,-1001,"NO_ERROR"]]}]},` +
			`{"group":"ck-gadm-simple","error":null,"simple":1,"assignor":"","state":5,"coordinator":` + coordinator + `,"members":[]},` +
			`{"group":"ck-gadm-missing","error":null,"simple":1,"assignor":"","state":4,"coordinator":` + coordinator + `,"members":[]}]}`,
		"offsets":       `{"error":null,"groups":[{"group":"ck-gadm-live","error":null,"partitions":[[` + tp + `,0,3,"NO_ERROR"],[` + tp + `,1,4,"NO_ERROR"]]}]}`,
		"offsets_named": `{"error":null,"groups":[{"group":"ck-gadm-live","error":null,"partitions":[[` + tp + `,1,4,"NO_ERROR"],[` + tp + `,5,-1001,"NO_ERROR"]]}]}`,
		// Kafka takes offsets without a generation only for an empty group.
		"alter_live":                  `{"error":null,"groups":[{"group":"ck-gadm-live","error":null,"partitions":[[` + tp + `,0,1,"UNKNOWN_MEMBER_ID"]]}]}`,
		"alter_simple":                `{"error":null,"groups":[{"group":"ck-gadm-simple","error":null,"partitions":[[` + tp + `,0,1,"NO_ERROR"],[` + tp + `,1,2,"NO_ERROR"]]}]}`,
		"offsets_simple_altered":      `{"error":null,"groups":[{"group":"ck-gadm-simple","error":null,"partitions":[[` + tp + `,0,1,"NO_ERROR"],[` + tp + `,1,2,"NO_ERROR"]]}]}`,
		"delete_offsets_live":         `{"error":null,"groups":[{"group":"ck-gadm-live","error":null,"partitions":[[` + tp + `,0,-1001,"GROUP_SUBSCRIBED_TO_TOPIC"]]}]}`,
		"delete_offsets_simple":       `{"error":null,"groups":[{"group":"ck-gadm-simple","error":null,"partitions":[[` + tp + `,0,-1001,"NO_ERROR"]]}]}`,
		"offsets_simple_after_delete": `{"error":null,"groups":[{"group":"ck-gadm-simple","error":null,"partitions":[[` + tp + `,1,2,"NO_ERROR"]]}]}`,
		"delete_records":              `{"error":null,"offsets":[[` + tp + `,0,4,"NO_ERROR"],[` + tp + `,1,10,"NO_ERROR"]]}`,
		"watermarks":                  `[[4,10],[10,10]]`,
		"delete_records_beyond_end":   `{"error":null,"offsets":[[` + tp + `,0,-1,"OFFSET_OUT_OF_RANGE"]]}`,
		"delete_groups": `{"error":null,"groups":[{"group":"ck-gadm-live","error":"NON_EMPTY_GROUP","partitions":null},` +
			`{"group":"ck-gadm-simple","error":null,"partitions":null},{"group":"ck-gadm-missing","error":"GROUP_ID_NOT_FOUND","partitions":null}]}`,
		"delete_live_after_close": `{"error":null,"groups":[{"group":"ck-gadm-live","error":null,"partitions":null}]}`,
		"list_after":              `{"error":null,"groups":[],"errors":[]}`,
	}
	for key, w := range want {
		if g := string(got[key]); g != w {
			t.Errorf("%s:\n got %s\nwant %s", key, g, w)
		}
	}
	checkNoComplaints(t, n)
}
