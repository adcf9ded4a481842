package actors

import (
	"fmt"

	"github.com/rs/zerolog"
)

// raftLogger routes etcd raft's logging through zerolog. raft logs every election and
// term change at info, which is what an operator wants to see; its debug output is chatty.
type raftLogger struct{ log zerolog.Logger }

func (l raftLogger) Debug(v ...any)                 { l.log.Debug().Msg(fmt.Sprint(v...)) }
func (l raftLogger) Debugf(format string, v ...any) { l.log.Debug().Msgf(format, v...) }
func (l raftLogger) Info(v ...any)                  { l.log.Info().Msg(fmt.Sprint(v...)) }
func (l raftLogger) Infof(format string, v ...any)  { l.log.Info().Msgf(format, v...) }
func (l raftLogger) Warning(v ...any)               { l.log.Warn().Msg(fmt.Sprint(v...)) }
func (l raftLogger) Warningf(format string, v ...any) {
	l.log.Warn().Msgf(format, v...)
}
func (l raftLogger) Error(v ...any)                 { l.log.Error().Msg(fmt.Sprint(v...)) }
func (l raftLogger) Errorf(format string, v ...any) { l.log.Error().Msgf(format, v...) }

// Fatal and Panic panic instead of exiting: raft calls them on invariant violations, and
// a panic lets the supervisor restart the Raft loop from durable state.
func (l raftLogger) Fatal(v ...any) { l.Panic(v...) }
func (l raftLogger) Fatalf(format string, v ...any) {
	l.Panicf(format, v...)
}
func (l raftLogger) Panic(v ...any) {
	msg := fmt.Sprint(v...)
	l.log.Error().Msg(msg)
	panic(msg)
}
func (l raftLogger) Panicf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.log.Error().Msg(msg)
	panic(msg)
}
