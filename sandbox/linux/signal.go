//go:build linux

package linux

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// commandGroup finds the sandboxed command below bwrap: the shallowest
// descendant that leads its own session (bwrap's --new-session makes the
// command call setsid before exec, so its process group is its pid). bwrap
// itself and its PID-namespace init stay in cordon's session. It returns
// 0 when the command is not there (not started yet, or gone).
func commandGroup(bwrapPid int) int {
	level := []int{bwrapPid}
	for depth := 0; depth < 4 && len(level) > 0; depth++ {
		var next []int
		for _, pid := range level {
			if pid != bwrapPid && sessionLeader(pid) {
				return pid
			}
			next = append(next, children(pid)...)
		}
		level = next
	}
	return 0
}

func children(pid int) []int {
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	var out []int
	for _, t := range tasks {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", pid, t.Name()))
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// sessionLeader reads the session field of /proc/PID/stat (after the
// parenthesised command name, which may itself hold spaces and parens).
func sessionLeader(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return false
	}
	// Fields after ")": state ppid pgrp session ...
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 4 {
		return false
	}
	sid, err := strconv.Atoi(f[3])
	return err == nil && sid == pid
}

// signalCommand delivers sig to the command's process group inside the
// sandbox, so that a command can handle SIGINT or SIGTERM and clean up.
// When the command cannot be found the signal goes to bwrap, which ends
// the whole run: a request to stop is never dropped.
func signalCommand(bwrap *os.Process, sig os.Signal) error {
	s, ok := sig.(syscall.Signal)
	if ok && s != syscall.SIGKILL {
		if pgid := commandGroup(bwrap.Pid); pgid > 0 {
			err := syscall.Kill(-pgid, s)
			if err == nil || !errors.Is(err, syscall.ESRCH) {
				return err
			}
		}
	}
	return bwrap.Signal(sig)
}
