//go:build linux

package supervisor

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/cordon-dev/cordon/sandbox"
	"golang.org/x/sys/unix"
)

// ReapArg is the hidden subcommand of the placeholder reaper.
const ReapArg = "__reap"

// StartReaper launches the detached placeholder reaper of the workspace
// whose registry is regDir/key; self is the cordon binary, started again
// as ReapArg. It only matters when cordon dies without cleaning up, so
// failures are logged, not fatal. The returned pipe end is closed when
// the run ends (or by the kernel when cordon dies), which is what the
// reaper waits for.
func StartReaper(logger *slog.Logger, self, regDir, key string) *os.File {
	// The reaper's stdin is a pipe whose write end only this process
	// holds (close-on-exec): EOF tells the reaper cordon is gone.
	r, w, err := os.Pipe()
	if err != nil {
		logger.Warn("placeholder reaper", "err", err)
		return nil
	}
	// A shell waits for the end of the run (EOF on the pipe) and starts
	// the Go reaper only when placeholders are still registered, which
	// after a normal run they are not: the common case costs one small
	// shell, not a second Go process per command.
	registry := filepath.Join(regDir, key+".json")
	cmd := exec.Command("/bin/sh", "-c", `read -r _; [ -e "$1" ] || exit 0; exec "$2" "$3" "$4" "$5"`,
		"cordon-reaper", registry, self, ReapArg, regDir, key)
	cmd.Stdin = r
	cmd.Env = sandbox.HostEnv() // never the command's (see sandbox.HostEnv)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		logger.Warn("placeholder reaper", "err", err)
		r.Close()
		w.Close()
		return nil
	}
	r.Close()
	go cmd.Wait()
	return w
}

// ReapMain is the reaper subcommand: ReapArg REGDIR KEY.
func ReapMain(args []string) int {
	if len(args) != 2 {
		return 2
	}
	if err := Reap(args[0], args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "cordon: reaper:", err)
		return 1
	}
	return 0
}

// Reap waits until its cordon has exited (its standard input, a pipe
// cordon holds, reaches EOF) and then until no run of the workspace is
// alive, and removes the placeholders. cordon starts it detached so that a
// SIGKILLed cordon still leaves nothing behind; waiting for cordon first
// keeps it from taking the lock while runs end normally.
func Reap(regDir, key string) error {
	_, _ = io.Copy(io.Discard, os.Stdin)
	ph := &Placeholders{dir: regDir, key: key}
	var err error
	if ph.setup, ph.alive, err = lockFiles(regDir, key); err != nil {
		return err
	}
	defer ph.closeFiles()
	if err := unix.Flock(int(ph.alive.Fd()), unix.LOCK_EX); err != nil {
		return err
	}
	ph.removeAll()
	return nil
}
