package main

import (
	"context"
	"fmt"
	"syscall"
	"time"
)

// cpuUsage is the CPU a phase took, in cores (CPU seconds per wall second): the load
// generator's process (which includes kfake when that is the target) and the broker's
// own process when it has one.
type cpuUsage struct {
	self     float64
	broker   float64
	brokerOK bool
	// steal is the time the hypervisor took the VM's vCPUs away during the phase, and
	// stealPeak the most of it within any 100 ms (stealOK: the kernel reports it).
	steal, stealPeak time.Duration
	stealOK          bool
	// slowNode counts the broker's Produce requests that took more than 10 ms inside it
	// (slowNodeOK: the broker reports it; chronik-node does).
	slowNode, nodeProduces uint64
	slowNodeOK             bool
}

func (u cpuUsage) String() string {
	var out string
	if !u.brokerOK {
		out = fmt.Sprintf("cpu(client+broker)=%.2f", u.self)
	} else {
		out = fmt.Sprintf("cpu(client)=%.2f cpu(broker)=%.2f", u.self, u.broker)
	}
	if u.slowNodeOK {
		out += fmt.Sprintf(" node>10ms=%d/%d", u.slowNode, u.nodeProduces)
	}
	if u.stealOK {
		out += fmt.Sprintf(" steal=%dms(peak %dms/100ms)", u.steal.Milliseconds(), u.stealPeak.Milliseconds())
	}
	return out
}

type usageMeter struct {
	t              target
	self0, broker0 time.Duration
	brokerOK       bool
	steal          *stealSampler
	slow0, total0  uint64
	slowOK         bool
}

func startUsage(t target) usageMeter {
	m := usageMeter{t: t, self0: selfCPU(), steal: startSteal()}
	if rc, ok := t.(requestCounter); ok {
		var err error
		m.slow0, m.total0, err = rc.slowProduces(context.Background())
		m.slowOK = err == nil
	}
	m.broker0, m.brokerOK = t.CPU()
	return m
}

func (m usageMeter) stop(elapsed time.Duration) cpuUsage {
	u := cpuUsage{self: float64(selfCPU()-m.self0) / float64(elapsed)}
	if b, ok := m.t.CPU(); ok && m.brokerOK {
		u.broker, u.brokerOK = float64(b-m.broker0)/float64(elapsed), true
	}
	u.steal, u.stealPeak, u.stealOK = m.steal.finish()
	if rc, ok := m.t.(requestCounter); ok && m.slowOK {
		if slow, total, err := rc.slowProduces(context.Background()); err == nil {
			u.slowNode, u.nodeProduces, u.slowNodeOK = slow-m.slow0, total-m.total0, true
		}
	}
	return u
}

// selfCPU is this process's user and system time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
