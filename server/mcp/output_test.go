package mcp

import (
	"strings"
	"testing"
)

func TestCapture(t *testing.T) {
	c := newCapture(100)
	c.Write([]byte("short\n"))
	if s, cut := c.text(); s != "short\n" || cut {
		t.Fatalf("short: %q %v", s, cut)
	}
	c = newCapture(100)
	// Exactly the limit, in pieces: all kept.
	for range 10 {
		c.Write([]byte("123456789\n"))
	}
	if s, cut := c.text(); cut || s != strings.Repeat("123456789\n", 10) {
		t.Fatalf("at the limit: %q %v", s, cut)
	}
	c = newCapture(100)
	c.Write([]byte("FIRST\n"))
	for i := range 1000 {
		c.Write([]byte(strings.Repeat("x", i%7) + "\n"))
	}
	c.Write([]byte("LAST\n"))
	s, cut := c.text()
	if !cut || !strings.HasPrefix(s, "FIRST\n") || !strings.HasSuffix(s, "\nLAST\n") || !strings.Contains(s, "bytes omitted") {
		t.Fatalf("long: %v %q", cut, s)
	}
	if c.bytes() < 3000 {
		t.Fatalf("total %d", c.bytes())
	}
	// A cut inside a multi-byte character leaves valid UTF-8.
	c = newCapture(8)
	c.Write([]byte("ééééééééééé"))
	if s, _ := c.text(); !strings.Contains(s, "omitted") || strings.ToValidUTF8(s, "?") != s {
		t.Fatalf("utf-8: %q", s)
	}
}

func TestHostOnly(t *testing.T) {
	for in, want := range map[string]string{"a.test:80": "a.test", "[::1]:443": "[::1]", "a.test": "a.test"} {
		if got := hostOnly(in); got != want {
			t.Errorf("hostOnly(%q) = %q", in, got)
		}
	}
}
