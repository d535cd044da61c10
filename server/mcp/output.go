package mcp

import (
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"
)

// capture keeps a bounded view of one output stream for the model: the
// first part and the last part of it, with how much was left out between.
// The end of a build log matters as much as its start.
type capture struct {
	mu    sync.Mutex
	limit int    // what is shown at most: head + tail
	head  []byte // the first 3/4 of limit
	tail  []byte // a ring of the last 1/4 of limit
	pos   int    // next write position in tail once it is full
	total int64
}

func newCapture(limit int) *capture { return &capture{limit: limit} }

func (c *capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(p)
	c.total += int64(n)
	headCap := c.limit - c.limit/4
	if room := headCap - len(c.head); room > 0 {
		k := min(room, len(p))
		c.head = append(c.head, p[:k]...)
		p = p[k:]
	}
	tailCap := c.limit / 4
	for len(p) > 0 && tailCap > 0 {
		if len(c.tail) < tailCap {
			k := min(tailCap-len(c.tail), len(p))
			c.tail = append(c.tail, p[:k]...)
			p = p[k:]
			continue
		}
		k := copy(c.tail[c.pos:], p)
		c.pos = (c.pos + k) % tailCap
		p = p[k:]
	}
	return n, nil
}

// bytes is how much the stream wrote in all.
func (c *capture) bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// text is the stream as the model sees it, and whether part of it was
// left out.
func (c *capture) text() (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	tail := append(append([]byte(nil), c.tail[c.pos:]...), c.tail[:c.pos]...)
	kept := int64(len(c.head) + len(tail))
	if kept == c.total {
		return valid(string(c.head) + string(tail)), false
	}
	// Cut the tail at a line start where one is near, so the model does
	// not read half a line as a whole one.
	if i := strings.IndexByte(string(tail), '\n'); i >= 0 && i < 512 {
		tail = tail[i+1:]
	}
	omitted := c.total - int64(len(c.head)) - int64(len(tail))
	return fmt.Sprintf("%s\n[… %d bytes omitted: the output was %d bytes; only the first %d and the last %d are kept …]\n%s",
		valid(string(c.head)), omitted, c.total, len(c.head), len(tail), valid(string(tail))), true
}

// valid drops what a cut left of a multi-byte character.
func valid(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
