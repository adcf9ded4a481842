package groups

import (
	"time"

	"github.com/chronik/chronik-node/metastore"
)

// ExpiredOffsets returns the offsets offsets.retention.minutes has expired at now, by
// Kafka's rules (KIP-211):
//   - an empty group that had members: every offset, once the group has been empty for
//     the retention period;
//   - a group that only stores offsets (no protocol type): each offset, retention after
//     its own commit;
//   - a stable consumer group: offsets of topics it no longer subscribes to, retention
//     after their commit;
//   - otherwise nothing (the group is rebalancing or not a consumer group).
//
// An offset committed with an explicit expiry (OffsetCommit v1-v4) expires then instead.
func (g *Group) ExpiredOffsets(now time.Time, retention time.Duration, offsets []metastore.CommittedOffset) []metastore.CommittedOffset {
	var base func(o *metastore.CommittedOffset) time.Time
	var keep map[string]bool
	switch {
	case g.state == Empty && g.protocolType != "":
		base = func(*metastore.CommittedOffset) time.Time { return g.stateSince }
	case g.protocolType == "":
		base = commitTime
	case g.state == Stable && g.protocolType == "consumer" && g.subscribed != nil:
		base, keep = commitTime, g.subscribed
	default:
		return nil
	}
	var out []metastore.CommittedOffset
	for i := range offsets {
		o := &offsets[i]
		if keep[o.Topic] {
			continue
		}
		expired := now.Sub(base(o)) >= retention
		if o.ExpireTimestampMs > 0 {
			expired = now.UnixMilli() >= o.ExpireTimestampMs
		}
		if expired {
			out = append(out, *o)
		}
	}
	return out
}

func commitTime(o *metastore.CommittedOffset) time.Time { return time.UnixMilli(o.CommitTimestampMs) }
