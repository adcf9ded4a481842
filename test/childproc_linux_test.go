package test

import "syscall"

// nodeProcAttr makes a node started by a test die with the test binary: a `go test`
// killed mid-run (^C, a pipe closed by `| head`, a timeout) cannot run its cleanups, and
// its nodes used to live on, holding ports and data directories.
func nodeProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
