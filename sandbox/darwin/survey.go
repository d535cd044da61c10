package darwin

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/cordon-dev/cordon/workspace"
)

// Survey gathers the facts a profile depends on, from the filesystem as
// it is when the run starts: git directories and .git files at each
// workspace folder, the protected names that exist deeper in them (a walk
// that follows no symlink), and the real location of every denied or
// writable literal path reached through a symbolic link (seatbelt judges
// the path the kernel resolved, so a rule must name that one too).
//
// What the walk cannot see changes nothing it protects: a protected name
// made deeper during the run is not blocked (as on Linux, where it is
// reported), and the rules for the folder roots hold for missing files.
func Survey(p *workspace.Policy) Found {
	var f Found
	for _, top := range p.Folders {
		gitAt(top, &f)
		f.Protected = append(f.Protected, deeper(top, &f)...)
	}
	var literal []string
	for _, list := range [][]workspace.PathRule{p.Filesystem.DenyWrite, p.Filesystem.DenyRead, p.Filesystem.AllowRead} {
		for _, r := range list {
			if g := ruleGlob(r, p.Root); !workspace.HasGlob(g) {
				literal = append(literal, g)
			} else if !workspace.HasGlob(r.Path) {
				// A slash-less name (".env"): at least its link at the
				// root is followed.
				literal = append(literal, r.Path)
			}
		}
	}
	for _, top := range p.Folders {
		for _, name := range workspace.ProtectedNames() {
			literal = append(literal, filepath.Join(top, strings.TrimSuffix(name, "/")))
		}
	}
	literal = append(literal, f.Protected...)
	for _, l := range uniq(literal) {
		if r := resolve(l); r != l {
			f.Resolved = append(f.Resolved, r)
		}
	}
	for _, r := range p.Filesystem.AllowWrite {
		if g := ruleGlob(r, p.Root); !workspace.HasGlob(g) {
			if res := resolve(g); res != g {
				f.ResolvedWritable = append(f.ResolvedWritable, res)
			}
		}
	}
	return f
}

// gitAt records TOP/.git: a directory's hooks and config are protected;
// a .git file (a worktree or submodule) is read-only, and the hooks and
// config of the gitdir it names, and of that gitdir's common dir, are
// protected.
func gitAt(top string, f *Found) {
	gitfile := filepath.Join(top, ".git")
	fi, err := os.Lstat(gitfile)
	switch {
	case err != nil:
		return
	case fi.IsDir():
		f.GitDirs = append(f.GitDirs, gitfile)
		return
	case !fi.Mode().IsRegular():
		f.GitFiles = append(f.GitFiles, gitfile) // a symlink: at least it stays
		return
	}
	f.GitFiles = append(f.GitFiles, gitfile)
	b, err := os.ReadFile(gitfile)
	if err != nil {
		return
	}
	line, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir:")
	if !ok {
		return
	}
	dir := strings.TrimSpace(line)
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(top, dir)
	}
	dir = resolve(filepath.Clean(dir))
	f.GitDirs = append(f.GitDirs, dir)
	if c, err := os.ReadFile(filepath.Join(dir, "commondir")); err == nil {
		common := strings.TrimSpace(string(c))
		if !filepath.IsAbs(common) {
			common = filepath.Join(dir, common)
		}
		f.GitDirs = append(f.GitDirs, resolve(filepath.Clean(common)))
	}
}

// deeper walks top for protected names below its root: files and
// directories by name, and every .git directory (a nested repository or a
// clone) for its hooks and config. The walk does not descend into what it
// found.
func deeper(top string, f *Found) []string {
	names := map[string]bool{}
	for _, n := range workspace.ProtectedNames() {
		if !strings.HasPrefix(n, ".git/") {
			names[strings.TrimSuffix(n, "/")] = true
		}
	}
	var out []string
	filepath.WalkDir(top, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == top {
			return nil // an unreadable directory holds nothing we could protect
		}
		name := d.Name()
		if name == ".git" {
			if filepath.Dir(path) != top {
				if d.IsDir() {
					f.GitDirs = append(f.GitDirs, path)
				} else {
					f.GitFiles = append(f.GitFiles, path)
				}
			}
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if names[name] && filepath.Dir(path) != top {
			out = append(out, path)
			if d.IsDir() {
				return fs.SkipDir
			}
		}
		return nil
	})
	return out
}

// resolve returns p with the symbolic links of its longest existing
// prefix resolved; the missing rest is kept as written.
func resolve(p string) string {
	rest := ""
	for q := p; ; q = filepath.Dir(q) {
		if r, err := filepath.EvalSymlinks(q); err == nil {
			return filepath.Join(r, rest)
		}
		if q == "/" || q == "." {
			return p
		}
		rest = filepath.Join(filepath.Base(q), rest)
	}
}
