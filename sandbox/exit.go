package sandbox

import (
	"errors"
	"os/exec"
	"syscall"
)

// ExitStatus reads how a backend's host-side process ended from
// exec.Cmd.Wait's error: its exit code, or 128+N and N for a signal N.
// Any other error (the wait itself failed) is returned as is.
func ExitStatus(waitErr error) (code, signal int, err error) {
	var ee *exec.ExitError
	switch {
	case waitErr == nil:
		return 0, 0, nil
	case errors.As(waitErr, &ee):
		ws, ok := ee.Sys().(syscall.WaitStatus)
		if ok && ws.Signaled() {
			return 128 + int(ws.Signal()), int(ws.Signal()), nil
		}
		return ee.ExitCode(), 0, nil
	}
	return 0, 0, waitErr
}
