//go:build !linux

package proc

import "syscall"

// sysProcAttr gives the child its own process group if asked. Outside
// Linux there is no parent-death signal: stop processes explicitly.
func sysProcAttr(ownGroup bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: ownGroup}
}

// exited reports whether process pid is gone (signal 0 probes it).
func exited(pid int) bool {
	return syscall.Kill(pid, 0) != nil
}
