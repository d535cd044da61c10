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
	if os.Getenv(childVar) != "" {
		os.Exit(captureChild())
	}
	os.Exit(m.Run())
}

// captureChild is a proxy-unaware program under the connect filter: it
// resolves a name with whatever DNS server it likes and connects straight
// to the answer, as programs that ignore proxy variables do.
func captureChild() int {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		fmt.Println("no_new_privs:", err)
		return 1
	}
	f, err := InstallConnectFilter()
	if err != nil {
		fmt.Println(err)
		return 1
	}
	ctl := os.NewFile(3, "ctl")
	if err := unix.Sendmsg(int(ctl.Fd()), []byte("fd"), unix.UnixRights(int(f.Fd())), nil, 0); err != nil {
		fmt.Println("handing the listener over:", err)
		return 1
	}
	f.Close()
	ctl.Close()
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

func TestConnectCapture(t *testing.T) {
	fp := newFakeProxy(t, "api.example.com:8443")
	pool, _ := NewPool(DefaultPool)
	dnsConn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go pool.ServeDNS(ctx, dnsConn)

	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	parent, child := os.NewFile(uintptr(pair[0]), "parent"), os.NewFile(uintptr(pair[1]), "child")
	defer parent.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childVar+"=1")
	cmd.ExtraFiles = []*os.File{child}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	child.Close()
	buf, oob := make([]byte, 16), make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(int(parent.Fd()), buf, oob, 0)
	if err != nil || oobn == 0 {
		cmd.Wait()
		t.Fatalf("no listener from the child (%v):\n%s", err, out.String())
	}
	msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil {
		t.Fatal(err)
	}
	sup := &Supervisor{
		Pool: pool,
		DNS:  dnsConn.LocalAddr().(*net.UDPAddr),
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
	got := out.String()
	for _, w := range []string{"resolved 198.18.", `8443 got "hello" <nil>`, "stray refused", "loopback ok"} {
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
