package server

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.lsp.dev/jsonrpc2"

	"github.com/cordon-dev/cordon/server/runner"
	"github.com/cordon-dev/cordon/workspace"
)

func median(ds []time.Duration) time.Duration {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2]
}

// BenchmarkReloadLatency: from the policy file written (by rename, as
// editors save) to the run's policy getter returning the new content,
// with the default debounce.
func BenchmarkReloadLatency(b *testing.B) {
	e := newEnv(b)
	file := filepath.Join(e.root, ".sandbox.toml")
	writeFile(b, file, "[network]\ndeny = [\"d0.example\"]\n")
	getter := make(chan func() *workspace.Policy, 1)
	release := make(chan struct{})
	exe := fakeExec(func(ctx context.Context, req runner.Request) (*runner.Outcome, error) {
		getter <- req.Policy
		select {
		case <-release:
		case <-ctx.Done():
		}
		return &runner.Outcome{}, nil
	})
	c := startServer(b, e, exe, func(o *Options) { o.Debounce = 0 })
	c.initialize(e, nil)
	_, ch := c.send("sandbox/run", map[string]any{"command": "true"})
	get := recv(b, getter, "the run's policy")
	var lat []time.Duration
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		host := fmt.Sprintf("d%d.example", i)
		start := time.Now()
		writeFile(b, file, "[network]\ndeny = [\""+host+"\"]\n")
		for !hasDeny(get(), host) {
			if time.Since(start) > 5*time.Second {
				b.Fatal("reload never seen")
			}
			time.Sleep(200 * time.Microsecond)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	close(release)
	c.wait(ch, 5*time.Second)
	b.ReportMetric(float64(median(lat).Microseconds())/1000, "ms-median")
}

// cordonBinary builds cmd/cordon once into a temp dir, or uses $CORDON.
func cordonBinary(b *testing.B) string {
	if p := os.Getenv("CORDON"); p != "" {
		return p
	}
	out := filepath.Join(b.TempDir(), "cordon")
	cmd := exec.Command("go", "build", "-o", out, "../cmd/cordon")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		b.Fatalf("building cordon: %v", err)
	}
	return out
}

type procConn struct {
	io.Reader
	io.WriteCloser
}

func (p procConn) Close() error { return p.WriteCloser.Close() }

// startLSP runs the real `cordon lsp` on e and returns a client for it.
func startLSP(b *testing.B, bin string, e env) (*testClient, *exec.Cmd) {
	cmd := exec.Command(bin, "lsp")
	cmd.Dir = e.root
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + e.dirs.Home,
		"XDG_CONFIG_HOME=" + filepath.Dir(e.dirs.ConfigDir), "XDG_STATE_HOME=" + filepath.Dir(e.dirs.StateDir)}
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	c := &testClient{t: b, conn: procConn{stdout, stdin}, waiting: map[string]chan *jsonrpc2.Response{}, changed: make(chan struct{}, 1), served: make(chan error, 1)}
	go c.readLoop()
	b.Cleanup(func() { stdin.Close(); _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return c, cmd
}

// BenchmarkRunTrue: the sandbox/run round trip of `true` through the real
// `cordon lsp`, against `cordon run -- true` in the same loop.
func BenchmarkRunTrue(b *testing.B) {
	bin := cordonBinary(b)
	e := newEnv(b)
	c, _ := startLSP(b, bin, e)
	c.initialize(e, nil)
	var viaLSP, viaCLI []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		var res runResult
		if err := c.request("sandbox/run", map[string]any{"command": []string{"true"}}, &res); err != nil || res.ExitCode != 0 {
			b.Fatalf("sandbox/run: %v %+v", err, res)
		}
		viaLSP = append(viaLSP, time.Since(start))
		start = time.Now()
		cli := exec.Command(bin, "run", "-w", e.root, "--", "true")
		cli.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + e.dirs.Home}
		if out, err := cli.CombinedOutput(); err != nil {
			b.Fatalf("cordon run: %v %s", err, out)
		}
		viaCLI = append(viaCLI, time.Since(start))
	}
	b.StopTimer()
	l, r := median(viaLSP), median(viaCLI)
	b.ReportMetric(float64(l.Microseconds())/1000, "ms-lsp-median")
	b.ReportMetric(float64(r.Microseconds())/1000, "ms-cli-median")
	b.ReportMetric(float64(l)/float64(r), "lsp/cli")
}

// BenchmarkIdleRSS: resident memory of an initialized, idle `cordon lsp`.
func BenchmarkIdleRSS(b *testing.B) {
	bin := cordonBinary(b)
	var rss []int
	for i := 0; i < b.N; i++ {
		e := newEnv(b)
		c, cmd := startLSP(b, bin, e)
		c.initialize(e, nil)
		if err := c.request("sandbox/status", nil, nil); err != nil {
			b.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		data, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/status")
		if err != nil {
			b.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.Atoi(f[1])
				rss = append(rss, kb)
			}
		}
	}
	sort.Ints(rss)
	b.ReportMetric(float64(rss[len(rss)/2])/1024, "MB-rss")
}
