//go:build linux

package linux

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/cordon-dev/cordon/sandbox/supervisor"
	"github.com/cordon-dev/cordon/workspace"
)

// plan is the filesystem view of one run, in the order bwrap applies it.
type plan struct {
	Writable []string // bound read-write
	ReadOnly []string // existing paths bound read-only over the writable ones
	// Missing are protected paths that do not exist yet. Nothing is made
	// on the host for them (a placeholder under a read-only bind would
	// show in the workspace and in git status while the run lives): each
	// is a Guarded rule, so the guard refuses making it, and the
	// directories on the way to it are pinned.
	Missing []string
	// HiddenDirs and HiddenFiles are covered by the run's masks: empty,
	// read-only directories and files whose opens are reported (maskSpecs).
	HiddenDirs, HiddenFiles []string
	Reopened                []string // allow_read paths bound back read-only inside hidden dirs
	Pinned                  []string // writable dirs bound onto themselves so they cannot be renamed away
	TempDir                 string
	// PrivateTmp, when set, is the host directory bound at /tmp: the host's
	// /tmp is then not visible inside, but for TmpExposed (read-only: a
	// home or cordon's own binaries that live there) and the writable
	// places below /tmp, bound back over it.
	PrivateTmp string
	TmpExposed []string
	// Layers are the copy-on-write cache directories (layers.go), and
	// LayerAliases their paths as named through links.
	Layers       []layer
	LayerAliases []string
	// Guarded are the deny_write rules a name made during the run could
	// match (globs, missing protected paths): mounts cannot cover names
	// that do not exist, so the observer makes every new name itself and
	// refuses these (see supervisor's guard.go).
	Guarded []workspace.PathRule
	// hiddenRule is the deny_read rule behind each hidden path (the zero
	// Source: the credential set), for reporting reads of its mask.
	hiddenRule map[string]workspace.Source
}

// addMissing guards a protected path that does not exist (src: the rule
// that asks for it; the zero Source for a protected name).
func (pl *plan) addMissing(path string, src workspace.Source) {
	path = filepath.Clean(path)
	if contains(pl.Missing, path) {
		return
	}
	pl.Missing = append(pl.Missing, path)
	pl.Guarded = append(pl.Guarded, workspace.PathRule{Path: path, Source: src})
	// The guard judges a name by its real path: a parent reached through a
	// link ($HOME -> /data/home) is guarded where it really is, too.
	if dir, err := filepath.EvalSymlinks(filepath.Dir(path)); err == nil {
		if real := filepath.Join(dir, filepath.Base(path)); real != path {
			pl.Guarded = append(pl.Guarded, workspace.PathRule{Path: real, Source: src})
		}
	}
}

// hide records the rule that hides path: the first one (the credential
// set comes before the files' rules).
func (pl *plan) hide(path string, src workspace.Source) {
	if _, ok := pl.hiddenRule[path]; !ok {
		pl.hiddenRule[path] = src
	}
}

// maskSpecs are the masks bound over the hidden paths (see
// supervisor.MakeMasks): an empty file for each hidden file, but those
// allow_read binds back whole; an empty directory for each hidden
// directory, holding the mount points of what is bound back over it
// and, for the credential set's directories, the names of their entries.
func (pl *plan) maskSpecs(p *workspace.Policy) []supervisor.MaskSpec {
	shown := workspace.CredentialNamesShown(workspace.Dirs{Home: p.Home})
	var specs []supervisor.MaskSpec
	for _, f := range pl.HiddenFiles {
		if !contains(pl.Reopened, f) {
			specs = append(specs, supervisor.MaskSpec{Path: f, Rule: pl.hiddenRule[f]})
		}
	}
	for _, d := range pl.HiddenDirs {
		s := supervisor.MaskSpec{Path: d, Dir: true, Rule: pl.hiddenRule[d]}
		for _, in := range pl.boundBackInto(d) {
			rel, _ := filepath.Rel(d, in)
			s.Mounts = append(s.Mounts, supervisor.MaskEntry{Name: rel, Dir: !isFile(in)})
		}
		if contains(shown, d) {
			s.Names = supervisor.ListNames(d)
		}
		specs = append(specs, s)
	}
	return specs
}

// boundBackInto lists what bwrapArgs binds back inside the hidden
// directory d: the run's temp dir, and allow_read paths.
func (pl *plan) boundBackInto(d string) []string {
	var out []string
	if pl.TempDir != "" && supervisor.Within(d, pl.TempDir) && d != pl.TempDir {
		out = append(out, pl.TempDir)
	}
	for _, r := range pl.Reopened {
		if supervisor.Within(d, r) && r != d {
			out = append(out, r)
		}
	}
	return out
}

// isFile: bwrap binds a source as its links lead.
func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

// judge is what the host-side supervisor needs of the plan: where the
// sandbox refuses writes.
func (pl *plan) judge(p *workspace.Policy) *supervisor.Judge {
	writable := append([]string{}, pl.Writable...)
	for _, l := range pl.Layers {
		writable = append(writable, l.Path)
	}
	writable = append(writable, pl.LayerAliases...)
	temp := pl.TempDir
	if pl.PrivateTmp != "" {
		temp = "/tmp"
	}
	return &supervisor.Judge{
		Writable: writable,
		ReadOnly: append([]string{}, pl.ReadOnly...),
		Hidden:   append(append([]string{}, pl.HiddenDirs...), pl.HiddenFiles...),
		TempDir:  temp,
		Exposed:  pl.TmpExposed,
		Guarded:  pl.Guarded,
		Policy:   p,
	}
}

// buildPlan resolves the policy against the filesystem as it is now.
func buildPlan(p *workspace.Policy, tempDir string, sc scanner) (*plan, error) {
	pl := &plan{TempDir: tempDir, hiddenRule: map[string]workspace.Source{}}

	// Writable: the workspace folders, allow_write, the private temp dir.
	var writable []string
	for _, f := range p.Folders {
		writable = append(writable, f)
	}
	var globWrite []string
	for _, r := range p.Filesystem.AllowWrite {
		if workspace.HasGlob(r.Path) {
			globWrite = append(globWrite, r.Path)
			continue
		}
		if exists(r.Path) || makeInHome(p, r.Path) == nil {
			writable = append(writable, r.Path)
		}
	}
	// Scanned where they will be writable: at their real paths (an
	// allow_write named through a link, ~/proj -> /data/proj, is bound at
	// its target, and its protected paths must be found there to be
	// covered).
	roots := safeWritable(p.Folders, writable)

	// One walk answers every rule that needs one: globs and protected
	// names at any depth in the writable places.
	var patterns []string
	patterns = append(patterns, globWrite...)
	for _, r := range p.Filesystem.DenyWrite {
		if workspace.HasGlob(r.Path) {
			patterns = append(patterns, r.Path)
		}
	}
	for _, r := range append(append([]workspace.PathRule{}, p.Filesystem.DenyRead...), p.Filesystem.AllowRead...) {
		if workspace.HasGlob(r.Path) {
			patterns = append(patterns, r.Path)
		}
	}
	scanRoots := append([]string{}, roots...)
	protectedPatterns := protectedPatterns(roots)
	patterns = append(patterns, protectedPatterns...)
	for _, r := range p.Filesystem.DenyRead {
		if workspace.HasGlob(r.Path) {
			scanRoots = append(scanRoots, workspace.GlobBase(r.Path))
		}
	}
	matches, err := sc.scan(scanRequest{Roots: dedupe(scanRoots), Patterns: patterns})
	if err != nil {
		return nil, err
	}
	matching := func(pattern string) []string { return matches[pattern] }
	for _, g := range globWrite {
		writable = append(writable, matching(g)...)
	}
	pl.Writable = append(safeWritable(p.Folders, writable), tempDir)
	// cordon's own config and state are never writable from inside,
	// whatever allow_write says: a writable place within them is dropped,
	// and they are read-only (and, being in the credential set, hidden)
	// within any other; missing, they are covered below.
	cordonDirs := nonEmpty(p.ConfigDir, p.StateDir)
	pl.Writable = notWithin(pl.Writable, cordonDirs)

	// Read-only on top: deny_write, protected paths that exist (any depth),
	// the policy files themselves.
	var ro []string
	for _, r := range p.Filesystem.DenyWrite {
		switch {
		case workspace.HasGlob(r.Path):
			ro = append(ro, matching(r.Path)...)
			if base := workspace.GlobBase(r.Path); supervisor.UnderAny(base, pl.Writable) || anyUnder(base, pl.Writable) {
				pl.Guarded = append(pl.Guarded, r)
			}
		case exists(r.Path):
			ro = append(ro, r.Path)
		case supervisor.UnderAny(r.Path, pl.Writable):
			pl.addMissing(r.Path, r.Source)
		}
	}
	for _, pat := range protectedPatterns {
		ro = append(ro, matching(pat)...)
	}
	for _, f := range append([]string{p.File, p.UserFile}, cordonDirs...) {
		if f != "" && exists(f) {
			ro = append(ro, f)
		}
	}
	ro = append(ro, gitdirProtected(p.Folders)...)
	pl.ReadOnly = pl.linkFree(onlyUnderWritable(dedupe(ro), pl.Writable), p.Filesystem.DenyWrite)

	// Missing protected names: at each folder root, and in $HOME when it
	// is writable.
	tops := append([]string{}, p.Folders...)
	if supervisor.UnderAny(p.Home, pl.Writable) {
		tops = append(tops, p.Home)
	}
	for _, top := range tops {
		for _, name := range workspace.ProtectedNames() {
			path := filepath.Join(top, name)
			if exists(path) {
				continue
			}
			if name == ".git/hooks/" || name == ".git/config" {
				// A missing .git is left creatable (git init must work);
				// inside an existing .git directory the names are
				// covered. A .git file (worktree, submodule) is itself
				// read-only and its gitdir's are covered by
				// gitdirProtected.
				if !isDir(filepath.Join(top, ".git")) {
					continue
				}
			}
			pl.addMissing(path, workspace.Source{})
		}
	}
	if p.File != "" && !exists(p.File) && supervisor.UnderAny(p.File, pl.Writable) {
		pl.addMissing(p.File, workspace.Source{})
	}

	// Hidden: deny_read; reopened: allow_read.
	for _, r := range p.Filesystem.DenyRead {
		paths := []string{r.Path}
		if workspace.HasGlob(r.Path) {
			if base := workspace.GlobBase(r.Path); supervisor.UnderAny(base, pl.Writable) || anyUnder(base, pl.Writable) {
				pl.Guarded = append(pl.Guarded, r) // new names it matches must not be made
			}
			// Parents first: what lies in a directory already hidden needs
			// no stat and no mount of its own ("secrets/**" matches every
			// file below secrets).
			paths = append([]string(nil), matching(r.Path)...)
			sort.Strings(paths)
		}
		for _, path := range paths {
			if supervisor.UnderAny(path, pl.HiddenDirs) {
				continue
			}
			fi, err := os.Stat(path)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				// Not there yet: it must not be made from inside (then it
				// would be an ordinary file); once made on the host, the
				// next plan hides it.
				if supervisor.UnderAny(path, pl.Writable) {
					pl.Guarded = append(pl.Guarded, workspace.PathRule{Path: path, Source: r.Source})
				}
				continue
			case err != nil:
				return nil, fmt.Errorf("deny_read %s: %w", path, err)
			case fi.IsDir() && tempDir != "" && path == filepath.Dir(tempDir):
				// cordon's runtime dir (credential set): bwrapArgs hides
				// it with an empty tmpfs and binds the run's own temp
				// dir back; a hidden dir here would cover that too.
			case fi.IsDir():
				pl.HiddenDirs = append(pl.HiddenDirs, path)
				pl.hide(path, r.Source)
			default:
				pl.HiddenFiles = append(pl.HiddenFiles, path)
				pl.hide(path, r.Source)
			}
		}
	}
	pl.HiddenDirs = outermost(dedupe(pl.HiddenDirs))
	for _, r := range p.Filesystem.AllowRead {
		paths := []string{r.Path}
		if workspace.HasGlob(r.Path) {
			paths = matching(r.Path)
		}
		for _, path := range paths {
			if exists(path) && (supervisor.UnderAny(path, pl.HiddenDirs) || contains(pl.HiddenFiles, path)) && staysInside(path, pl.HiddenDirs, pl.HiddenFiles) {
				pl.Reopened = append(pl.Reopened, path)
			}
		}
	}
	pl.Reopened = dedupe(pl.Reopened)

	// Pin .git directories so they cannot be renamed away and recreated
	// without their protected hooks and config.
	for _, f := range p.Folders {
		g := filepath.Join(f, ".git")
		if fi, err := os.Lstat(g); err == nil && fi.IsDir() {
			pl.Pinned = append(pl.Pinned, g)
		}
	}
	// Pin every directory between a writable root and a read-only, hidden
	// or protected path: otherwise
	// `mv config config2 && mkdir config` moves the read-only bind away
	// with its directory and a new config/prod.env can be written in its
	// place, `mv ~/.docker ~/.d2` makes the next run miss the rule for
	// ~/.docker/config.json, and `mv ~/.local ~/.l2` lets the command make
	// its own ~/.local/state/cordon (rename of a mount point fails with
	// EBUSY; of its parent it does not).
	// (cordon's own directories are read-only or guarded when they lie in
	// a writable place, and so are the protected names in $HOME: their
	// ancestors, $HOME among them, are pinned with the others.)
	guarded := append(append(append([]string{}, pl.ReadOnly...), pl.Missing...), pl.Pinned...)
	guarded = append(append(guarded, pl.HiddenDirs...), pl.HiddenFiles...)
	pl.Pinned = append(pl.Pinned, pinAncestors(guarded, pl.Writable)...)
	pl.Pinned = dedupe(pl.Pinned)
	sort.Strings(pl.Pinned) // parents before children
	return pl, nil
}

// linkFree keeps the read-only paths that lie beneath their writable
// root through no symbolic link. A bind follows links, so a path with one
// on the way (a repository's "x -> ../../outside" under a rule for x/f,
// or a protected name that is itself a link) would cover the link's
// target, and the name the rule is about stays free to be removed and
// made again: those are left to the guard, which refuses making them.
func (pl *plan) linkFree(ro []string, denyWrite []workspace.PathRule) []string {
	out := ro[:0]
	for _, p := range ro {
		root := supervisor.InnermostRoot(p, pl.Writable)
		if root == "" || supervisor.LinkFree(root, p) == nil {
			out = append(out, p)
			continue
		}
		var src workspace.Source
		for _, r := range denyWrite {
			if supervisor.Within(r.Path, p) || workspace.Match(r.Path, p) {
				src = r.Source
				break
			}
		}
		pl.Guarded = append(pl.Guarded, workspace.PathRule{Path: p, Source: src})
	}
	return out
}

// protectedPatterns are the glob patterns of existing protected paths at
// any depth below each root.
func protectedPatterns(roots []string) []string {
	var out []string
	for _, root := range roots {
		for _, name := range workspace.ProtectedNames() {
			out = append(out, filepath.Join(root, "**", strings.TrimSuffix(name, "/")))
		}
	}
	return out
}

// gitdirProtected protects a ".git" file (worktrees, submodules), which
// could otherwise be pointed at a gitdir whose hooks the command wrote,
// and follows its "gitdir:" line to protect the real hooks and config.
func gitdirProtected(folders []string) []string {
	var out []string
	for _, f := range folders {
		gitfile := filepath.Join(f, ".git")
		if fi, err := os.Lstat(gitfile); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		out = append(out, gitfile)
		b, err := os.ReadFile(gitfile)
		if err != nil {
			continue
		}
		line, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir:")
		if !ok {
			continue
		}
		dir := strings.TrimSpace(line)
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(f, dir)
		}
		for _, name := range []string{"hooks", "config"} {
			if p := filepath.Join(dir, name); exists(p) {
				out = append(out, p)
			}
		}
		// A worktree's gitdir names the common dir holding the shared config and hooks.
		if c, err := os.ReadFile(filepath.Join(dir, "commondir")); err == nil {
			common := strings.TrimSpace(string(c))
			if !filepath.IsAbs(common) {
				common = filepath.Join(dir, common)
			}
			for _, name := range []string{"hooks", "config"} {
				if p := filepath.Join(common, name); exists(p) {
					out = append(out, p)
				}
			}
		}
	}
	return out
}

func isDir(p string) bool {
	fi, err := os.Lstat(p)
	return err == nil && fi.IsDir()
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// anyUnder reports whether one of dirs lies within p.
func anyUnder(p string, dirs []string) bool {
	for _, d := range dirs {
		if supervisor.Within(p, d) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// onlyUnderWritable keeps the read-only binds that matter: those on a
// writable place (elsewhere everything is read-only already).
func onlyUnderWritable(ro, writable []string) []string {
	var out []string
	for _, p := range ro {
		if supervisor.UnderAny(p, writable) {
			out = append(out, p)
		}
	}
	return out
}

// outermost drops directories inside another listed directory.
func outermost(dirs []string) []string {
	sort.Strings(dirs)
	var out []string
	for _, d := range dirs {
		if len(out) > 0 && supervisor.Within(out[len(out)-1], d) {
			continue
		}
		out = append(out, d)
	}
	return out
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		s = filepath.Clean(s)
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// pinAncestors lists the existing real directories strictly between each
// path and the innermost writable root holding it.
func pinAncestors(paths, writable []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range paths {
		root := ""
		for _, w := range writable {
			if supervisor.Within(w, p) && len(w) > len(root) {
				root = w
			}
		}
		if root == "" {
			continue
		}
		for d := filepath.Dir(p); d != root && supervisor.Within(root, d) && !seen[d]; d = filepath.Dir(d) {
			seen[d] = true
			if fi, err := os.Lstat(d); err == nil && fi.IsDir() {
				out = append(out, d)
			}
		}
	}
	return out
}

// safeWritable resolves the writable places the way bwrap would mount
// them. The workspace folders are bound as they are (resolved when the
// workspace was found); an allow_write path inside one adds nothing and is
// dropped, so a link an agent plants there (gen/link -> /etc) is never
// followed into a writable bind; one outside is bound at the place its
// links lead, which is what the policy's trust check judged.
func safeWritable(folders, writable []string) []string {
	out := append([]string{}, folders...)
	for _, w := range writable {
		if supervisor.UnderAny(w, folders) {
			continue
		}
		real, err := filepath.EvalSymlinks(w)
		if err != nil {
			continue
		}
		out = append(out, real)
	}
	return dedupe(out)
}

// staysInside reports whether an allow_read path, links followed, is
// still inside what it re-opens: a link planted inside a deny_read
// directory must not re-open a credential elsewhere.
func staysInside(path string, dirs, files []string) bool {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return false
	}
	if contains(files, path) {
		return real == path
	}
	for _, d := range dirs {
		if supervisor.Within(d, path) {
			rd, err := filepath.EvalSymlinks(d)
			return err == nil && supervisor.Within(rd, real)
		}
	}
	return false
}

// privateTmp makes the host directory dir the sandbox's /tmp: the places
// below the host's /tmp that the run needs (writable ones, and exposed,
// read-only) are bound back over it, and every other mount the plan
// would make there is dropped (nothing there to cover, and bwrap would
// make its mount point inside dir).
func (pl *plan) privateTmp(dir string, exposed []string) {
	pl.PrivateTmp = dir
	for _, e := range dedupe(exposed) {
		if supervisor.Within("/tmp", e) && e != "/tmp" && exists(e) && !supervisor.UnderAny(e, pl.Writable) {
			pl.TmpExposed = append(pl.TmpExposed, e)
		}
	}
	pl.TmpExposed = outermost(pl.TmpExposed)
	var seen []string
	seen = append(append(seen, pl.Writable...), pl.TmpExposed...)
	for _, l := range pl.Layers {
		seen = append(seen, l.Path)
	}
	keep := func(paths []string) []string {
		var out []string
		for _, p := range paths {
			if !supervisor.Within("/tmp", strings.TrimSuffix(p, "/")) || supervisor.UnderAny(strings.TrimSuffix(p, "/"), seen) {
				out = append(out, p)
			}
		}
		return out
	}
	pl.Writable = keep(pl.Writable)
	// The private temp dir is /tmp itself now, not a place of its own.
	var w []string
	for _, p := range pl.Writable {
		if p != pl.TempDir {
			w = append(w, p)
		}
	}
	pl.Writable = w
	pl.ReadOnly, pl.Missing, pl.Pinned = keep(pl.ReadOnly), keep(pl.Missing), keep(pl.Pinned)
	pl.HiddenDirs, pl.HiddenFiles, pl.Reopened = keep(pl.HiddenDirs), keep(pl.HiddenFiles), keep(pl.Reopened)
}

func nonEmpty(paths ...string) []string {
	var out []string
	for _, p := range paths {
		if p != "" {
			out = append(out, filepath.Clean(p))
		}
	}
	return out
}

// notWithin drops the paths within one of dirs.
func notWithin(paths, dirs []string) []string {
	var out []string
	for _, p := range paths {
		if !supervisor.UnderAny(p, dirs) {
			out = append(out, p)
		}
	}
	return out
}
