package server

import (
	"fmt"
	"io"
	"sync"
	"unicode/utf8"
)

// maxChunk bounds one sandbox/output notification.
const maxChunk = 64 << 10

// outputPump forwards a run's output as sandbox/output notifications. The
// child never waits on the client: output beyond limit bytes not yet sent
// is dropped and the drop reported in the stream, so a command printing
// gigabytes costs bounded memory.
type outputPump struct {
	s     *server
	runID string
	limit int

	mu      sync.Mutex
	pending []chunk
	size    int // bytes in pending
	sending int // bytes taken by the loop and not yet sent
	peak    int // the most size+sending has been
	dropped map[string]int64
	closed  bool
	wake    chan struct{}
	done    chan struct{}
}

type chunk struct {
	stream string
	data   []byte
}

func newOutputPump(s *server, runID string, limit int) *outputPump {
	o := &outputPump{s: s, runID: runID, limit: limit, dropped: map[string]int64{}, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go o.loop()
	return o
}

type streamWriter struct {
	o      *outputPump
	stream string
}

func (o *outputPump) writer(stream string) io.Writer { return streamWriter{o, stream} }

func (w streamWriter) Write(p []byte) (int, error) {
	o := w.o
	o.mu.Lock()
	room := o.limit - o.size
	keep := len(p)
	if keep > room {
		keep = max(room, 0)
		o.dropped[w.stream] += int64(len(p) - keep)
	}
	if keep > 0 {
		// Coalesce with the last chunk of the same stream.
		if n := len(o.pending); n > 0 && o.pending[n-1].stream == w.stream && len(o.pending[n-1].data) < maxChunk {
			o.pending[n-1].data = append(o.pending[n-1].data, p[:keep]...)
		} else {
			o.pending = append(o.pending, chunk{w.stream, append([]byte(nil), p[:keep]...)})
		}
		o.size += keep
		o.peak = max(o.peak, o.size+o.sending)
	}
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (o *outputPump) loop() {
	defer close(o.done)
	var carry = map[string][]byte{} // an incomplete UTF-8 sequence per stream
	for {
		o.mu.Lock()
		batch := o.pending
		o.pending = nil
		o.sending, o.size = o.size, 0
		dropped := o.dropped
		o.dropped = map[string]int64{}
		closed := o.closed
		o.mu.Unlock()
		for _, c := range batch {
			data := append(carry[c.stream], c.data...)
			cut := validPrefix(data)
			if closed {
				cut = len(data)
			}
			carry[c.stream] = append([]byte(nil), data[cut:]...)
			for len(data[:cut]) > 0 {
				n := min(cut, maxChunk)
				n = validPrefix(data[:n])
				if n == 0 {
					n = min(cut, maxChunk)
				}
				o.send(c.stream, string(data[:n]))
				data, cut = data[n:], cut-n
			}
		}
		o.mu.Lock()
		o.sending = 0
		o.mu.Unlock()
		for _, stream := range []string{"stdout", "stderr"} {
			if n := dropped[stream]; n > 0 {
				o.send(stream, fmt.Sprintf("\n[cordon: %d bytes of output dropped]\n", n))
			}
		}
		if closed {
			for stream, rest := range carry {
				if len(rest) > 0 {
					o.send(stream, string(rest))
				}
			}
			return
		}
		<-o.wake
	}
}

// validPrefix is the length of data up to an incomplete trailing UTF-8
// sequence, so a character split across writes is not mangled.
func validPrefix(data []byte) int {
	for i := len(data) - 1; i >= 0 && i >= len(data)-utf8.UTFMax; i-- {
		if utf8.RuneStart(data[i]) {
			if !utf8.FullRune(data[i:]) {
				return i
			}
			break
		}
	}
	return len(data)
}

func (o *outputPump) send(stream, data string) {
	if err := o.s.conn.notify("sandbox/output", map[string]string{"runId": o.runID, "stream": stream, "data": data}); err != nil {
		o.s.log.Debug("sending output", "err", err)
	}
}

// close flushes what is pending and waits until it is sent.
func (o *outputPump) close() {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
	<-o.done
	if f := o.s.opts.outputRetained; f != nil {
		f(o.runID, o.peak)
	}
}
