package workspace

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Dirs are the user's home and cordon's config and state directories.
type Dirs struct {
	Home      string
	ConfigDir string // $XDG_CONFIG_HOME/cordon, default ~/.config/cordon
	StateDir  string // $XDG_STATE_HOME/cordon, default ~/.local/state/cordon
	// RuntimeDir holds the editor sessions' control sockets:
	// $XDG_RUNTIME_DIR/cordon, default $TMPDIR/cordon-UID. It is the Linux
	// backend's runtime directory too, which every sandbox gets an empty
	// tmpfs over (only the run's own temp dir is bound back into it), so
	// no socket there is visible inside.
	RuntimeDir string
}

// DefaultDirs reads HOME and the XDG variables.
func DefaultDirs() (Dirs, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return Dirs{}, fmt.Errorf("finding the home directory: %w", err)
	}
	if !filepath.IsAbs(home) {
		return Dirs{}, fmt.Errorf("home directory %q is not absolute", home)
	}
	d := Dirs{Home: filepath.Clean(home)}
	d.ConfigDir = xdg("XDG_CONFIG_HOME", filepath.Join(d.Home, ".config"))
	d.StateDir = xdg("XDG_STATE_HOME", filepath.Join(d.Home, ".local", "state"))
	d.RuntimeDir = runtimeDir()
	return d, nil
}

// xdg follows the spec: a relative value is invalid and ignored.
func xdg(name, def string) string {
	if v := os.Getenv(name); filepath.IsAbs(v) {
		return filepath.Join(filepath.Clean(v), "cordon")
	}
	return filepath.Join(def, "cordon")
}

// runtimeDir follows the XDG spec where XDG_RUNTIME_DIR is set; elsewhere
// a per-user directory in the temp dir (its owner and mode are checked by
// whoever uses it, see server/control).
func runtimeDir() string {
	if v := os.Getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(v) {
		return filepath.Join(filepath.Clean(v), "cordon")
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("cordon-%d", os.Getuid()))
}

// UserFile is the user defaults policy.
func (d Dirs) UserFile() string { return filepath.Join(d.ConfigDir, "sandbox.toml") }

// FindRoot resolves the workspace root for dir: the nearest ancestor
// holding .sandbox.toml, else the nearest holding .git, else dir itself.
func FindRoot(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if abs, err = filepath.EvalSymlinks(abs); err != nil {
		return "", fmt.Errorf("workspace %s: %w", dir, err)
	}
	if r, ok := nearest(abs, ".sandbox.toml"); ok {
		return r, nil
	}
	if r, ok := nearest(abs, ".git"); ok {
		return r, nil
	}
	return abs, nil
}

func nearest(dir, name string) (string, bool) {
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(filepath.Join(d, name)); err == nil {
			return d, true
		} else if !errors.Is(err, os.ErrNotExist) && !errors.Is(err, os.ErrPermission) {
			return "", false
		}
		if d == filepath.Dir(d) {
			return "", false
		}
	}
}
