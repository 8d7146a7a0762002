//go:build !linux

package benchkit

import osexec "os/exec"

// dieWithParent does nothing where the kernel cannot kill a process when its parent ends.
func dieWithParent(*osexec.Cmd) {}
