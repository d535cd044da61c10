//go:build linux

package linux

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
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
// in it changes its mtime (and a replaced directory changes its inode).
type dirStamp struct {
	Path  string `json:"p"`
	MTime int64  `json:"m"`
	Ino   uint64 `json:"i"`
}

type scanResult struct {
	Matches []string   `json:"matches"`
	Dirs    []dirStamp `json:"dirs"`
}

// scanner finds the existing paths a set of glob rules names, walking with
// the standard library and caching the answer until a walked directory
// changes. The cache lives in cordon's state directory, which every
// sandbox hides: a command cannot edit it to drop a rule from later runs.
type scanner struct {
	cacheDir string // "" disables the cache
}

func (s scanner) scan(req scanRequest) ([]string, error) {
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
	b, err := os.ReadFile(filepath.Join(s.cacheDir, key+".json"))
	if err != nil {
		return nil, false
	}
	var res scanResult
	if json.Unmarshal(b, &res) != nil {
		return nil, false
	}
	for _, d := range res.Dirs {
		var st syscall.Stat_t
		if syscall.Lstat(d.Path, &st) != nil || st.Mtim.Nano() != d.MTime || st.Ino != d.Ino {
			return nil, false
		}
	}
	return &res, true
}

func (s scanner) store(key string, res *scanResult) {
	if s.cacheDir == "" {
		return
	}
	if err := os.MkdirAll(s.cacheDir, 0o700); err != nil {
		return
	}
	b, err := json.Marshal(res)
	if err != nil {
		return
	}
	tmp, err := os.CreateTemp(s.cacheDir, "scan-*")
	if err != nil {
		return
	}
	_, werr := tmp.Write(b)
	if cerr := tmp.Close(); werr != nil || cerr != nil {
		os.Remove(tmp.Name())
		return
	}
	if os.Rename(tmp.Name(), filepath.Join(s.cacheDir, key+".json")) != nil {
		os.Remove(tmp.Name())
	}
}

// walk visits each root once, pruning directories no pattern can reach.
// Symbolic links are not followed: a link is matched by its own path.
func walk(req scanRequest) (*scanResult, error) {
	res := &scanResult{}
	seen := map[string]bool{}
	entries := 0
	for _, root := range req.Roots {
		var relevant []string
		for _, p := range req.Patterns {
			if workspace.MatchPrefix(p, root) {
				relevant = append(relevant, p)
			}
		}
		if len(relevant) == 0 {
			continue
		}
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrPermission) || errors.Is(err, fs.ErrNotExist) {
					return nil // unreadable to us is unreadable to the sandbox too
				}
				return err
			}
			entries++
			if entries > maxScanEntries {
				return fmt.Errorf("more than %d entries below %s: too large to check the policy's glob and protected-path rules", maxScanEntries, root)
			}
			for _, p := range relevant {
				if workspace.Match(p, path) && !seen[path] {
					seen[path] = true
					res.Matches = append(res.Matches, path)
					break
				}
			}
			if !d.IsDir() {
				return nil
			}
			descend := false
			for _, p := range relevant {
				if canDescend(p, path) {
					descend = true
					break
				}
			}
			if !descend {
				return fs.SkipDir
			}
			var st syscall.Stat_t
			if syscall.Lstat(path, &st) == nil {
				res.Dirs = append(res.Dirs, dirStamp{Path: path, MTime: st.Mtim.Nano(), Ino: st.Ino})
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("scanning %s: %w", root, err)
		}
	}
	sort.Strings(res.Matches)
	return res, nil
}

// within reports whether p is dir or below it.
func within(dir, p string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

// canDescend reports whether a path strictly below dir could match p.
func canDescend(p, dir string) bool {
	if !workspace.MatchPrefix(p, dir) {
		return false
	}
	return strings.Contains(p, "**") || strings.Count(p, "/") > strings.Count(dir, "/")
}
