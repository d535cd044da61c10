//go:build linux

package linux

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/cordon-dev/cordon/sandbox/landlock"
	"github.com/cordon-dev/cordon/sandbox/supervisor"
	"github.com/cordon-dev/cordon/workspace"
)

// The filesystem half of a run with no mount namespace (the standalone
// Landlock backend), computed from the same plan as the bwrap sandbox.
//
// Without mounts, Landlock grants by hierarchy only and cannot take a
// name out of a writable directory: MAKE_REG on the workspace root is
// inherited by .git/hooks, WRITE_FILE on it by .git/config. So every
// writable place is carved: write rights on each hierarchy inside it that
// holds no protected, read-only or hidden path, split recursively along
// the way to each one (the split directories, the "guard directories",
// get no write right of their own; their existing files get the right to
// be written directly). What Landlock then refuses in a guard directory
// (making, removing and renaming names, writing a file made during the
// run) the supervisor performs for the command, with the plan's checks
// (supervisor.Judge, Standalone set).

// StandaloneOptions configure PlanStandalone.
type StandaloneOptions struct {
	// Guard says the supervisor can perform calls for the command
	// (seccomp user notification with a listener). Without it, a plan
	// that needs guard directories is refused: Landlock alone would
	// either let the protected names be made or make the workspace root
	// unwritable.
	Guard bool
}

// Standalone is what the standalone backend enforces on one run.
type Standalone struct {
	// Rules is the ruleset the command runs under (landlock.Restrict in
	// the child, before exec): the carving of the writable places, the
	// read carving around the hidden paths, the devices, no pathname
	// unix socket unless the policy allows unix sockets, scoped signals
	// and abstract sockets. Require is set.
	Rules landlock.Rules
	// GuardDirs are the split directories: ancestors of protected paths
	// inside writable places, where the supervisor makes the names.
	// FileZones are the hierarchies where a deny_write or deny_read rule
	// may match a name not made yet: existing files there are writable,
	// new names are made by the supervisor too.
	GuardDirs, FileZones []string
	// Judge is the supervisor's view of the plan, for
	// supervisor.StartObserver (Judge.Standalone is set).
	Judge *supervisor.Judge
	// TempDir is the run's private temp dir (a host path, 0700): TMPDIR.
	TempDir string
	// Caches are the workspace's own cache directories, in place of the
	// copy-on-write layers the bwrap backend mounts.
	Caches []CacheDir
	// ReadOnlyCaches are cache entries no variable can point elsewhere:
	// read-only in this backend (a difference to say).
	ReadOnlyCaches []string
}

// CacheDir is one cache redirected to a directory of the workspace's own.
type CacheDir struct {
	Host string   // the cache as the policy names it: read-only here
	Dir  string   // the workspace's directory in cordon's state dir, writable
	Vars []string // NAME=VALUE pointing the tools at Dir
}

// CommandEnv is the environment the command starts with: the caller's,
// scrubbed of secrets (as under bwrap), [env].set, TMPDIR and its
// siblings at the private temp dir, and the cache variables last (so
// they win over the caller's: a GOCACHE pointing at the host's cache
// would only fail).
func (s *Standalone) CommandEnv(base []string, p *workspace.Policy) []string {
	override := map[string]bool{}
	for _, c := range s.Caches {
		for _, kv := range c.Vars {
			k, _, _ := strings.Cut(kv, "=")
			override[k] = true
		}
	}
	var env []string
	for _, kv := range commandEnv(base, p, s.TempDir) {
		if k, _, _ := strings.Cut(kv, "="); !override[k] {
			env = append(env, kv)
		}
	}
	for _, c := range s.Caches {
		env = append(env, c.Vars...)
	}
	return env
}

// standaloneTempDir is the workspace's private temp dir: the same
// directory the bwrap backend binds at /tmp (kept across runs, in
// cordon's state dir), else one in cordon's runtime dir.
func standaloneTempDir(p *workspace.Policy) (string, error) {
	if p.StateDir != "" {
		dir := filepath.Join(p.StateDir, "tmp", shortHash(p.Root))
		return dir, os.MkdirAll(dir, 0o700)
	}
	rt, err := runtimeDir()
	if err != nil {
		return "", fmt.Errorf("runtime directory: %w", err)
	}
	dir := filepath.Join(rt, "tmp-"+shortHash(p.Root))
	return dir, os.MkdirAll(dir, 0o700)
}

// PlanStandalone computes the filesystem half of a standalone run. An
// error names the rule that cannot be enforced: the run must be refused
// with it, never run with less.
func PlanStandalone(p *workspace.Policy, opts StandaloneOptions) (*Standalone, error) {
	if p == nil {
		return nil, errors.New("no policy")
	}
	// The supervisor judges real paths, and the protected paths and rules
	// are named under the folders as given: a folder named through a link
	// would leave every rule on a name that no real path carries.
	for _, f := range append([]string{p.Root}, p.Folders...) {
		if real, err := filepath.EvalSymlinks(f); err != nil || real != filepath.Clean(f) {
			return nil, fmt.Errorf("workspace folder %s is named through a symbolic link (real path %q): the Landlock backend needs its real path", f, real)
		}
	}
	tempDir, err := standaloneTempDir(p)
	if err != nil {
		return nil, fmt.Errorf("private temp dir: %w", err)
	}
	sc := scanner{}
	if p.StateDir != "" {
		sc.cacheDir = filepath.Join(p.StateDir, "scan")
	}
	pl, err := buildPlan(p, tempDir, sc)
	if err != nil {
		return nil, err
	}
	st := &Standalone{TempDir: tempDir}
	if st.Caches, st.ReadOnlyCaches, err = planCaches(p); err != nil {
		return nil, err
	}
	return st, st.carve(p, pl, opts)
}

// carve fills st's rules, guard directories and judge from the plan.
func (st *Standalone) carve(p *workspace.Policy, pl *plan, opts StandaloneOptions) error {
	// The temp dir lies in cordon's state dir, which the plan keeps out
	// of the writable places (the bwrap backend binds it at /tmp).
	writable := append(append([]string(nil), pl.Writable...), st.TempDir)
	for _, c := range st.Caches {
		writable = append(writable, c.Dir)
	}
	// Resolved: the split rules open their paths with no symbolic link in
	// them, and the supervisor judges real paths. The workspace folders
	// and allow_write places are resolved already; cordon's own temp and
	// cache dirs are named under $HOME, which may be a link (/home ->
	// /var/home). They lie in cordon's state dir, outside every writable
	// place: no sandbox can have planted a link on their way.
	for i, w := range writable {
		if real, err := filepath.EvalSymlinks(w); err == nil {
			writable[i] = real
		}
	}
	writable = outermost(dedupe(writable))
	// A deny rule named through a link into a writable place (deny_write
	// ~/proj/x with ~/proj a link, allow_write there) is planned at its
	// name, which no real path the supervisor and the ruleset judge
	// carries: it would be missed. Refused, the rule named: its real path
	// works. (The writable places themselves are scanned at their real
	// paths: buildPlan.)
	rules := append(append([]workspace.PathRule(nil), p.Filesystem.DenyWrite...), p.Filesystem.DenyRead...)
	for _, r := range rules {
		base := filepath.Clean(workspace.GlobBase(r.Path))
		if real := resolveExisting(base); real != base && supervisor.UnderAny(real, writable) {
			return fmt.Errorf("%s (%s) is named through a symbolic link (its real path is %s): without mounts the rule would be judged at a name no real path carries; write the real path", r.Path, r.Source, real)
		}
	}

	hidden := append(append([]string(nil), pl.HiddenDirs...), pl.HiddenFiles...)
	// Protected: what no write may reach inside a writable place. The
	// missing protected names are protected by path: nothing covers them
	// here, and the supervisor refuses making them.
	readOnly := append(append([]string(nil), pl.ReadOnly...), pl.Missing...)
	protected := append(append([]string(nil), readOnly...), hidden...)
	// A guarded path with no glob is carved around like a protected one:
	// its parent (or the nearest existing directory above it) is split,
	// so only the supervisor makes names on the way to it.
	for _, r := range pl.Guarded {
		if !workspace.HasGlob(r.Path) {
			protected = append(protected, filepath.Clean(r.Path))
		}
	}
	var inside []string
	for _, pr := range protected {
		if supervisor.UnderAny(pr, writable) {
			inside = append(inside, pr)
		}
	}
	inside = dedupe(inside)
	// A hidden path inside a writable place cannot be expressed: read is
	// granted by hierarchy, so every directory on the way to it (the
	// workspace root among them) would get read on its existing entries
	// only, and every file made there later would be unreadable. Refused,
	// never run with less (the bwrap backend hides it with a mount).
	for _, h := range hidden {
		if supervisor.UnderAny(h, writable) {
			src := workspace.Source{}
			for _, r := range p.Filesystem.DenyRead {
				if supervisor.Within(filepath.Clean(r.Path), h) || workspace.Match(r.Path, h) {
					src = r.Source
					break
				}
			}
			return fmt.Errorf("deny_read %s (%s) lies inside a writable place: without mounts, Landlock cannot keep it unreadable without making every file made later in the directories on the way to it unreadable too (the bwrap backend can; or keep it out of the workspace)", h, src)
		}
	}
	zones, zoneRules := guardZones(pl.Guarded, writable)
	if !opts.Guard {
		if len(zoneRules) > 0 {
			r := zoneRules[0]
			return fmt.Errorf("%s (%s) may match a name made during the run: without the supervisor (seccomp user notification), Landlock cannot refuse making it", r.Path, r.Source)
		}
		if len(inside) > 0 {
			return fmt.Errorf("%s is protected inside a writable place: without the supervisor (seccomp user notification), Landlock cannot refuse writing it", inside[0])
		}
	}
	c := carver{protected: inside, zones: zones}
	for _, w := range writable {
		c.visit(w)
	}
	st.GuardDirs, st.FileZones = c.guard, c.fileZones

	r := landlock.Rules{
		SplitDirs:  c.dirs,
		FileZones:  c.fileZones,
		SplitFiles: c.files,
		Sockets:    len(p.Network.AllowUnixSockets) > 0,
		Scope:      true,
		Require:    true,
		// The devices a command reads and writes. Not /dev/shm and not
		// /dev/pts: without a mount namespace they are the host's, shared
		// with every other process of the user (the command's own
		// terminal is open already on its descriptors).
		WriteFiles: []string{"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"},
	}
	// Reads: "/" minus every hidden path (none inside a writable place:
	// see above); allow_read and the writable places inside a hidden one
	// (the temp dir and caches in cordon's state dir) readable again.
	r.ReadDeny = dedupe(hidden)
	r.ReadAllow = append(r.ReadAllow, pl.Reopened...)
	denied := append([]string(nil), r.ReadDeny...)
	for _, d := range r.ReadDeny {
		if real, err := filepath.EvalSymlinks(d); err == nil {
			denied = append(denied, real) // as landlock.Restrict denies it
		}
	}
	for _, w := range writable {
		if supervisor.UnderAny(w, denied) {
			r.ReadAllow = append(r.ReadAllow, w)
		}
	}
	r.ReadAllow = dedupe(r.ReadAllow)
	if err := r.Validate(); err != nil {
		return err
	}
	st.Rules = r
	st.Judge = &supervisor.Judge{
		Writable:   writable,
		ReadOnly:   dedupe(readOnly),
		Hidden:     dedupe(hidden),
		TempDir:    st.TempDir,
		Guarded:    pl.Guarded,
		Policy:     p,
		Standalone: true,
		Granted:    c.dirs,
	}
	return nil
}

// resolveExisting resolves the links of the longest existing prefix of
// the absolute path p and appends the rest.
func resolveExisting(p string) string {
	rest := ""
	for d := p; ; d = filepath.Dir(d) {
		if real, err := filepath.EvalSymlinks(d); err == nil {
			return filepath.Join(real, rest)
		}
		if d == filepath.Dir(d) {
			return p
		}
		rest = filepath.Join(filepath.Base(d), rest)
	}
}

// guardZones are the directories (inside writable places) where a
// guarded glob may match a name not made yet: the glob's base, or the
// nearest existing directory above it. The rules are returned with
// them, for naming.
func guardZones(guarded []workspace.PathRule, writable []string) ([]string, []workspace.PathRule) {
	var zones []string
	var rules []workspace.PathRule
	for _, r := range guarded {
		if !workspace.HasGlob(r.Path) {
			continue // carved around as a protected path (carve)
		}
		base := workspace.GlobBase(r.Path)
		hit := false
		for _, w := range writable {
			switch {
			case supervisor.Within(base, w):
				zones, hit = append(zones, w), true
			case supervisor.Within(w, base):
				d := base
				for d != w && !isDir(d) {
					d = filepath.Dir(d)
				}
				zones, hit = append(zones, d), true
			}
		}
		if hit {
			rules = append(rules, r)
		}
	}
	return outermost(dedupe(zones)), rules
}

// carver splits writable places around protected paths.
type carver struct {
	protected, zones []string
	// dirs get every write right, fileZones the rights to write what
	// exists, files (directly in a guard directory) the same; guard
	// are the split directories.
	dirs, fileZones, files, guard []string
}

func (c *carver) visit(dir string) {
	if supervisor.UnderAny(dir, c.protected) {
		return // read-only or hidden: no write right at all
	}
	if !onTheWayTo(dir, c.protected) {
		switch {
		case supervisor.UnderAny(dir, c.zones):
			c.fileZones = append(c.fileZones, dir)
			return
		case !onTheWayTo(dir, c.zones):
			c.dirs = append(c.dirs, dir)
			return
		}
	}
	c.guard = append(c.guard, dir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return // unlistable or gone: nothing granted below, which fails closed
	}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		switch t := e.Type(); {
		case t&os.ModeSymlink != 0:
			// A write through it is judged at its target.
		case t.IsDir():
			c.visit(path)
		case t.IsRegular() && !supervisor.UnderAny(path, c.protected):
			c.files = append(c.files, path)
		}
	}
}

// onTheWayTo reports whether dir is a strict ancestor of one of paths.
func onTheWayTo(dir string, paths []string) bool {
	for _, p := range paths {
		if p != dir && supervisor.Within(dir, p) {
			return true
		}
	}
	return false
}

// cacheVars are the variables that point a default cache elsewhere,
// keyed by the cache's path below $HOME ("" for the XDG cache dir,
// wherever it is); each value is relative to the redirected directory.
var cacheVars = map[string][][2]string{
	"":                   {{"XDG_CACHE_HOME", ""}, {"GOCACHE", "go-build"}, {"PIP_CACHE_DIR", "pip"}},
	".npm":               {{"npm_config_cache", ""}},
	"go/pkg":             {{"GOMODCACHE", "mod"}},
	".bun/install/cache": {{"BUN_INSTALL_CACHE_DIR", ""}},
	".config/go":         {{"GOENV", "env"}},
}

// planCaches gives each cache entry a directory of the workspace's own in
// cordon's state dir (there is no overlay without mounts), with the
// variables that point the tools there; entries no variable redirects
// (cargo's, maven's, gradle's, the user's own) stay read-only, and are
// listed. A cache the user's allow_write makes writable is written
// through, as under bwrap, and needs neither.
func planCaches(p *workspace.Policy) (dirs []CacheDir, readOnly []string, err error) {
	if p.StateDir == "" {
		return nil, nil, nil
	}
	xdg := filepath.Join(p.Home, ".cache")
	if v := os.Getenv("XDG_CACHE_HOME"); filepath.IsAbs(v) {
		xdg = filepath.Clean(v)
	}
	root := filepath.Join(p.StateDir, "caches", shortHash(p.Root))
	for _, r := range p.Filesystem.Cache {
		path := filepath.Clean(r.Path)
		if workspace.HasGlob(path) || writableByRule(p, path) {
			continue
		}
		key, ok := "", path == xdg
		if !ok && p.Home != "" && supervisor.Within(p.Home, path) && path != p.Home {
			key = path[len(p.Home)+1:]
			_, ok = cacheVars[key]
		}
		if !ok {
			readOnly = append(readOnly, path)
			continue
		}
		name := "xdg-cache"
		if key != "" {
			name = strings.ReplaceAll(key, "/", "-")
		}
		c := CacheDir{Host: path, Dir: filepath.Join(root, name)}
		if err := os.MkdirAll(c.Dir, 0o700); err != nil {
			return nil, nil, fmt.Errorf("cache directory for %s: %w", path, err)
		}
		for _, v := range cacheVars[key] {
			c.Vars = append(c.Vars, v[0]+"="+filepath.Join(c.Dir, v[1]))
		}
		dirs = append(dirs, c)
	}
	sort.Strings(readOnly)
	return dirs, readOnly, nil
}
