package test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/net/html"
)

// chromiumPath is Debian's chromium package, which .ci/run installs.
const chromiumPath = "/usr/bin/chromium"

// chromium runs headless Chromium with args and returns its stdout.
func chromium(t *testing.T, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(),
	}
	cmd := exec.CommandContext(ctx, chromiumPath, append(base, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.Bytes()
}

// actorRow is one row of the debug page's actor table as the browser rendered it.
type actorRow struct {
	id, kind                   string
	depth, processed, restarts int64
	rate                       float64
}

// renderedPage is what the test reads from the DOM Chromium dumped.
type renderedPage struct {
	actors     map[string]actorRow
	partitions map[string]bool // topic-partition rows of the partitions table
	refresh    string          // the meta refresh content
	text       string          // all text, for simple presence checks
}

func parseDebugPage(t *testing.T, dom []byte) renderedPage {
	t.Helper()
	root, err := html.Parse(bytes.NewReader(dom))
	if err != nil {
		t.Fatalf("parse the DOM chromium dumped: %v", err)
	}
	p := renderedPage{actors: map[string]actorRow{}, partitions: map[string]bool{}}
	var text strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			text.WriteString(n.Data)
			text.WriteByte(' ')
		}
		if n.Type == html.ElementNode {
			switch {
			case n.Data == "meta" && attr(n, "http-equiv") == "refresh":
				p.refresh = attr(n, "content")
			case n.Data == "tr" && attr(n, "data-actor-id") != "":
				p.actors[attr(n, "data-actor-id")] = readActorRow(t, n)
			case n.Data == "tr" && attr(n, "data-topic") != "":
				p.partitions[attr(n, "data-topic")+"-"+attr(n, "data-partition")] = true
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(root)
	p.text = text.String()
	return p
}

func readActorRow(t *testing.T, tr *html.Node) actorRow {
	t.Helper()
	row := actorRow{id: attr(tr, "data-actor-id"), kind: attr(tr, "data-kind")}
	for td := tr.FirstChild; td != nil; td = td.NextSibling {
		if td.Type != html.ElementNode || td.Data != "td" {
			continue
		}
		value := strings.TrimSpace(textOf(td))
		var err error
		switch class := attr(td, "class"); {
		case strings.Contains(class, "depth"):
			row.depth, err = strconv.ParseInt(value, 10, 64)
		case strings.Contains(class, "processed"):
			row.processed, err = strconv.ParseInt(value, 10, 64)
		case strings.Contains(class, "restarts"):
			row.restarts, err = strconv.ParseInt(value, 10, 64)
		case strings.Contains(class, "rate"):
			row.rate, err = strconv.ParseFloat(value, 64)
		}
		if err != nil {
			t.Fatalf("actor %s: cell %q is not a number: %v", row.id, value, err)
		}
	}
	return row
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

// loadUntilStopped produces to and consumes from topic until stop is closed.
func loadUntilStopped(t *testing.T, n *node, topic string, stop <-chan struct{}) *sync.WaitGroup {
	prod := n.client(kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()), kgo.ProducerLinger(0))
	cons := n.client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(3)
	go func() {
		defer wg.Done()
		<-stop
		cancel()
	}()
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			// Errors here (the context cancelled at the end) are not the subject of
			// this test; the page's counters are.
			prod.ProduceSync(ctx, &kgo.Record{Value: []byte(fmt.Sprintf("load-%d", i))})
		}
	}()
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			cons.PollFetches(ctx)
		}
	}()
	return &wg
}

func TestDebugPageInBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("%s not found (install Debian's chromium package, as .ci/run does): %v", chromiumPath, err)
	}
	n := startNode(t, "")
	const topic, partitions = "browse", 4
	if _, err := n.admin().CreateTopic(testContext(t), partitions, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	load := loadUntilStopped(t, n, topic, stop)
	defer func() {
		close(stop)
		load.Wait()
	}()

	url := "http://" + n.debugAddr + "/debug/"
	var page renderedPage
	deadline := time.Now().Add(60 * time.Second)
	for {
		page = parseDebugPage(t, chromium(t, "--dump-dom", url))
		busy, missing := 0, []string{}
		for p := range partitions {
			id := fmt.Sprintf("node/partitions/%s-%d", topic, p)
			row, ok := page.actors[id]
			switch {
			case !ok || row.processed == 0:
				missing = append(missing, id)
			case row.rate > 0:
				busy++
			}
		}
		// Every partition actor is listed with messages processed, and the load shows
		// as a message rate.
		if len(missing) == 0 && busy > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page never showed all partition actors busy: missing or idle %v, %d with a rate; actors: %+v", missing, busy, page.actors)
		}
		time.Sleep(200 * time.Millisecond)
	}

	for p := range partitions {
		id := fmt.Sprintf("node/partitions/%s-%d", topic, p)
		row := page.actors[id]
		if row.kind != "partition" || row.depth < 0 {
			t.Errorf("actor row %+v", row)
		}
		if !page.partitions[fmt.Sprintf("%s-%d", topic, p)] {
			t.Errorf("partitions table lacks %s-%d", topic, p)
		}
	}
	for _, id := range []string{"node", "node/raft-loop", "node/applier", "node/partitions"} {
		if _, ok := page.actors[id]; !ok {
			t.Errorf("actor tree lacks %s", id)
		}
	}
	if page.refresh == "" {
		t.Error("the page does not refresh itself")
	}
	for _, want := range []string{"StateLeader", "storage mode", "high watermark", "Consumer groups"} {
		if !strings.Contains(page.text, want) {
			t.Errorf("page text lacks %q", want)
		}
	}

	dir, err := filepath.Abs(filepath.Join("output", t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "debug-page.png")
	os.Remove(shot)
	chromium(t, "--screenshot="+shot, "--window-size=1400,1800", "--hide-scrollbars", url+"?refresh=0")
	png, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 10_000 {
		t.Fatalf("screenshot %s is not a rendered PNG (%d bytes)", shot, len(png))
	}
	t.Logf("screenshot of the debug page under load: %s", shot)
}
