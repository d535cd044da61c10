// Package git is cordon's git proxy: the sandbox's git talks smart HTTP to
// an endpoint of the run's proxy, which checks every push against the
// policy's [git] table before a byte goes upstream, and forwards to the
// real remote with the credential the host's own `git credential fill`
// gives. The sandbox never sees the credential.
//
// The sandbox controls every byte of a request and a hostile remote every
// byte of a response: every size is bounded, every wait timed, and what
// cannot be parsed is refused.
package git

import (
	"errors"
	"fmt"
	"io"
)

// Pkt-line framing (gitprotocol-common(5)): four hex digits giving the
// length of the line including themselves, then the payload. "0000" is a
// flush; "0001" and "0002" are protocol v2's delimiter and response end.
const (
	maxPktLen  = 65520 // the largest pkt-line git sends or accepts
	pktFlush   = 0
	pktDelim   = 1
	pktRespEnd = 2
)

// ErrPktLine is a stream that is not well-formed pkt-lines.
var ErrPktLine = errors.New("malformed pkt-line")

// pktReader reads pkt-lines from r, reusing one buffer.
type pktReader struct {
	r   io.Reader
	buf [maxPktLen]byte
	n   int64 // bytes consumed
}

// next returns the next packet's payload (valid until the next call), or
// special = pktFlush/pktDelim/pktRespEnd with a nil payload. A short read
// is io.ErrUnexpectedEOF; a clean end before any byte of a packet is io.EOF.
func (p *pktReader) next() (payload []byte, special int, err error) {
	var hdr [4]byte
	if _, err := io.ReadFull(p.r, hdr[:]); err != nil {
		return nil, -1, err
	}
	p.n += 4
	n, ok := parseHex4(hdr)
	if !ok {
		return nil, -1, fmt.Errorf("%w: length %q is not four hex digits", ErrPktLine, hdr[:])
	}
	switch {
	case n <= pktRespEnd:
		return nil, n, nil
	case n < 4:
		return nil, -1, fmt.Errorf("%w: length %d", ErrPktLine, n)
	case n > maxPktLen:
		return nil, -1, fmt.Errorf("%w: length %d over %d", ErrPktLine, n, maxPktLen)
	}
	b := p.buf[:n-4]
	if _, err := io.ReadFull(p.r, b); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, -1, fmt.Errorf("%w: truncated packet: %v", ErrPktLine, err)
	}
	p.n += int64(len(b))
	return b, -1, nil
}

func parseHex4(h [4]byte) (int, bool) {
	n := 0
	for _, c := range h {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		n = n<<4 | int(d)
	}
	return n, true
}

// appendPkt appends payload as one pkt-line.
func appendPkt(dst []byte, payload []byte) []byte {
	n := len(payload) + 4
	const hex = "0123456789abcdef"
	dst = append(dst, hex[n>>12&0xf], hex[n>>8&0xf], hex[n>>4&0xf], hex[n&0xf])
	return append(dst, payload...)
}

func appendFlush(dst []byte) []byte { return append(dst, "0000"...) }
