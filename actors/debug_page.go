package actors

import (
	_ "embed"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"
)

//go:embed debug_page.html
var debugPageHTML string

// defaultRefresh is how often the debug page reloads itself, in seconds.
const defaultRefresh = 2

// debugPageData is everything the debug page template renders.
type debugPageData struct {
	Now                 time.Time
	Refresh             int
	Raft                RaftStatus
	Actors              []actorRow
	Partitions          []PartitionView
	PartitionBytes      int64
	Groups              []GroupView
	GroupsWired         bool
	UnderReplicated     int
	OfflinePartitions   int
	Busiest             string // the actor with the deepest mailbox, if any is non-empty
	TotalMessagesPerSec float64
}

// actorRow is an actor placed in the tree: ids are paths (node/partitions/orders-3).
type actorRow struct {
	ActorStat
	Name  string
	Level int
}

func actorRows(stats []ActorStat) []actorRow {
	rows := make([]actorRow, len(stats))
	for i, s := range stats {
		level := strings.Count(s.ID, "/")
		rows[i] = actorRow{ActorStat: s, Name: s.ID[strings.LastIndex(s.ID, "/")+1:], Level: level}
	}
	return rows
}

// debugPage serves GET /debug/: the node's actors, Raft, partitions and consumer groups
// as one server-rendered HTML page that reloads itself every ?refresh= seconds (2 by
// default, 0 stops it). Rates come from the node's sampler, so every load shows them.
func (n *Node) debugPage() http.Handler {
	tmpl := template.Must(template.New("debug").Funcs(template.FuncMap{
		"bytes":  HumanBytes,
		"rate":   func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
		"ids":    joinIDs,
		"indent": func(level int) int { return 6 + 22*level }, // pixels
		"since":  func(t time.Time) string { return time.Since(t).Truncate(time.Second).String() },
		"clock":  func(t time.Time) string { return t.Format("15:04:05") },
	}).Parse(debugPageHTML))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refresh := defaultRefresh
		if v := r.URL.Query().Get("refresh"); v != "" {
			s, err := strconv.Atoi(v)
			if err != nil || s < 0 || s > 3600 {
				http.Error(w, fmt.Sprintf("refresh=%q: want seconds between 0 and 3600", v), http.StatusBadRequest)
				return
			}
			refresh = s
		}
		d := n.debugPageData()
		d.Refresh = refresh
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := tmpl.Execute(w, d); err != nil {
			// The header is out already; the log is the only place left to say so.
			n.log.Warn().Err(err).Msg("render debug page")
		}
	})
}

func (n *Node) debugPageData() debugPageData {
	d := debugPageData{
		Now: time.Now(), Raft: n.RaftStatus(), Actors: actorRows(n.Actors()),
		Partitions: n.PartitionViews(), Groups: n.GroupsView(), GroupsWired: n.groups.fn.Load() != nil,
	}
	d.UnderReplicated, d.OfflinePartitions = n.ReplicationHealth()
	for _, p := range d.Partitions {
		d.PartitionBytes += p.SizeBytes
	}
	deepest := 0
	for _, a := range d.Actors {
		d.TotalMessagesPerSec += a.MessagesPerSecond
		if a.MailboxDepth > deepest {
			deepest, d.Busiest = a.MailboxDepth, fmt.Sprintf("%s (%d queued)", a.ID, a.MailboxDepth)
		}
	}
	return d
}

// HumanBytes renders a byte count in binary units ("1.5 MiB"), as the debug page and
// `chronik-node status` show sizes.
func HumanBytes(b int64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%d B", b)
	}
	div, exp := int64(unit), 0
	for v := b / unit; v >= unit; v /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(b)/float64(div), "KMGTPE"[exp])
}

func joinIDs(ids []int32) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.Itoa(int(id))
	}
	return strings.Join(parts, ",")
}
