package wire

import "time"

// idleDeadline arms a socket deadline idle from now, but skips re-arming when the armed
// deadline is already within slack of that: setting a deadline costs a timer update per
// call, which showed up in the pipelined benchmark. The effective timeout therefore lies
// between idle-slack and idle.
type idleDeadline struct {
	idle  time.Duration
	slack time.Duration
	until time.Time
	set   func(time.Time) error
}

func newIdleDeadline(idle time.Duration, set func(time.Time) error) *idleDeadline {
	return &idleDeadline{idle: idle, slack: min(idle/16, time.Second), set: set}
}

// arm pushes the deadline to idle from now; a no-op when the timeout is disabled.
func (d *idleDeadline) arm() {
	if d.idle <= 0 {
		return
	}
	want := time.Now().Add(d.idle)
	if want.Sub(d.until) < d.slack {
		return
	}
	d.until = want
	_ = d.set(want)
}
