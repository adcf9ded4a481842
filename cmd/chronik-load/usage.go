package main

import (
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
}

func (u cpuUsage) String() string {
	if !u.brokerOK {
		return fmt.Sprintf("cpu(client+broker)=%.2f", u.self)
	}
	return fmt.Sprintf("cpu(client)=%.2f cpu(broker)=%.2f", u.self, u.broker)
}

type usageMeter struct {
	t              target
	self0, broker0 time.Duration
	brokerOK       bool
}

func startUsage(t target) usageMeter {
	m := usageMeter{t: t, self0: selfCPU()}
	m.broker0, m.brokerOK = t.CPU()
	return m
}

func (m usageMeter) stop(elapsed time.Duration) cpuUsage {
	u := cpuUsage{self: float64(selfCPU()-m.self0) / float64(elapsed)}
	if b, ok := m.t.CPU(); ok && m.brokerOK {
		u.broker, u.brokerOK = float64(b-m.broker0)/float64(elapsed), true
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
