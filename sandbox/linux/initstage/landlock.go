//go:build linux

package initstage

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// onlyLoopback fails unless the network namespace the stage runs in has
// no interface but lo: the sandbox's network is the bridge alone, and a
// namespace that is not its own (a bwrap mistake, a missing
// --unshare-net) must not run the command.
func onlyLoopback() error {
	b, err := os.ReadFile("/proc/self/net/dev")
	if err != nil {
		return fmt.Errorf("network namespace: %w", err)
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 3 {
		return errors.New("network namespace: /proc/self/net/dev is unreadable")
	}
	for _, l := range lines[2:] {
		name, _, ok := strings.Cut(l, ":")
		if name = strings.TrimSpace(name); ok && name != "lo" {
			return fmt.Errorf("network namespace: interface %s besides lo: not the sandbox's own namespace", name)
		}
	}
	return nil
}
