package server

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cordon-dev/cordon/server/runner"
)

// A command printing far more than the client takes costs bounded memory,
// and what is dropped is said, to the byte.
func TestOutputFloodBounded(t *testing.T) {
	const total = 64 << 20
	e := newEnv(t)
	exe := fakeExec(func(ctx context.Context, req runner.Request) (*runner.Outcome, error) {
		buf := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
		for n := 0; n < total; n += len(buf) {
			if _, err := req.Stdout.Write(buf); err != nil {
				return nil, err
			}
		}
		return &runner.Outcome{}, nil
	})
	const limit = 256 << 10
	var peak atomic.Int64
	peak.Store(-1)
	c := startServer(t, e, exe, func(o *Options) {
		o.OutputLimit = limit
		o.outputRetained = func(_ string, n int) { peak.Store(int64(n)) }
	})
	var received, dropped atomic.Int64
	dropRE := regexp.MustCompile(`\n\[cordon: (\d+) bytes of output dropped\]\n`)
	c.onOutput = func(p json.RawMessage) {
		var o struct{ RunID, Stream, Data string }
		if err := json.Unmarshal(p, &o); err != nil {
			t.Error(err)
			return
		}
		if m := dropRE.FindStringSubmatch(o.Data); m != nil {
			n, _ := strconv.ParseInt(m[1], 10, 64)
			dropped.Add(n)
			return
		}
		received.Add(int64(len(o.Data)))
		time.Sleep(200 * time.Microsecond) // a slow client
	}
	c.initialize(e, nil)
	if err := c.request("sandbox/run", map[string]any{"command": "yes"}, nil); err != nil {
		t.Fatal(err)
	}
	if dropped.Load() == 0 {
		t.Fatal("nothing dropped: the test did not flood")
	}
	if got := received.Load() + dropped.Load(); got != total {
		t.Errorf("received %d + dropped %d = %d, want %d", received.Load(), dropped.Load(), got, total)
	}
	// What the server itself holds: at most the limit waiting plus the
	// batch being sent, whatever else the process's heap holds.
	switch p := peak.Load(); {
	case p < 0:
		t.Error("the run's output pump never reported what it held")
	case p == 0 || p > 2*limit:
		t.Errorf("the server held up to %d bytes of output at once, want 1..%d (twice the limit)", p, 2*limit)
	}
	t.Logf("received %d, dropped %d, retained at most %d KiB", received.Load(), dropped.Load(), peak.Load()>>10)
}

// Output split mid-character arrives whole.
func TestOutputUTF8Split(t *testing.T) {
	e := newEnv(t)
	exe := fakeExec(func(ctx context.Context, req runner.Request) (*runner.Outcome, error) {
		s := []byte("héllo → wörld")
		for i := range s {
			req.Stdout.Write(s[i : i+1])
			time.Sleep(time.Millisecond)
		}
		return &runner.Outcome{}, nil
	})
	c := startServer(t, e, exe, nil)
	var mu sync.Mutex
	var got string
	c.onOutput = func(p json.RawMessage) {
		var o struct{ Data string }
		json.Unmarshal(p, &o)
		mu.Lock()
		got += o.Data
		mu.Unlock()
	}
	c.initialize(e, nil)
	if err := c.request("sandbox/run", map[string]any{"command": "x"}, nil); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got != "héllo → wörld" {
		t.Errorf("got %q", got)
	}
}
