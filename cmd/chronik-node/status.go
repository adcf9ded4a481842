package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/chronik/chronik-node/actors"
	"github.com/chronik/chronik-node/cmd/chronik-node/config"
)

// defaultStatusAddr is where `status` looks without --addr: the default debug.listener.
const defaultStatusAddr = "127.0.0.1:9644"

// statusTimeout bounds each request to the node, so a hung node fails the command
// instead of hanging the operator's shell.
const statusTimeout = 5 * time.Second

// statusCommand implements `chronik-node status [--addr HOST:PORT | --config FILE]`: a
// one-screen summary of a running node, read from its debug JSON endpoints. It exits 1
// when the node cannot be reached or answers something unexpected.
func statusCommand(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("chronik-node status", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "", "the node's debug listener, host:port (default "+defaultStatusAddr+")")
	file := fs.String("config", "", "read the debug listener from this config file instead")
	top := fs.Int("top", 5, "how many actors to list by mailbox depth")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "chronik-node status: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	target := *addr
	if *file != "" {
		if target != "" {
			fmt.Fprintln(stderr, "chronik-node status: give --addr or --config, not both")
			return 2
		}
		c, err := config.Load(*file)
		if err != nil {
			fmt.Fprintln(stderr, "chronik-node status:", err)
			return 1
		}
		if c.DebugListener == "" {
			fmt.Fprintf(stderr, "chronik-node status: %s disables the debug listener (debug.listener is empty)\n", *file)
			return 1
		}
		target = dialable(c.DebugListener)
	}
	if target == "" {
		target = defaultStatusAddr
	}
	s, err := fetchStatus(&http.Client{Timeout: statusTimeout}, "http://"+target)
	if err != nil {
		fmt.Fprintf(stderr, "chronik-node status: node at %s: %v\n", target, err)
		return 1
	}
	s.addr = target
	s.print(stdout, *top)
	return 0
}

// dialable turns a listen address into one to connect to: a wildcard host means this
// machine.
func dialable(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// nodeStatus is what the debug endpoints said.
type nodeStatus struct {
	addr       string
	raft       actors.RaftStatus
	actors     []actors.ActorStat
	partitions []actors.PartitionView
	groups     []statusGroup
	groupsOK   bool // false when the node has no /debug/groups
}

// statusGroup is the part of a /debug/groups entry the summary shows.
type statusGroup struct {
	Group string `json:"group"`
	State string `json:"state"`
}

func fetchStatus(client *http.Client, base string) (*nodeStatus, error) {
	s := &nodeStatus{}
	if err := getJSON(client, base+"/debug/raft", &s.raft); err != nil {
		return nil, err
	}
	var actorsDoc struct {
		Actors []actors.ActorStat `json:"actors"`
	}
	if err := getJSON(client, base+"/debug/actors", &actorsDoc); err != nil {
		return nil, err
	}
	s.actors = actorsDoc.Actors
	var partsDoc struct {
		Partitions []actors.PartitionView `json:"partitions"`
	}
	if err := getJSON(client, base+"/debug/partitions", &partsDoc); err != nil {
		return nil, err
	}
	s.partitions = partsDoc.Partitions
	groups, err := fetchGroups(client, base+"/debug/groups")
	if err != nil && !errors.Is(err, errNotFound) {
		return nil, err
	}
	s.groups, s.groupsOK = groups, err == nil
	return s, nil
}

var errNotFound = errors.New("not found")

// fetchGroups reads /debug/groups, which holds either a list of groups or an object
// with a "groups" list; a node without consumer groups answers 404 (errNotFound).
func fetchGroups(client *http.Client, url string) ([]statusGroup, error) {
	var raw json.RawMessage
	if err := getJSON(client, url, &raw); err != nil {
		return nil, err
	}
	var list []statusGroup
	if err := json.Unmarshal(raw, &list); err == nil {
		return list, nil
	}
	var doc struct {
		Groups []statusGroup `json:"groups"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("GET %s: want a list of groups or {\"groups\": [...]}: %w", url, err)
	}
	return doc.Groups, nil
}

func getJSON(client *http.Client, url string, v any) error {
	resp, err := client.Get(url)
	if err != nil {
		return fmt.Errorf("unreachable: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return fmt.Errorf("GET %s: %w", url, errNotFound)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(v); err != nil {
		return fmt.Errorf("GET %s: decode: %w", url, err)
	}
	return nil
}

// print writes the one-screen summary.
func (s *nodeStatus) print(w io.Writer, top int) {
	r := s.raft
	fmt.Fprintf(w, "chronik-node %d at %s\n\n", r.NodeID, s.addr)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "raft\t%s, term %d, leader %d, commit %d, applied %d\n", r.State, r.Term, r.Leader, r.CommitIndex, r.AppliedIndex)
	fmt.Fprintf(tw, "\tstorage %s, snapshot at %d, log %d entries (%s), %d leader changes, %d proposals pending\n",
		r.StorageMode, r.SnapshotIndex, r.LogEntries, actors.HumanBytes(r.LogBytes), r.LeaderChanges, r.ProposalsPending)
	if r.MetadataDiskFull {
		fmt.Fprintf(tw, "\tMETADATA DISK FULL: metadata changes are refused until there is space\n")
	}

	var size int64
	led, under, open, fenced := 0, 0, 0, 0
	for _, p := range s.partitions {
		size += p.SizeBytes
		if p.Open {
			open++
		}
		if p.WritesFenced != "" {
			fenced++
		}
		if p.Leader {
			led++
			if len(p.ISR) < len(p.Replicas) {
				under++
			}
		}
	}
	fmt.Fprintf(tw, "partitions\t%d (%d led here, %d open, %d under-replicated), %s on disk\n", len(s.partitions), led, open, under, actors.HumanBytes(size))
	if fenced > 0 {
		fmt.Fprintf(tw, "\t%d FENCED: an fsync of their log failed; they take no writes until the broker restarts\n", fenced)
	}

	var rate float64
	var restarts uint64
	for _, a := range s.actors {
		rate += a.MessagesPerSecond
		restarts += a.Restarts
	}
	fmt.Fprintf(tw, "actors\t%d live, %.1f msg/s, %d restarts\n", len(s.actors), rate, restarts)
	if s.groupsOK {
		fmt.Fprintf(tw, "groups\t%d%s\n", len(s.groups), groupStates(s.groups))
	} else {
		fmt.Fprintf(tw, "groups\tnot available on this node\n")
	}
	tw.Flush()

	busiest := append([]actors.ActorStat(nil), s.actors...)
	sort.SliceStable(busiest, func(i, j int) bool {
		if busiest[i].MailboxDepth != busiest[j].MailboxDepth {
			return busiest[i].MailboxDepth > busiest[j].MailboxDepth
		}
		return busiest[i].MessagesPerSecond > busiest[j].MessagesPerSecond
	})
	if len(busiest) > 0 && top > 0 {
		fmt.Fprintf(w, "\nbusiest actors (by mailbox depth, then msg/s)\n")
		fmt.Fprintf(w, "  %7s  %9s  %8s  %s\n", "mailbox", "msg/s", "restarts", "actor")
		for _, a := range busiest[:min(top, len(busiest))] {
			fmt.Fprintf(w, "  %7d  %9.1f  %8d  %s\n", a.MailboxDepth, a.MessagesPerSecond, a.Restarts, a.ID)
		}
	}

	var failed []actors.ActorStat
	for _, a := range s.actors {
		if a.Restarts > 0 {
			failed = append(failed, a)
		}
	}
	if len(failed) > 0 {
		fmt.Fprintf(w, "\nrestarted actors\n")
		for _, a := range failed {
			fmt.Fprintf(w, "  %s: %d restarts, last at %s: %s\n", a.ID, a.Restarts, a.LastPanicAt.Format(time.RFC3339), firstLine(a.LastPanic))
		}
	}
}

func groupStates(groups []statusGroup) string {
	if len(groups) == 0 {
		return ""
	}
	count := map[string]int{}
	for _, g := range groups {
		count[g.State]++
	}
	states := make([]string, 0, len(count))
	for st, n := range count {
		states = append(states, fmt.Sprintf("%s %d", st, n))
	}
	sort.Strings(states)
	return " (" + strings.Join(states, ", ") + ")"
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}
