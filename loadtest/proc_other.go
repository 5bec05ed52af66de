//go:build !linux

package loadtest

import "syscall"

func dieWithParent() *syscall.SysProcAttr { return nil }
