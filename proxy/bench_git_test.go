package proxy

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	gitproxy "github.com/cordon-dev/cordon/proxy/git"
	"github.com/cordon-dev/cordon/proxy/git/gittest"
	"github.com/cordon-dev/cordon/workspace"
)

// BenchmarkGitClone clones a repository of 500 files from git http-backend:
// directly (the credential in the URL) and through cordon's git proxy (the
// credential from the host's helper). The proxy's cost is the difference
// of the medians.
func BenchmarkGitClone(b *testing.B) {
	srv := gittest.NewServer(b, "bob", "pw")
	url := srv.Repo(b, "big")
	work := b.TempDir()
	gittest.Run(b, "", "clone", "-q", filepath.Join(srv.Root, "big.git"), work)
	for i := 0; i < 500; i++ {
		os.WriteFile(filepath.Join(work, fmt.Sprintf("f%03d.txt", i)), []byte(strings.Repeat(fmt.Sprintf("line %d\n", i), 200)), 0o644)
	}
	gittest.Run(b, work, "add", ".")
	gittest.Run(b, work, "commit", "-q", "-m", "files")
	gittest.Run(b, work, "push", "-q", "origin", "main")
	b.Setenv("HOME", srv.CredentialHome(b))

	pol := policy(b, fmt.Sprintf("[git]\nremotes = [%q]\n", url))
	s, err := NewSession(context.Background(), Config{RunID: "b", Command: "git", Policy: func() *workspace.Policy { return pol }, Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	front := tcpFront(b, s)
	direct := strings.Replace(url, "http://", "http://bob:pw@", 1)
	for _, tc := range []struct {
		name, url string
		env       []string
	}{
		{"direct", direct, gittest.Env()},
		{"cordon", url, gitproxy.Env(append(gittest.Env(), "http_proxy=http://"+front, "no_proxy="), pol.Git.Remotes)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var times []time.Duration
			for b.Loop() {
				dir := filepath.Join(b.TempDir(), "c")
				start := time.Now()
				cmd := exec.Command("git", "clone", "-q", tc.url, dir)
				cmd.Env = tc.env
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("clone: %v\n%s", err, out)
				}
				times = append(times, time.Since(start))
			}
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "median-ms")
		})
	}
}
