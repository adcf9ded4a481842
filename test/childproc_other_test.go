//go:build !linux

package test

import "syscall"

// nodeProcAttr: only Linux can tie a child's life to its parent's; elsewhere a killed
// test run leaves its nodes running.
func nodeProcAttr() *syscall.SysProcAttr { return nil }
