package proc

import (
	"fmt"
	"os"
	"strings"
	"syscall"
)

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

// exited reports whether process pid is gone or a zombie. A zombie
// counts as exited: an adopted process's parent (init in a container,
// which may not reap) is not the caller, and kill(pid, 0) succeeds on a
// zombie.
func exited(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	st := string(b)
	f := strings.Fields(st[strings.LastIndexByte(st, ')')+1:])
	return len(f) == 0 || f[0] == "Z" || f[0] == "X"
}
