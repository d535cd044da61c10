package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"
)

// downloadServer serves size bytes from memory on the host's loopback.
func downloadServer(b *testing.B, size int64) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		for sent := int64(0); sent < size; sent += int64(len(chunk)) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})}
	go srv.Serve(ln)
	b.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

const downloadSize = 1 << 30

// BenchmarkDownload1GiB is issue 3's throughput figure: 1 GiB fetched with
// curl directly on the host's loopback, and from inside the sandbox
// through the whole path (bridge → proxy → host server). Compare the
// MB/s of the two sub-benchmarks of the same run.
func BenchmarkDownload1GiB(b *testing.B) {
	port := downloadServer(b, downloadSize)
	url := fmt.Sprintf("http://127.0.0.1:%d/", port)
	b.Run("direct", func(b *testing.B) {
		b.SetBytes(downloadSize)
		for b.Loop() {
			if out, err := exec.Command("curl", "-sS", "--noproxy", "*", "-o", "/dev/null", url).CombinedOutput(); err != nil {
				b.Fatalf("%v: %s", err, out)
			}
		}
	})
	for _, via := range []string{"socks5h", "http-connect"} {
		b.Run("cordon-"+via, func(b *testing.B) {
			ws := b.TempDir()
			os.WriteFile(ws+"/.sandbox.toml", []byte(fmt.Sprintf("[network]\nallow = [\"127.0.0.1:%d\"]\n", port)), 0o644)
			env := append(os.Environ(), "HOME="+b.TempDir())
			trust := exec.Command(cordonBin, "trust", "-w", ws)
			trust.Env = env
			if out, err := trust.CombinedOutput(); err != nil {
				b.Fatalf("%v: %s", err, out)
			}
			curl := `curl -sS --noproxy '' -x "socks5h://$CORDON_PROXY" -o /dev/null ` + url
			if via == "http-connect" {
				curl = `curl -sS --noproxy '' -p -x "http://$CORDON_PROXY" -o /dev/null ` + url
			}
			b.SetBytes(downloadSize)
			for b.Loop() {
				cmd := exec.Command(cordonBin, "run", "-w", ws, "-c", curl)
				cmd.Env = env
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("%v: %s", err, out)
				}
			}
		})
	}
}

// BenchmarkStartup is `cordon run -- true` against bare bwrap, in-process
// timing for go test users; make bench uses hyperfine for the same figure.
func BenchmarkStartup(b *testing.B) {
	ws := b.TempDir()
	b.Run("bwrap", func(b *testing.B) {
		for b.Loop() {
			if err := exec.Command("bwrap", "--ro-bind", "/", "/", "true").Run(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cordon", func(b *testing.B) {
		for b.Loop() {
			cmd := exec.Command(cordonBin, "run", "-w", ws, "--", "true")
			if err := cmd.Run(); err != nil {
				b.Fatal(err)
			}
		}
	})
	_ = time.Now
}
