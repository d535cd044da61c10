//go:build linux

package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// BenchmarkNetPath is issue 3's pair of network figures, each against its
// baseline in the same iteration, so machine load affects both alike:
//
//   - download-ratio: curl's download speed for 1 GiB from a host loopback
//     server, from inside the sandbox through the bridge and an HTTP
//     CONNECT tunnel of the run's proxy, divided by the same curl run
//     directly on the host (target >= 0.5);
//   - connect-added-µs: median time to a usable tunnel (CONNECT through the
//     bridge and proxy, then the server's first byte) from inside, minus
//     the median plain TCP connect and first byte on the host (target <= 1000).
func BenchmarkNetPath(b *testing.B) {
	const size = 1 << 30
	dl := benchDownloadServer(b, size)
	banner := benchBannerServer(b)
	nc := netclient(b)

	home := b.TempDir()
	pol := filepath.Join(home, ".config", "cordon", "sandbox.toml")
	os.MkdirAll(filepath.Dir(pol), 0o755)
	rules := fmt.Sprintf("[network]\nallow = [\"127.0.0.1:%d\", \"127.0.0.1:%d\"]\nunknown = \"deny\"\n", dl, banner)
	if err := os.WriteFile(pol, []byte(rules), 0o644); err != nil {
		b.Fatal(err)
	}
	ws := b.TempDir()
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"XDG_STATE_HOME=" + filepath.Join(home, ".local", "state"), "PATH=" + os.Getenv("PATH")}
	sandboxed := func(script string) string {
		cmd := exec.Command(cordonBin, "run", "-w", ws, "-c", script)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("cordon run %q: %v: %s", script, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	host := func(name string, args ...string) string {
		out, err := exec.Command(name, args...).Output()
		if err != nil {
			b.Fatalf("%s %v: %v: %s", name, args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	num := func(s string) float64 {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			b.Fatalf("not a number: %q", s)
		}
		return f
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/", dl)
	target := fmt.Sprintf("127.0.0.1:%d", banner)
	var ratio, added, direct, through float64
	for b.Loop() {
		d := num(host("curl", "-sS", "--noproxy", "*", "-o", "/dev/null", "-w", "%{speed_download}", url))
		s := num(sandboxed(`curl -sS --noproxy '' -p -x "http://$CORDON_PROXY" -o /dev/null -w '%{speed_download}' ` + url))
		ratio += s / d
		direct += d
		through += s
		base := num(host(nc, "dial-latency", target, "300"))
		tun := num(sandboxed(nc + " connect-latency " + target + " 300"))
		added += tun - base
	}
	n := float64(b.N)
	b.ReportMetric(ratio/n, "download-ratio")
	b.ReportMetric(direct/n/1e6, "direct-MB/s")
	b.ReportMetric(through/n/1e6, "sandbox-MB/s")
	b.ReportMetric(added/n, "connect-added-µs")
}

// benchDownloadServer serves size bytes from memory on the host's
// loopback, writing straight to the socket (no HTTP library buffering) so
// the server is never what limits the figure.
func benchDownloadServer(b *testing.B, size int64) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	chunk := make([]byte, 4<<20)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				if _, err := http.ReadRequest(br); err != nil {
					return
				}
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", size)
				for left := size; left > 0; {
					n := min(left, int64(len(chunk)))
					if _, err := c.Write(chunk[:n]); err != nil {
						return
					}
					left -= n
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

// benchBannerServer writes one byte to each connection and closes it.
func benchBannerServer(b *testing.B) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte{'+'})
			c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}
