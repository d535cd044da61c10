package server

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// We frame messages ourselves rather than use jsonrpc2.NewStream: its
// reader returns a fatal error on any bad header, which ends the
// connection, while a server must answer a bad Content-Length with an
// error and carry on. The message types stay jsonrpc2's.

// maxFrame bounds one message; anything larger is refused and skipped.
const maxFrame = 64 << 20

// frameError is a framing problem the reader recovered from: the caller
// answers it with a ParseError and reads on.
type frameError struct{ msg string }

func (e *frameError) Error() string { return "framing: " + e.msg }

// frameReader reads Content-Length framed messages, resynchronising on the
// next header after a malformed one.
type frameReader struct {
	br     *bufio.Reader
	resync bool
}

func newFrameReader(r io.Reader) *frameReader {
	return &frameReader{br: bufio.NewReaderSize(r, 64<<10)}
}

const headerKey = "content-length:"

// indexFold is the index of the lower-case ASCII key in s, ignoring ASCII
// case, or -1. Not strings.ToLower: on invalid UTF-8 it changes lengths,
// so its indexes do not fit s.
func indexFold(s, key string) int {
	for i := 0; i+len(key) <= len(s); i++ {
		j := 0
		for ; j < len(key); j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != key[j] {
				break
			}
		}
		if j == len(key) {
			return i
		}
	}
	return -1
}

// Read returns the next message body. A *frameError means the input was
// malformed but the stream is still usable; any other error is fatal.
func (f *frameReader) Read() ([]byte, error) {
	length := -1
	sawHeader := false
	for {
		line, err := f.readLine()
		if err != nil {
			if errors.Is(err, io.EOF) && sawHeader {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if f.resync {
			// Skip garbage up to the next Content-Length header, which may
			// follow the junk on the same line (bodies have no newline).
			i := indexFold(line, headerKey)
			if i < 0 {
				continue
			}
			line = line[i:]
			f.resync = false
		}
		if line == "" {
			if !sawHeader {
				continue // stray blank line between messages
			}
			break
		}
		sawHeader = true
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			f.resync = true
			return nil, &frameError{fmt.Sprintf("malformed header line %q", clip(line))}
		}
		if strings.EqualFold(strings.TrimSpace(name), "Content-Length") {
			n, err := strconv.Atoi(strings.TrimSpace(value))
			if err != nil || n < 0 {
				f.resync = true
				return nil, &frameError{fmt.Sprintf("bad Content-Length %q", clip(value))}
			}
			if n > maxFrame {
				f.resync = true
				return nil, &frameError{fmt.Sprintf("Content-Length %d exceeds the %d byte limit", n, maxFrame)}
			}
			length = n
		}
	}
	if length < 0 {
		f.resync = true
		return nil, &frameError{"missing Content-Length"}
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(f.br, body); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return body, nil
}

// readLine reads one header line without its CRLF, bounded so a peer
// cannot make us buffer an endless line.
func (f *frameReader) readLine() (string, error) {
	var b []byte
	for {
		chunk, err := f.br.ReadSlice('\n')
		if len(b)+len(chunk) <= 4096 {
			b = append(b, chunk...)
		} else if !f.resync {
			f.resync = true
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if len(b) > 0 && errors.Is(err, io.EOF) {
				return "", io.ErrUnexpectedEOF
			}
			return "", err
		}
		return string(bytes.TrimRight(b, "\r\n")), nil
	}
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// writeFrame writes one framed message in a single Write.
func writeFrame(w io.Writer, body []byte) error {
	buf := make([]byte, 0, len(body)+32)
	buf = fmt.Appendf(buf, "Content-Length: %d\r\n\r\n", len(body))
	buf = append(buf, body...)
	_, err := w.Write(buf)
	return err
}
