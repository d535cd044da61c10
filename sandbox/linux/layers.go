//go:build linux

package linux

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cordon-dev/cordon/sandbox/linux/initstage"
	"github.com/cordon-dev/cordon/sandbox/supervisor"
	"github.com/cordon-dev/cordon/workspace"
)

// Cache layers. bwrap 0.8 has no overlay options, so the layers are
// mounted one step earlier: cordon starts itself again (LayersArg) in a
// user and mount namespace of its own, where it is root over nothing but
// that namespace; it mounts one kernel overlay per cache directory there
// (the host's directory below, this workspace's layer above) and execs
// bwrap, whose `--ro-bind / /` then carries the overlays and whose
// `--bind` of each makes it writable inside. The host's mount namespace
// never sees them: the host's caches are only ever read.

// LayersArg is the hidden subcommand that mounts the layers and execs bwrap.
const LayersArg = initstage.LayersArg

// LayersMain is that subcommand.
func LayersMain(args []string) int { return initstage.LayersMain(args) }

type layer = initstage.Layer

// LayerRoot is where a workspace's cache layers live: in cordon's state
// directory, which every sandbox hides, so no sandbox (of this workspace
// or another) can write a layer but through its own overlay.
func LayerRoot(p *workspace.Policy) string {
	if p.StateDir == "" {
		return ""
	}
	return filepath.Join(p.StateDir, "layers", shortHash(p.Root))
}

// CleanCaches drops the workspace's cache layers (cordon cache clean).
// Overlayfs leaves its work directories without permissions; they are
// opened up first so the removal goes through.
func CleanCaches(p *workspace.Policy) (string, error) {
	root := LayerRoot(p)
	if root == "" {
		return "", errors.New("no state directory")
	}
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		_ = filepath.WalkDir(root, func(path string, d os.DirEntry, _ error) error {
			if d != nil && d.IsDir() {
				// A directory, never a link: Lstat-based, no following.
				_ = os.Chmod(path, 0o700)
			}
			return nil
		})
		if err = os.RemoveAll(root); err == nil {
			return root, nil
		}
	}
	return root, err
}

// planLayers picks the cache directories that get a layer: existing
// directories (missing ones in $HOME are made first, empty, as the tools
// themselves would), outside every workspace folder and cordon's own
// directories, neither $HOME nor /, the outermost of nested ones. Each
// gets layerRoot/NAME-HASH/{upper,work}.
//
// aliases are the cache paths as named where links lead elsewhere
// (~/.cache -> /data/cache): writes there land in a layer too.
func planLayers(p *workspace.Policy, layerRoot string) (layers []layer, aliases []string, err error) {
	if layerRoot == "" {
		return nil, nil, nil
	}
	var dirs []string
	for _, r := range p.Filesystem.Cache {
		if d, ok := cacheDir(p, r.Path); ok {
			dirs = append(dirs, d)
			if c := filepath.Clean(r.Path); c != d {
				aliases = append(aliases, c)
			}
		}
	}
	dirs = outermost(dedupe(dirs))
	for _, d := range dirs {
		if writableByRule(p, d) {
			continue // the user's allow_write makes it the host's own, written through
		}
		base := filepath.Join(layerRoot, strings.Trim(strings.ReplaceAll(strings.TrimPrefix(d, p.Home), "/", "-"), "-")+"-"+shortHash(d)[:8])
		l := layer{Path: d, Upper: filepath.Join(base, "upper")}
		works := filepath.Join(base, "work")
		for _, dir := range []string{l.Upper, works} {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, nil, fmt.Errorf("cache layer for %s: %w", d, err)
			}
		}
		// A work directory per run: overlayfs empties its work directory
		// at every mount, so two runs of one workspace mounting at once
		// over one of them fail (ENOENT). The run removes its own
		// (removeWorkDirs); one a killed cordon left is swept after a day.
		sweepWorkDirs(works, 24*time.Hour)
		if l.Work, err = os.MkdirTemp(works, "run-"); err != nil {
			return nil, nil, fmt.Errorf("cache layer for %s: %w", d, err)
		}
		layers = append(layers, l)
	}
	return layers, aliases, nil
}

// cacheDir vets one cache entry and returns the directory to layer.
func cacheDir(p *workspace.Policy, path string) (string, bool) {
	if !filepath.IsAbs(path) || workspace.HasGlob(path) || strings.ContainsAny(path, ",:\\\n") {
		return "", false // overlayfs option syntax: never escape, refuse
	}
	path = filepath.Clean(path)
	if _, err := os.Lstat(path); errors.Is(err, os.ErrNotExist) && p.Home != "" && supervisor.Within(p.Home, path) && path != p.Home && isDir(filepath.Dir(path)) {
		// A cache the tool would make on first use, in a directory of the
		// user's home that already exists (~/.npm, ~/.cache/go-build; not ~/go/pkg/mod without ~/go/pkg):
		// made empty as the user, where no sandbox can write.
		_ = os.Mkdir(path, 0o755)
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", false
	}
	fi, err := os.Stat(real)
	if err != nil || !fi.IsDir() {
		return "", false
	}
	for _, c := range []string{path, real} {
		if c == "/" || c == p.Home || supervisor.Within(c, p.Home) {
			return "", false
		}
		for _, own := range append(append([]string{}, p.Folders...), p.StateDir, p.ConfigDir) {
			if own != "" && (supervisor.Within(own, c) || supervisor.Within(c, own)) {
				return "", false
			}
		}
	}
	if strings.ContainsAny(real, ",:\\\n") {
		return "", false
	}
	return real, true
}

// tempMaxAge is how long a workspace's private /tmp is kept unused.
const tempMaxAge = 7 * 24 * time.Hour

// sweepTemps removes the private /tmp directories in dir that no run has
// used for tempMaxAge, but keep. dir is in cordon's state directory, which
// no sandbox can reach, and os.RemoveAll follows no links.
func sweepTemps(dir, keep string, logger *slog.Logger) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		path := filepath.Join(dir, e.Name())
		if path == keep || !e.IsDir() {
			continue
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > tempMaxAge {
			if err := os.RemoveAll(path); err != nil {
				logger.Warn("removing an old private /tmp", "dir", path, "err", err)
			}
		}
	}
}

// writableByRule reports whether an allow_write rule covers dir (dir is
// the rule's path or lies below it): a cache the user has chosen to write
// through gets no layer over it. (A rule for a directory inside a cache,
// ~/.cache/x, is still written to the layer: see README, Known limits.)
func writableByRule(p *workspace.Policy, dir string) bool {
	for _, r := range p.Filesystem.AllowWrite {
		if !workspace.HasGlob(r.Path) && supervisor.Within(filepath.Clean(r.Path), dir) {
			return true
		}
	}
	return false
}

// sweepWorkDirs removes the per-run work directories in dir older than
// age: runs that ended without removing theirs. The layers live in
// cordon's state directory, which no sandbox can reach.
func sweepWorkDirs(dir string, age time.Duration) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && strings.HasPrefix(e.Name(), "run-") && time.Since(fi.ModTime()) > age {
			_ = removeWorkDir(filepath.Join(dir, e.Name()))
		}
	}
}

// removeWorkDirs removes the run's work directories once its overlays are
// gone (they live in the run's own mount namespace).
func removeWorkDirs(layers []layer) {
	for _, l := range layers {
		_ = removeWorkDir(l.Work)
	}
}

// removeWorkDir removes one; overlayfs leaves a "work" directory of mode
// 0 inside, which must be made searchable before it can be emptied.
func removeWorkDir(dir string) error {
	_ = os.Chmod(filepath.Join(dir, "work"), 0o700)
	return os.RemoveAll(dir)
}
