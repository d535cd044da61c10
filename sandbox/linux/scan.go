//go:build linux

package linux

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/cordon-dev/cordon/workspace"
)

// maxScanEntries bounds one scan. A tree larger than this cannot be
// checked for the rules that need a walk, and the run is refused (fail
// closed) rather than started with rules silently dropped.
const maxScanEntries = 2_000_000

// scanRequest asks which existing paths below roots match patterns.
type scanRequest struct {
	Roots    []string // absolute directories to walk
	Patterns []string // absolute glob patterns (workspace.Match syntax)
}

// dirStamp pins one walked directory: any entry added, removed or renamed
// in it changes its ctime (and a replaced directory changes its inode).
// Not its mtime: a sandboxed command can set that back with utimensat
// after the user adds a file on the host, and the next run would reuse a
// list without it. Only the kernel sets ctime (to now, on every change,
// utimensat included).
type dirStamp struct {
	Path  string
	CTime int64
	Ino   uint64
}

// scanResult maps each pattern to the existing paths it matches. A
// matched directory stands for its whole subtree: nothing below it is
// listed for that pattern.
type scanResult struct {
	Matches map[string][]string
	Dirs    []dirStamp
}

// scanner finds the existing paths a set of glob rules names, walking with
// the standard library and caching the answer until a walked directory
// changes. The cache lives in cordon's state directory, which every
// sandbox hides: a command cannot edit it to drop a rule from later runs.
type scanner struct {
	cacheDir string // "" disables the cache
}

func (s scanner) scan(req scanRequest) (map[string][]string, error) {
	if len(req.Patterns) == 0 || len(req.Roots) == 0 {
		return nil, nil
	}
	key := cacheKey(req)
	if res, ok := s.load(key); ok {
		return res.Matches, nil
	}
	res, err := walk(req)
	if err != nil {
		return nil, err
	}
	s.store(key, res)
	return res.Matches, nil
}

func cacheKey(req scanRequest) string {
	h := sha256.New()
	for _, r := range req.Roots {
		fmt.Fprintf(h, "r%s\x00", r)
	}
	for _, p := range req.Patterns {
		fmt.Fprintf(h, "p%s\x00", p)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

func (s scanner) load(key string) (*scanResult, bool) {
	if s.cacheDir == "" {
		return nil, false
	}
	f, err := workspace.OpenPrivate(s.cacheDir, key+".bin", os.O_RDONLY, 0)
	if err != nil {
		return nil, false
	}
	b, err := io.ReadAll(io.LimitReader(f, 1<<30))
	f.Close()
	if err != nil {
		return nil, false
	}
	res, ok := decodeScan(b)
	if !ok || !stampsHold(res.Dirs) {
		return nil, false
	}
	return res, true
}

// stampsHold re-checks every walked directory, spread over a few
// goroutines: on a warm run this is the whole cost of the glob rules.
func stampsHold(dirs []dirStamp) bool {
	const workers = 4
	var bad atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var st syscall.Stat_t
			for i := w; i < len(dirs) && !bad.Load(); i += workers {
				d := dirs[i]
				if syscall.Lstat(d.Path, &st) != nil || st.Ctim.Nano() != d.CTime || st.Ino != d.Ino {
					bad.Store(true)
				}
			}
		}(w)
	}
	wg.Wait()
	return !bad.Load()
}

func (s scanner) store(key string, res *scanResult) {
	if s.cacheDir == "" {
		return
	}
	if err := workspace.PrivateDir(s.cacheDir); err != nil {
		return
	}
	tmp, err := os.CreateTemp(s.cacheDir, "scan-*")
	if err != nil {
		return
	}
	_, werr := tmp.Write(encodeScan(res))
	if cerr := tmp.Close(); werr != nil || cerr != nil {
		os.Remove(tmp.Name())
		return
	}
	if os.Rename(tmp.Name(), filepath.Join(s.cacheDir, key+".bin")) != nil {
		os.Remove(tmp.Name())
	}
}

// The cache is a flat binary record (JSON decoding alone would eat most of
// the warm-run budget): counts and lengths as uvarints, then bytes.
func encodeScan(res *scanResult) []byte {
	var b []byte
	putStr := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = append(b, scanCacheVersion)
	b = binary.AppendUvarint(b, uint64(len(res.Dirs)))
	for _, d := range res.Dirs {
		putStr(d.Path)
		b = binary.AppendVarint(b, d.CTime)
		b = binary.AppendUvarint(b, d.Ino)
	}
	b = binary.AppendUvarint(b, uint64(len(res.Matches)))
	for pat, paths := range res.Matches {
		putStr(pat)
		b = binary.AppendUvarint(b, uint64(len(paths)))
		for _, p := range paths {
			putStr(p)
		}
	}
	return b
}

const scanCacheVersion = 2 // 1 stamped mtimes

func decodeScan(b []byte) (*scanResult, bool) {
	if len(b) == 0 || b[0] != scanCacheVersion {
		return nil, false
	}
	b = b[1:]
	bad := false
	uv := func() uint64 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			bad = true
			return 0
		}
		b = b[n:]
		return v
	}
	str := func() string {
		n := uv()
		if bad || n > uint64(len(b)) {
			bad = true
			return ""
		}
		s := string(b[:n])
		b = b[n:]
		return s
	}
	res := &scanResult{Matches: map[string][]string{}}
	nd := uv()
	if nd > uint64(len(b)) {
		return nil, false
	}
	res.Dirs = make([]dirStamp, 0, nd)
	for i := uint64(0); i < nd && !bad; i++ {
		d := dirStamp{Path: str()}
		m, n := binary.Varint(b)
		if n <= 0 {
			return nil, false
		}
		b = b[n:]
		d.CTime = m
		d.Ino = uv()
		res.Dirs = append(res.Dirs, d)
	}
	np := uv()
	for i := uint64(0); i < np && !bad; i++ {
		pat := str()
		n := uv()
		if n > uint64(len(b)) {
			return nil, false
		}
		paths := make([]string, 0, n)
		for j := uint64(0); j < n && !bad; j++ {
			paths = append(paths, str())
		}
		res.Matches[pat] = paths
	}
	if bad || len(b) != 0 {
		return nil, false
	}
	return res, true
}

// walker walks each root once, advancing every pattern's state per path
// segment and pruning subtrees no pattern can still reach. Symbolic links
// are not followed: a link is matched by its own path.
type walker struct {
	patterns []*pattern
	res      *scanResult
	seen     map[string]map[string]bool
	entries  int
}

// live is one pattern with its NFA states at the current directory.
type live struct {
	p      *pattern
	states states
}

func walk(req scanRequest) (*scanResult, error) {
	w := &walker{res: &scanResult{Matches: map[string][]string{}}, seen: map[string]map[string]bool{}}
	for _, p := range req.Patterns {
		c := compilePattern(p)
		if len(c.segs) > maxSegments {
			return nil, fmt.Errorf("pattern %s has more than %d path segments", p, maxSegments)
		}
		w.patterns = append(w.patterns, c)
	}
	for _, root := range req.Roots {
		// Advance every pattern along the root's own segments.
		var lives []live
		for _, p := range w.patterns {
			states := p.start()
			for _, seg := range strings.Split(strings.TrimPrefix(root, "/"), "/") {
				if seg == "" {
					continue
				}
				if states = p.step(states, seg); states == 0 {
					break
				}
			}
			if states == 0 {
				continue
			}
			if p.accepts(states) {
				w.add(p.text, root)
				continue // the root itself matched: it stands for its subtree
			}
			lives = append(lives, live{p, states})
		}
		if len(lives) == 0 {
			continue
		}
		if err := w.dir(root, lives); err != nil {
			return nil, fmt.Errorf("scanning %s: %w", root, err)
		}
	}
	for _, m := range w.res.Matches {
		sort.Strings(m)
	}
	return w.res, nil
}

func (w *walker) add(pattern, path string) {
	s := w.seen[pattern]
	if s == nil {
		s = map[string]bool{}
		w.seen[pattern] = s
	}
	if !s[path] {
		s[path] = true
		w.res.Matches[pattern] = append(w.res.Matches[pattern], path)
	}
}

func (w *walker) dir(dir string, lives []live) error {
	var st syscall.Stat_t
	if err := syscall.Lstat(dir, &st); err != nil {
		return nil
	}
	w.res.Dirs = append(w.res.Dirs, dirStamp{Path: dir, CTime: st.Ctim.Nano(), Ino: st.Ino})
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) || errors.Is(err, fs.ErrNotExist) {
			return nil // unreadable to us is unreadable to the sandbox too
		}
		return err
	}
	w.entries += len(ents)
	if w.entries > maxScanEntries {
		return fmt.Errorf("more than %d entries: too large to check the policy's glob and protected-path rules", maxScanEntries)
	}
	var next []live
	for _, e := range ents {
		name := e.Name()
		path := dir + "/" + name
		if dir == "/" {
			path = "/" + name
		}
		isDir := e.IsDir()
		next = next[:0]
		for _, l := range lives {
			states := l.p.step(l.states, name)
			if states == 0 {
				continue
			}
			if l.p.accepts(states) {
				w.add(l.p.text, path)
				continue // a matched directory stands for everything below it
			}
			if isDir {
				next = append(next, live{l.p, states})
			}
		}
		if isDir && len(next) > 0 {
			if err := w.dir(path, append([]live(nil), next...)); err != nil {
				return err
			}
		}
	}
	return nil
}
