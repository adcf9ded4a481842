package test

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestGroupConsumersShareAndRebalance runs three kgo group consumers over a 12-partition
// topic under steady production, with the eager range balancer and with the cooperative
// sticky one: every record is consumed by exactly one member while nobody fails; a
// member that leaves, and one that stops heartbeating, have their partitions moved to
// the others within the session timeout.
func TestGroupConsumersShareAndRebalance(t *testing.T) {
	for _, tc := range []struct {
		name     string
		balancer kgo.GroupBalancer
	}{
		{"range", kgo.RangeBalancer()},
		{"cooperative-sticky", kgo.CooperativeStickyBalancer()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := startNode(t, groupConfig)
			const topic, group, partitions = "orders", "workers", 12
			if _, err := n.admin().CreateTopic(testContext(t), partitions, 1, nil, topic); err != nil {
				t.Fatal(err)
			}
			l := newLedger()
			prod := startProducer(t, n, topic)
			var members []*groupMember
			// Members join one at a time while records flow, so each join rebalances
			// partitions that are being consumed.
			for i, name := range []string{"m1", "m2", "m3"} {
				members = append(members, startGroupMember(t, n, group, topic, name, l, kgo.Balancers(tc.balancer)))
				eventually(t, 30*time.Second, name+" sharing the partitions", func() bool {
					return n.stableWith(group, topic, i+1, partitions)
				})
				eventually(t, 20*time.Second, name+" consuming", func() bool { return members[i].polled.Load() >= 100 })
			}
			// A member leaves while records flow: its partitions go to the other two.
			members[2].close()
			eventually(t, sessionTimeout+5*time.Second, "two members to own all partitions after a leave", func() bool {
				return n.stableWith(group, topic, 2, partitions)
			})
			settled := prod.produced.Load()
			eventually(t, 20*time.Second, "500 more records produced", func() bool { return prod.produced.Load() >= settled+500 })
			prod.halt()
			prod.check(t)
			produced := int(prod.produced.Load())
			eventually(t, 30*time.Second, "every produced record to be consumed", func() bool { return l.count() >= produced })
			if d := l.duplicates(); len(d) > 0 {
				t.Fatalf("%d of %d records consumed more than once with no member failing: %v", len(d), produced, d[:min(5, len(d))])
			}
			if got := l.count(); got != produced {
				t.Fatalf("consumed %d distinct records, produced %d", got, produced)
			}
			t.Logf("%d records produced and consumed once each; polled by m1 %d, m2 %d, m3 %d",
				produced, members[0].polled.Load(), members[1].polled.Load(), members[2].polled.Load())

			// A member that stops heartbeating: a hand-driven consumer joins, takes
			// partitions, then goes silent.
			ctx := testContext(t)
			raw := newRawMember(t, n, group, tc.name, topic)
			raw.joinUntilAssigned(ctx)
			eventually(t, 10*time.Second, "the silent member to be in the group", func() bool {
				return n.stableWith(group, topic, 3, partitions)
			})
			silentAt := time.Now()
			eventually(t, sessionTimeout+5*time.Second, "the silent member's partitions to move", func() bool {
				return n.stableWith(group, topic, 2, partitions)
			})
			t.Logf("partitions of the silent member moved %v after its last request (session timeout %v)", time.Since(silentAt), sessionTimeout)
			if g, _ := n.group(group); g.Members[0].MemberID == raw.memberID || g.Members[1].MemberID == raw.memberID {
				t.Fatal("the silent member is still in the group")
			}
		})
	}
}
