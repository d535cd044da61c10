//go:build linux

package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/sandbox/sandboxtest"
)

// TestUnixSocketsByPath: allow_unix_sockets lets exactly the named socket
// be connected; another socket on the machine is refused (EACCES), reaches
// nothing and is reported, also when reached through a symbolic link to it
// or by a relative name, as root and as a user.
func TestUnixSocketsByPath(t *testing.T) {
	asBoth(t, func(t *testing.T, e *env) {
		serve := func(name string) (string, <-chan string) {
			p := filepath.Join(e.home, name)
			return p, sandboxtest.UnixServer(t, p)
		}
		allowed, gotAllowed := serve("agent.sock")
		other, gotOther := serve("other.sock")
		e.write(".sandbox.toml", "[network]\nallow_unix_sockets = [\""+allowed+"\"]\n")
		if r := e.cordon("", "trust"); r.code != 0 {
			t.Fatalf("cordon trust: %d %s", r.code, r.stderr)
		}
		r := e.sandboxed(`W=$PWD
cat > c.py <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(sys.argv[1]); s.sendall(b"hello " + sys.argv[2].encode()); print(sys.argv[2], "sent")
except OSError as e:
    print(sys.argv[2], "errno", e.errno)
PY
python3 $W/c.py ` + allowed + ` allowed
python3 $W/c.py ` + other + ` other
ln -s ` + other + ` link.sock && python3 $W/c.py link.sock link
cd ` + e.home + ` && python3 $W/c.py other.sock relative`)
		t.Logf("stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
		for _, w := range []string{"allowed sent\n", "other errno 13\n", "link errno 13\n", "relative errno 13\n"} {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("stdout lacks %q", w)
			}
		}
		select {
		case s := <-gotAllowed:
			if s != "hello allowed" {
				t.Errorf("the named socket got %q", s)
			}
		case <-time.After(5 * time.Second):
			t.Error("the named socket received nothing")
		}
		select {
		case s := <-gotOther:
			t.Errorf("a socket no rule names was reached: %q", s)
		case <-time.After(200 * time.Millisecond):
		}
		if !strings.Contains(r.stderr, "cordon: blocked unix-socket "+other+" ") {
			t.Error("stderr lacks the unix-socket report")
		}
	})
}
