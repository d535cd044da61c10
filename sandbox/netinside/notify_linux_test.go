//go:build linux

package netinside

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const childVar = "NETINSIDE_CAPTURE_CHILD"

func TestMain(m *testing.M) {
	switch os.Getenv(childVar) {
	case "":
	case "exec":
		os.Exit(captureExec(os.Args[1:]))
	default:
		os.Exit(captureChild())
	}
	os.Exit(m.Run())
}

// handOver is the init's part: make the capture listener and the DNS
// socket on this network namespace's loopback, install the filter, and
// pass all three to the supervisor on fd 3.
func handOver() error {
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return err
	}
	pc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return err
	}
	lf, _ := ln.File()
	pf, _ := pc.File()
	ln.Close()
	pc.Close()
	f, err := InstallConnectFilter()
	if err != nil {
		return err
	}
	if err := unix.Sendmsg(3, []byte("fd"), unix.UnixRights(int(f.Fd()), int(lf.Fd()), int(pf.Fd())), nil, 0); err != nil {
		return fmt.Errorf("handing over: %w", err)
	}
	unix.Close(3)
	f.Close()
	lf.Close()
	pf.Close()
	return nil
}

// captureExec is what the sandbox's init would do: install the filter,
// hand the listener over on fd 3, exec the command.
func captureExec(argv []string) int {
	if err := handOver(); err != nil {
		fmt.Println(err)
		return 1
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		fmt.Println(err)
		return 127
	}
	err = unix.Exec(path, argv, os.Environ())
	fmt.Println("exec:", err)
	return 126
}

// captureChild is a proxy-unaware program under the connect filter: it
// resolves a name with whatever DNS server it likes and connects straight
// to the answer, as programs that ignore proxy variables do.
func captureChild() int {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fmt.Println("no_new_privs:", err)
		return 1
	}
	if err := handOver(); err != nil {
		fmt.Println(err)
		return 1
	}
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", "192.0.2.53:53") // TEST-NET-1: only the capture answers
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addrs, err := r.LookupHost(ctx, "api.example.com")
	if err != nil || len(addrs) == 0 {
		fmt.Println("lookup:", addrs, err)
		return 1
	}
	fmt.Println("resolved", addrs[0])
	for _, port := range []string{"8443", "22"} {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(addrs[0], port), 5*time.Second)
		if err != nil {
			fmt.Println(port, "dial:", err)
			continue
		}
		io.WriteString(c, "hello")
		c.(*net.TCPConn).CloseWrite()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, err := io.ReadAll(c)
		c.Close()
		fmt.Printf("%s got %q %v\n", port, b, err)
	}
	if _, err := net.DialTimeout("tcp", "198.19.0.9:443", 5*time.Second); err != nil {
		fmt.Println("stray refused")
	}
	// Loopback connects are untouched.
	ln, _ := net.Listen("tcp4", "127.0.0.1:0")
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		fmt.Println("loopback ok")
		c.Close()
	}
	return 0
}

// TestConnectCaptureInBwrap: a proxy-unaware program (python's socket
// module through glibc's resolver and /etc/resolv.conf) inside real
// bubblewrap with its own network namespace reaches an allowed name, by
// name, on a port of its choosing, and nothing else.
func TestConnectCaptureInBwrap(t *testing.T) {
	if _, err := exec.LookPath("bwrap"); err != nil {
		t.Fatalf("bubblewrap is required (apt-get install -y bubblewrap): %v", err)
	}
	fp := newFakeProxy(t, "api.example.com:8443")
	script := `import socket
for port in (8443, 2222):
    try:
        s = socket.create_connection(("api.example.com", port), timeout=5)
        s.sendall(b"hello"); s.shutdown(socket.SHUT_WR)
        print(port, "got", s.recv(100))
    except OSError as e:
        print(port, "failed", e)
try:
    socket.create_connection(("1.1.1.1", 80), timeout=3); print("direct reached")
except OSError as e:
    print("direct failed", e)
# A captured DNS socket stays in the sandbox's namespace: sendto another
# address on it reaches nothing.
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.connect(("192.0.2.53", 53))
try:
    u.sendto(b"x", ("1.1.1.1", 53)); print("udp escaped")
except OSError as e:
    print("udp failed", e)
`
	out := runCaptured(t, fp, []string{"bwrap", "--unshare-user", "--unshare-net", "--unshare-pid", "--die-with-parent",
		"--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--", os.Args[0], "python3", "-c", script}, "exec")
	for _, w := range []string{"8443 got b'hello'", "2222 failed [Errno 111] Connection refused", "direct failed", "udp failed [Errno 101]"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q", w)
		}
	}
	if qs := fp.questions(); len(qs) != 2 || qs[0] != "api.example.com:8443" || qs[1] != "api.example.com:2222" {
		t.Errorf("the proxy was asked %v, want api.example.com on 8443 then 2222", qs)
	}
}

func TestConnectCapture(t *testing.T) {
	fp := newFakeProxy(t, "api.example.com:8443")
	got := runCaptured(t, fp, []string{os.Args[0], "-test.run=^$"}, "1")
	for _, w := range []string{"resolved 198.18.", `8443 got "hello" <nil>`, "22 dial: ", "connection refused", "stray refused", "loopback ok"} {
		if !strings.Contains(got, w) {
			t.Errorf("child output lacks %q", w)
		}
	}
	if strings.Contains(got, `22 got "hello"`) {
		t.Error("port 22, which the proxy refused, was relayed")
	}
	qs := fp.questions()
	if len(qs) != 2 || qs[0] != "api.example.com:8443" || qs[1] != "api.example.com:22" {
		t.Errorf("the proxy was asked %v, want api.example.com on 8443 then 22 (by name, not address)", qs)
	}
}

// runCaptured runs argv (whose first filtered process hands its seccomp
// listener over on fd 3) under a Supervisor and returns its output.
func runCaptured(t *testing.T, fp *fakeProxy, argv []string, mode string) string {
	t.Helper()
	pool, _ := NewPool(DefaultPool)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	parent, child := os.NewFile(uintptr(pair[0]), "parent"), os.NewFile(uintptr(pair[1]), "child")
	defer parent.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), childVar+"="+mode)
	cmd.ExtraFiles = []*os.File{child}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	child.Close()
	buf, oob := make([]byte, 16), make([]byte, unix.CmsgSpace(3*4))
	_, oobn, _, _, err := unix.Recvmsg(int(parent.Fd()), buf, oob, 0)
	if err != nil || oobn == 0 {
		cmd.Wait()
		t.Fatalf("nothing handed over by the child (%v):\n%s", err, out.String())
	}
	msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 3 {
		t.Fatalf("handed over %v (%v)", fds, err)
	}
	lnf, pcf := os.NewFile(uintptr(fds[1]), "capture"), os.NewFile(uintptr(fds[2]), "dns")
	ln, err := net.FileListener(lnf)
	lnf.Close()
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.FilePacketConn(pcf)
	pcf.Close()
	if err != nil {
		t.Fatal(err)
	}
	go pool.ServeDNS(ctx, pc)
	sup := &Supervisor{
		Pool:     pool,
		Listener: ln.(*net.TCPListener),
		DNS:      pc.LocalAddr().(*net.UDPAddr).AddrPort(),
		DialProxy: func(ctx context.Context) (*net.UnixConn, error) {
			return net.DialUnix("unix", nil, &net.UnixAddr{Name: fp.sock, Net: "unix"})
		},
	}
	served := make(chan error, 1)
	go func() { served <- sup.Serve(ctx, os.NewFile(uintptr(fds[0]), "notify")) }()
	err = cmd.Wait()
	t.Logf("child (%v):\n%s", err, out.String())
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("Serve did not end when the filtered process did")
	}
	return out.String()
}
