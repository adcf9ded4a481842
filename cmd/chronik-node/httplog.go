package main

import (
	"log"
	"strings"

	"github.com/rs/zerolog"
)

// httpErrorLog is the debug HTTP server's ErrorLog: what Go's HTTP server reports (failed
// accepts when the process is out of file descriptors, handler mistakes) goes to the
// node's structured log. Without it the server wrote plain-text lines to stderr through
// the standard library's global logger, among the node's JSON ones.
func httpErrorLog(logger zerolog.Logger) *log.Logger {
	return log.New(httpLogWriter{logger}, "", 0)
}

type httpLogWriter struct{ log zerolog.Logger }

func (w httpLogWriter) Write(p []byte) (int, error) {
	w.log.Warn().Msg(strings.TrimSpace(strings.TrimPrefix(string(p), "http: ")))
	return len(p), nil
}
