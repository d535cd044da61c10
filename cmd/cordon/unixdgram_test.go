//go:build linux

package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dgramClient tries every way to reach a datagram unix socket on the host
// (argv[1]) or to make a socket name (argv[2]); each line is NAME=RESULT.
// The stream pair lines are the positive control: what Node, Python and Go
// need for child pipes keeps working.
const dgramClient = pyTry + `
import socket, sys
target, name = sys.argv[1], sys.argv[2]
def pair_send(kind):
    a, b = socket.socketpair(socket.AF_UNIX, kind)
    a.sendto(b"pwned-pair", target)
t("dgram-pair", lambda: pair_send(socket.SOCK_DGRAM))
t("seqpacket-pair", lambda: pair_send(socket.SOCK_SEQPACKET))
t("dgram-socket", lambda: socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"pwned-socket", target))
a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
def stream():
    a.sendall(b"ping")
    assert b.recv(4) == b"ping"
t("stream-pair", stream)
t("stream-sendto", lambda: a.sendto(b"pwned-stream", target))
t("stream-bind", lambda: a.bind(name))
`

// TestAttackDatagramSocketpair: a datagram or seqpacket socketpair end
// can send to any pathname datagram socket it can see (journald,
// /dev/log, systemd's notify socket): refused, like socket(AF_UNIX); a
// stream pair still works but cannot send to an address or bind a name.
func TestAttackDatagramSocketpair(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		sock := filepath.Join(e.home, "dgram.sock")
		srv, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		os.Chmod(sock, 0o777)
		got := make(chan string, 16)
		go func() {
			buf := make([]byte, 256)
			for {
				n, _, err := srv.ReadFrom(buf)
				if err != nil {
					return
				}
				got <- string(buf[:n])
			}
		}()
		name := filepath.Join(e.ws, "bound.sock")
		// Positive control: from the host, as the same user, the same
		// client reaches the server.
		host := exec.Command("/usr/bin/python3", "-c", dgramClient, sock, filepath.Join(e.home, "host-bound.sock"))
		if e.user != nil {
			host.SysProcAttr = &syscall.SysProcAttr{Credential: e.user.Credential()}
		}
		if out, err := host.CombinedOutput(); err != nil || !strings.Contains(string(out), "dgram-pair=ok") {
			t.Fatalf("on the host the client does not reach the server (no positive control): %v\n%s", err, out)
		}
		drain(got, 3)

		r := e.cordon("", "run", "--", "python3", "-c", dgramClient, sock, name)
		res := results(r.stdout)
		for k, want := range map[string]string{
			"dgram-pair": "EPERM", "seqpacket-pair": "EPERM", "dgram-socket": "EPERM",
			"stream-pair": "ok", "stream-sendto": "EISCONN", "stream-bind": "EACCES",
		} {
			if res[k] != want {
				t.Errorf("%s = %q, want %q (stdout %q, stderr %q)", k, res[k], want, r.stdout, r.stderr)
			}
		}
		select {
		case m := <-got:
			t.Errorf("the host's datagram socket received %q from inside", m)
		case <-time.After(100 * time.Millisecond):
		}
		e.mustNotExist(name)
	})
}

// drain takes n messages from c, failing after a second.
func drain(c chan string, n int) {
	for i := 0; i < n; i++ {
		select {
		case <-c:
		case <-time.After(time.Second):
			return
		}
	}
}
