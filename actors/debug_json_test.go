package actors

import (
	"errors"
	"net/http"
	"testing"
)

// hungUpWriter is a ResponseWriter whose client has gone: every write fails.
type hungUpWriter struct {
	header   http.Header
	wrote    bool
	statuses []int
}

func (w *hungUpWriter) Header() http.Header { return w.header }
func (w *hungUpWriter) Write(p []byte) (int, error) {
	w.wrote = true
	return 0, errors.New("write: broken pipe")
}
func (w *hungUpWriter) WriteHeader(code int) { w.statuses = append(w.statuses, code) }

// A debug endpoint whose client hangs up mid-answer does not then try to answer 500 on
// the body it already started (Go's HTTP server logs that as a superfluous WriteHeader
// call); a value that cannot be encoded still gets its 500.
func TestWriteJSONAfterTheClientLeft(t *testing.T) {
	w := &hungUpWriter{header: http.Header{}}
	writeJSON(w, map[string]int{"partitions": 8000})
	if len(w.statuses) != 0 {
		t.Fatalf("status codes written after the body failed to go out: %v", w.statuses)
	}

	bad := &hungUpWriter{header: http.Header{}}
	writeJSON(bad, map[string]any{"f": func() {}})
	if len(bad.statuses) != 1 || bad.statuses[0] != http.StatusInternalServerError {
		t.Fatalf("an unencodable value answered status %v, want [500]", bad.statuses)
	}
}
