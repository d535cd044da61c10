package server

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestTranscripts replays testdata/lsp/*.txt against the server.
func TestTranscripts(t *testing.T) {
	files, err := filepath.Glob("../testdata/lsp/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			e := newEnv(t)
			a, b := pipePair()
			startServerOn(t, e, a, b)
			// Read everything the server sends as it comes: net.Pipe is
			// synchronous, and the server also sends notifications.
			responses := make(chan any, 100)
			go func() {
				fr := newFrameReader(b.client)
				for {
					body, err := fr.Read()
					if err != nil {
						close(responses)
						return
					}
					var m map[string]any
					if err := json.Unmarshal(body, &m); err != nil {
						responses <- err
						continue
					}
					if _, isCall := m["method"]; !isCall {
						responses <- m
					}
				}
			}()
			fh, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			sc := bufio.NewScanner(fh)
			for n := 1; sc.Scan(); n++ {
				line := strings.ReplaceAll(sc.Text(), "{{ROOT}}", e.root)
				switch {
				case strings.HasPrefix(line, "> "):
					if _, err := b.client.Write(frame([]byte(line[2:]))); err != nil {
						t.Fatalf("line %d: %v", n, err)
					}
				case strings.HasPrefix(line, "< "):
					var want any
					if err := json.Unmarshal([]byte(line[2:]), &want); err != nil {
						t.Fatalf("line %d: bad expectation: %v", n, err)
					}
					got := nextResponse(t, responses)
					if !subset(want, got) {
						t.Fatalf("line %d: got %v\nwant (subset) %v", n, got, want)
					}
				}
			}
		})
	}
}

// nextResponse waits for the server's next response.
func nextResponse(t *testing.T, responses <-chan any) any {
	t.Helper()
	select {
	case v, ok := <-responses:
		if !ok {
			t.Fatal("server closed the connection")
		}
		if err, ok := v.(error); ok {
			t.Fatal(err)
		}
		return v
	case <-time.After(10 * time.Second):
		t.Fatal("no response")
		return nil
	}
}

// subset reports whether every field of want is in got with the same value
// (arrays compare element-wise, whole).
func subset(want, got any) bool {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range w {
			if !subset(v, g[k]) {
				return false
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !subset(w[i], g[i]) {
				return false
			}
		}
		return true
	default:
		return reflect.DeepEqual(want, got)
	}
}
