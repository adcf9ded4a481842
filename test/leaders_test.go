package test

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Leader-election and reassignment tools (kafka-leader-election, kafka-reassign-partitions
// --list, their Admin calls) get Kafka's answers for a cluster where every partition
// already has its preferred leader and nothing is moving, not UNSUPPORTED_VERSION.
func TestElectLeadersAndReassignmentsOnOneNode(t *testing.T) {
	n := startNode(t, "")
	ctx := testContext(t)
	createTopic(t, n, "led", 3, nil)
	adm := n.admin()

	for _, how := range []kadm.ElectLeadersHow{kadm.ElectPreferredReplica, kadm.ElectLiveReplica} {
		res, err := adm.ElectLeaders(ctx, how, kadm.TopicsSet{"led": {0: {}, 2: {}, 7: {}}})
		if err != nil {
			t.Fatalf("elect leaders (%v): %v", how, err)
		}
		for p, want := range map[int32]error{0: kerr.ElectionNotNeeded, 2: kerr.ElectionNotNeeded, 7: kerr.UnknownTopicOrPartition} {
			if got := res["led"][p].Err; !errors.Is(got, want) {
				t.Fatalf("elect leaders (%v) of led/%d: %v, want %v", how, p, got, want)
			}
		}
	}
	// For every partition: none needs an election, and Kafka leaves those out.
	all, err := adm.ElectLeaders(ctx, kadm.ElectPreferredReplica, nil)
	if err != nil || len(all) != 0 {
		t.Fatalf("elect leaders of every partition: %v, %v; want no result", all, err)
	}

	moving, err := adm.ListPartitionReassignments(ctx, nil)
	if err != nil || len(moving) != 0 {
		t.Fatalf("list partition reassignments: %v, %v; want none", moving, err)
	}
	moving, err = adm.ListPartitionReassignments(ctx, kadm.TopicsSet{"led": {1: {}}})
	if err != nil || len(moving) != 0 {
		t.Fatalf("list partition reassignments of led/1: %v, %v; want none", moving, err)
	}
}
