//go:build linux

package initstage

import (
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"

	"github.com/cordon-dev/cordon/sandbox/landlock"
	"golang.org/x/sys/unix"
)

func TestConfigRoundTrip(t *testing.T) {
	c := Config{Network: true, Observe: true, Mirror: []int{3000, 5432}, Memory: 1 << 30, Processes: 64, Self: "/usr/local/bin/cordon",
		Env: 7, Stderr: 8, Guard: true, LoopbackOnly: true,
		Landlock: &landlock.Rules{Writable: []string{"/w"}, ReadDeny: []string{"/home/u/.ssh"}, Scope: true}}
	got, err := DecodeConfig(c.Encode())
	if err != nil || !reflect.DeepEqual(got, c) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for _, bad := range []string{"", "!!", "bm90IGpzb24"} {
		if _, err := DecodeConfig(bad); err == nil {
			t.Errorf("DecodeConfig(%q) accepted", bad)
		}
	}
}

// TestMainRefusesBadArguments: without a hand-off channel or a usable
// configuration the stage fails with 125 (no sandbox), running nothing.
func TestMainRefusesBadArguments(t *testing.T) {
	for _, args := range [][]string{nil, {"CFG"}, {"CFG", "true"}, {"CFG", "x", "true"}, {"!!", "--", "true"}} {
		if code := Main(args); code != 125 {
			t.Errorf("Main(%q) = %d, want 125", args, code)
		}
	}
}

func TestLookPathUsesTheCommandsPath(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "tool")
	os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755)
	os.WriteFile(filepath.Join(dir, "plain"), []byte("x"), 0o644)
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	env := []string{"PATH=/nonexistent", "PATH=" + dir}
	if p, err := lookPath("tool", env); err != nil || p != exe {
		t.Errorf("lookPath(tool) = %q, %v", p, err)
	}
	for _, name := range []string{"plain", "sub", "missing"} {
		if _, err := lookPath(name, env); err == nil {
			t.Errorf("lookPath(%s) found something", name)
		}
	}
	if p, _ := lookPath("./rel/x", env); p != "./rel/x" {
		t.Errorf("a path with a slash was looked up: %q", p)
	}
}

// TestOpenBridge: the listeners are real, on loopback only, in the
// order the host expects; a mirror port already taken fails the stage
// rather than leaving the port to whoever holds it.
func TestOpenBridge(t *testing.T) {
	mirror := freePort(t)
	msg, fds, err := openBridge(Config{Network: true, Observe: true, Mirror: []int{mirror}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	if msg.Proxy == 0 || !msg.Capture || len(msg.Mirror) == 0 || msg.Mirror[0] != mirror {
		t.Fatalf("hand-off %+v", msg)
	}
	// proxy, mirror (IPv4, maybe IPv6), capture listener, DNS socket
	if want := 3 + len(msg.Mirror); len(fds) != want {
		t.Fatalf("%d descriptors, want %d", len(fds), want)
	}
	c, err := net.Dial("tcp4", "127.0.0.1:"+strconv.Itoa(msg.Proxy))
	if err != nil {
		t.Fatalf("the proxy listener does not accept: %v", err)
	}
	c.Close()
	for i, fd := range fds {
		sa, err := unix.Getsockname(fd)
		if err != nil {
			t.Fatal(err)
		}
		switch a := sa.(type) {
		case *unix.SockaddrInet4:
			if a.Addr != [4]byte{127, 0, 0, 1} {
				t.Errorf("descriptor %d bound to %v", i, a.Addr)
			}
		case *unix.SockaddrInet6:
			if a.Addr != [16]byte{15: 1} {
				t.Errorf("descriptor %d bound to %v", i, a.Addr)
			}
		default:
			t.Errorf("descriptor %d is a %T", i, sa)
		}
	}
	if typ, _ := unix.GetsockoptInt(fds[len(fds)-1], unix.SOL_SOCKET, unix.SO_TYPE); typ != unix.SOCK_DGRAM {
		t.Errorf("the last descriptor is not the DNS socket (type %d)", typ)
	}

	taken, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := taken.Addr().(*net.TCPAddr).Port
	if _, fds, err := openBridge(Config{Network: true, Mirror: []int{port}}); err == nil || fds != nil {
		t.Errorf("a taken mirror port was accepted (%v, %v)", err, fds)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// FuzzDecodeConfig: whatever the stage is handed on its command line, it
// decodes or refuses it, and what it decodes survives a round trip.
func FuzzDecodeConfig(f *testing.F) {
	f.Add(Config{Network: true, Observe: true, Mirror: []int{3000}, Self: "/usr/bin/cordon"}.Encode())
	f.Add("")
	f.Add("eyJuZXQiOnRydWV9")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := DecodeConfig(s)
		if err != nil {
			return
		}
		again, err := DecodeConfig(c.Encode())
		if err != nil || again.Encode() != c.Encode() {
			t.Fatalf("round trip of %+v: %+v, %v", c, again, err)
		}
	})
}

// The command's environment travels through a descriptor, whole: values
// with '=', newlines and spaces, and an empty environment.
func TestEnvRoundTrip(t *testing.T) {
	for _, env := range [][]string{nil, {"A=1"}, {"PATH=/usr/bin:/bin", "X=a=b", "Y=line1\nline2", "Z=", "W= spaced "}} {
		fd, err := unix.MemfdCreate("env-test", unix.MFD_CLOEXEC)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := unix.Write(fd, EncodeEnv(env)); err != nil {
			t.Fatal(err)
		}
		got, err := readEnv(fd)
		if err != nil || !reflect.DeepEqual(got, env) {
			t.Errorf("round trip of %q: %q, %v", env, got, err)
		}
	}
}
