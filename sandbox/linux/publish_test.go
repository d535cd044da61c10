//go:build linux

package linux

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/cordon-dev/cordon/sandbox/linux/initstage"
	"github.com/cordon-dev/cordon/sandbox/sandboxtest"
	"golang.org/x/sys/unix"
)

// The connector runs inside the sandbox, so what it hands over is the
// command's to choose. The host connects only a TCP socket of the
// sandbox's own network namespace: a unix socket (whose address the host
// would resolve in its own filesystem), a socket of another namespace (the
// host's), a missing or doubled descriptor are each refused. The positive
// control is the same exchange with the right socket.
func TestConnectorRefusesForeignSockets(t *testing.T) {
	mine := func(t *testing.T, family, typ int) int {
		fd, err := unix.Socket(family, typ|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		return fd
	}
	ref := mine(t, unix.AF_INET, unix.SOCK_STREAM)
	defer unix.Close(ref)
	here, err := socketNetns(ref)
	if err != nil {
		if os.Geteuid() == 0 {
			t.Fatalf("SIOCGSKNS as root: %v", err)
		}
		sandboxtest.Skip(t, fmt.Sprintf("not root: SIOCGSKNS needs CAP_NET_ADMIN over this namespace (%v); CI runs it as root", err))
	}
	for _, tc := range []struct {
		name  string
		netns nsID
		send  func(t *testing.T) []int
		want  string // "" accepted
	}{
		{"tcp of the sandbox (control)", here, func(t *testing.T) []int { return []int{mine(t, unix.AF_INET, unix.SOCK_STREAM)} }, ""},
		{"unix socket", here, func(t *testing.T) []int { return []int{mine(t, unix.AF_UNIX, unix.SOCK_STREAM)} }, "not a TCP socket"},
		{"udp socket", here, func(t *testing.T) []int { return []int{mine(t, unix.AF_INET, unix.SOCK_DGRAM)} }, "not a TCP socket"},
		{"ipv6 for ipv4", here, func(t *testing.T) []int { return []int{mine(t, unix.AF_INET6, unix.SOCK_STREAM)} }, "not a TCP socket"},
		{"another namespace", nsID{here.dev, here.ino + 1}, func(t *testing.T) []int { return []int{mine(t, unix.AF_INET, unix.SOCK_STREAM)} }, "another network namespace"},
		{"no descriptor", here, func(t *testing.T) []int { return nil }, "no socket"},
		{"two descriptors", here, func(t *testing.T) []int {
			return []int{mine(t, unix.AF_INET, unix.SOCK_STREAM), mine(t, unix.AF_INET, unix.SOCK_STREAM)}
		}, "no socket"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer unix.Close(pair[0])
			defer unix.Close(pair[1])
			fds := tc.send(t)
			go func() { // the connector, rewritten by the command
				buf := make([]byte, 1)
				if n, _, _, _, err := unix.Recvmsg(pair[1], buf, nil, 0); err != nil || n != 1 || buf[0] != initstage.ConnectIPv4 {
					return
				}
				var rights []byte
				if len(fds) > 0 {
					rights = unix.UnixRights(fds...)
				}
				unix.Sendmsg(pair[1], buf, rights, nil, 0)
				closeFDs(fds)
			}()
			c := &connector{fd: pair[0], netns: tc.netns}
			fd, err := c.socket(initstage.ConnectIPv4)
			if fd >= 0 {
				unix.Close(fd)
			}
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("the right socket was refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
