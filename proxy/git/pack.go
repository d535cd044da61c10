package git

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
)

// Limits on reading a pushed pack for the commits in it.
const (
	maxPackObjects = 1 << 22
	maxCommitSize  = 1 << 20  // one commit object
	maxCommitBytes = 64 << 20 // every commit of one pack together
)

// ErrPack is a pack the proxy cannot read.
var ErrPack = errors.New("malformed pack")

const (
	objCommit   = 1
	objTree     = 2
	objBlob     = 3
	objTag      = 4
	objOfsDelta = 6
	objRefDelta = 7
)

// commitGraph is what a pushed pack says about history: each commit in it,
// by id, with its parents. Ids are the hash of the content the proxy itself
// inflated, so a commit's parents are what that id means, however the pack
// was put together.
type commitGraph struct {
	parents map[string][]string
}

// counter is a byte reader that counts and hashes what it hands out.
type counter struct {
	r *bufio.Reader
	n int64
	h hash.Hash
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.h.Write(p[:n])
	return n, err
}

func (c *counter) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
		c.h.Write([]byte{b})
	}
	return b, err
}

// readCommits reads a whole pack from r and returns its commits. hashLen is
// 40 (SHA-1) or 64 (SHA-256). Deltas are resolved against commits earlier
// in the pack; a delta whose base is not in it (a thin pack) cannot be a
// commit the proxy knows, which only ever makes a fast-forward unprovable.
func readCommits(r io.Reader, hashLen int) (*commitGraph, error) {
	return readPack(r, hashLen, true)
}

// readPack reads a pack; whole says r must end with it (a request body),
// else reading stops at its trailer (a stream the client keeps open).
func readPack(r io.Reader, hashLen int, whole bool) (*commitGraph, error) {
	newHash := sha1.New
	if hashLen == 64 {
		newHash = sha256.New
	}
	c := &counter{r: bufio.NewReaderSize(r, 64<<10), h: newHash()}
	var hdr [12]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return nil, fmt.Errorf("%w: no header: %v", ErrPack, err)
	}
	if string(hdr[:4]) != "PACK" {
		return nil, fmt.Errorf("%w: no PACK signature", ErrPack)
	}
	if v := binary.BigEndian.Uint32(hdr[4:]); v != 2 && v != 3 {
		return nil, fmt.Errorf("%w: version %d", ErrPack, v)
	}
	count := binary.BigEndian.Uint32(hdr[8:])
	if count > maxPackObjects {
		return nil, fmt.Errorf("%w: %d objects, over %d", ErrPack, count, maxPackObjects)
	}

	g := &commitGraph{parents: map[string][]string{}}
	type known struct {
		typ  int
		data []byte // content of a commit; nil otherwise
	}
	byOffset := map[int64]known{}  // every object's resolved type, commits with content
	commits := map[string][]byte{} // id → content
	total := 0
	for i := uint32(0); i < count; i++ {
		off := c.n
		typ, size, err := readObjHeader(c)
		if err != nil {
			return nil, err
		}
		var base []byte
		baseType := 0
		switch typ {
		case objCommit, objTree, objBlob, objTag:
		case objOfsDelta:
			rel, err := readOfs(c)
			if err != nil {
				return nil, err
			}
			b, ok := byOffset[off-rel]
			if rel <= 0 || !ok {
				return nil, fmt.Errorf("%w: a delta's base is not an object of the pack", ErrPack)
			}
			baseType, base = b.typ, b.data
		case objRefDelta:
			raw := make([]byte, hashLen/2)
			if _, err := io.ReadFull(c, raw); err != nil {
				return nil, fmt.Errorf("%w: truncated delta base: %v", ErrPack, err)
			}
			if d, ok := commits[hex.EncodeToString(raw)]; ok {
				baseType, base = objCommit, d
			}
		default:
			return nil, fmt.Errorf("%w: object type %d", ErrPack, typ)
		}
		isCommit := typ == objCommit || (typ >= objOfsDelta && baseType == objCommit)
		limit := int64(0)
		if isCommit {
			limit = maxCommitSize
		}
		data, err := inflate(c, size, limit)
		if err != nil {
			return nil, err
		}
		if typ >= objOfsDelta {
			if isCommit {
				if data, err = applyDelta(base, data); err != nil {
					return nil, err
				}
			}
			typ = baseType // 0 when unknown (a thin pack's base)
		}
		k := known{typ: typ}
		if isCommit {
			if total += len(data); total > maxCommitBytes {
				return nil, fmt.Errorf("%w: over %d bytes of commits", ErrPack, maxCommitBytes)
			}
			k.data = data
			id := objectID(newHash(), "commit", data)
			commits[id] = data
			g.parents[id] = commitParents(data, hashLen)
		}
		byOffset[off] = k
	}
	sum := c.h.Sum(nil)
	trailer := make([]byte, len(sum))
	if _, err := io.ReadFull(c.r, trailer); err != nil {
		return nil, fmt.Errorf("%w: no trailing checksum: %v", ErrPack, err)
	}
	if !bytes.Equal(sum, trailer) {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrPack)
	}
	if !whole {
		if c.r.Buffered() > 0 {
			return nil, fmt.Errorf("%w: bytes after the pack", ErrPack)
		}
		return g, nil
	}
	if _, err := c.r.ReadByte(); err != io.EOF {
		return nil, fmt.Errorf("%w: bytes after the pack", ErrPack)
	}
	return g, nil
}

func readObjHeader(c *counter) (typ int, size int64, err error) {
	b, err := c.ReadByte()
	if err != nil {
		return 0, 0, fmt.Errorf("%w: truncated: %v", ErrPack, err)
	}
	typ = int(b>>4) & 7
	size = int64(b & 0x0f)
	shift := 4
	for b&0x80 != 0 {
		if b, err = c.ReadByte(); err != nil {
			return 0, 0, fmt.Errorf("%w: truncated: %v", ErrPack, err)
		}
		if shift > 56 {
			return 0, 0, fmt.Errorf("%w: object size overflows", ErrPack)
		}
		size |= int64(b&0x7f) << shift
		shift += 7
	}
	return typ, size, nil
}

func readOfs(c *counter) (int64, error) {
	b, err := c.ReadByte()
	if err != nil {
		return 0, fmt.Errorf("%w: truncated: %v", ErrPack, err)
	}
	ofs := int64(b & 0x7f)
	for n := 0; b&0x80 != 0; n++ {
		if b, err = c.ReadByte(); err != nil {
			return 0, fmt.Errorf("%w: truncated: %v", ErrPack, err)
		}
		if n > 8 {
			return 0, fmt.Errorf("%w: delta offset overflows", ErrPack)
		}
		ofs = (ofs+1)<<7 | int64(b&0x7f)
	}
	return ofs, nil
}

// inflate reads one zlib stream that must inflate to exactly size bytes.
// With keep > 0 the content is returned (size at most keep); otherwise it
// is checked and dropped.
func inflate(c *counter, size, keep int64) ([]byte, error) {
	if keep > 0 && size > keep {
		return nil, fmt.Errorf("%w: a commit of %d bytes", ErrPack, size)
	}
	zr, err := zlib.NewReader(c)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPack, err)
	}
	var out []byte
	var n int64
	if keep > 0 {
		out = make([]byte, size)
		_, err = io.ReadFull(zr, out)
		n = size
	} else {
		n, err = io.Copy(io.Discard, io.LimitReader(zr, size))
	}
	if err != nil || n != size {
		return nil, fmt.Errorf("%w: an object inflates short of its size", ErrPack)
	}
	// The stream must end here: exactly size bytes, and its checksum.
	var one [1]byte
	if k, err := zr.Read(one[:]); k != 0 || err != io.EOF {
		return nil, fmt.Errorf("%w: an object inflates past its size", ErrPack)
	}
	return out, nil
}

// applyDelta builds an object from base and a git delta.
func applyDelta(base, delta []byte) ([]byte, error) {
	bad := fmt.Errorf("%w: bad delta", ErrPack)
	varint := func() (int, bool) {
		v, shift := 0, 0
		for {
			if len(delta) == 0 || shift > 28 {
				return 0, false
			}
			b := delta[0]
			delta = delta[1:]
			v |= int(b&0x7f) << shift
			shift += 7
			if b&0x80 == 0 {
				return v, true
			}
		}
	}
	srcSize, ok1 := varint()
	dstSize, ok2 := varint()
	if !ok1 || !ok2 || srcSize != len(base) || dstSize > maxCommitSize {
		return nil, bad
	}
	out := make([]byte, 0, dstSize)
	for len(delta) > 0 {
		op := delta[0]
		delta = delta[1:]
		switch {
		case op&0x80 != 0:
			var off, n int
			for i := 0; i < 4; i++ {
				if op&(1<<i) != 0 {
					if len(delta) == 0 {
						return nil, bad
					}
					off |= int(delta[0]) << (8 * i)
					delta = delta[1:]
				}
			}
			for i := 0; i < 3; i++ {
				if op&(0x10<<i) != 0 {
					if len(delta) == 0 {
						return nil, bad
					}
					n |= int(delta[0]) << (8 * i)
					delta = delta[1:]
				}
			}
			if n == 0 {
				n = 0x10000
			}
			if off+n > len(base) || len(out)+n > dstSize {
				return nil, bad
			}
			out = append(out, base[off:off+n]...)
		case op != 0:
			n := int(op)
			if n > len(delta) || len(out)+n > dstSize {
				return nil, bad
			}
			out = append(out, delta[:n]...)
			delta = delta[n:]
		default:
			return nil, bad
		}
	}
	if len(out) != dstSize {
		return nil, bad
	}
	return out, nil
}

func objectID(h hash.Hash, typ string, data []byte) string {
	fmt.Fprintf(h, "%s %d\x00", typ, len(data))
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil))
}

// commitParents reads the parent lines of a commit's header.
func commitParents(data []byte, hashLen int) []string {
	var out []string
	for len(data) > 0 {
		line, rest, _ := bytes.Cut(data, []byte("\n"))
		data = rest
		if len(line) == 0 {
			break
		}
		if p, ok := bytes.CutPrefix(line, []byte("parent ")); ok && validID(string(p), hashLen) {
			out = append(out, string(p))
		}
	}
	return out
}

// descends reports whether old is new or an ancestor of it by what the
// pack shows. Walking leaves the pack at commits the remote already has;
// if old is one of them it is proven, otherwise not (false: the caller
// treats the update as non-fast-forward and fails closed).
func (g *commitGraph) descends(newID, oldID string) bool {
	if newID == oldID {
		return true
	}
	seen := map[string]bool{newID: true}
	queue := []string{newID}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		for _, p := range g.parents[id] {
			if p == oldID {
				return true
			}
			if !seen[p] {
				seen[p] = true
				queue = append(queue, p)
			}
		}
	}
	return false
}
