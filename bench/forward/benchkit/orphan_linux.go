package benchkit

import (
	osexec "os/exec"
	"syscall"
)

// dieWithParent makes the kernel kill cmd's process when this one ends: a benchmark stopped by
// a time limit (bench/gpu.sh runs bench/train_step under timeout) leaves no measuring process
// running on its own.
func dieWithParent(cmd *osexec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
