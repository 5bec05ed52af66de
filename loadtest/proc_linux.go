package loadtest

import "syscall"

// dieWithParent makes a child process die with the load test, so that nothing outlives it.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
