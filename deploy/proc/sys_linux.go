package proc

import "syscall"

// sysProcAttr makes the kernel kill the child if the supervisor dies (a
// test binary that panics or times out must not leave servers running on
// a shared machine) and optionally gives it its own process group.
//
// Pdeathsig fires when the OS thread that started the child exits; the
// Go runtime only retires threads whose goroutine locked them, which the
// supervisor never does.
func sysProcAttr(ownGroup bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: ownGroup}
}
