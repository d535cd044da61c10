//go:build linux

package linux

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cordon-dev/cordon/sandbox/supervisor"
	"github.com/cordon-dev/cordon/workspace"
	"golang.org/x/sys/unix"
)

// makeInHome creates a missing allow_write directory inside the user's
// home, as the user, so that the rule opens what it names instead of
// nothing (~/go/pkg before the first go get). The policy holding the rule
// is in effect, so it was trusted if it widened anything. Outside the home
// nothing is made (cordon check and the editor warn instead); neither
// cordon's own directories nor a protected name are ever made.
//
// A sandbox of another run may be able to write somewhere below the home,
// so the walk never follows a link: from the home's descriptor, one
// component at a time, O_NOFOLLOW, mkdirat for the missing ones.
func makeInHome(p *workspace.Policy, path string) error {
	home := p.Home
	if home == "" || path == home || !supervisor.Within(home, path) {
		return errors.New("not inside the home")
	}
	for _, own := range []string{p.StateDir, p.ConfigDir} {
		if own != "" && (supervisor.Within(own, path) || supervisor.Within(path, own)) {
			return errors.New("cordon's own directory")
		}
	}
	rel := strings.TrimPrefix(path, home+"/")
	for _, name := range workspace.ProtectedNames() {
		top := strings.SplitN(strings.TrimSuffix(name, "/"), "/", 2)[0]
		if strings.SplitN(rel, "/", 2)[0] == top {
			return errors.New("a protected name")
		}
	}
	realHome, err := filepath.EvalSymlinks(home)
	if err != nil {
		return err
	}
	fd, err := unix.Open(realHome, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	for _, comp := range strings.Split(rel, "/") {
		if comp == "" || comp == "." || comp == ".." {
			unix.Close(fd)
			return fmt.Errorf("bad path component %q", comp)
		}
		err := unix.Mkdirat(fd, comp, 0o755)
		if err != nil && !errors.Is(err, unix.EEXIST) {
			unix.Close(fd)
			return err
		}
		next, err := unix.Openat(fd, comp, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			return err // a link, or not a directory: made nothing through it
		}
		fd = next
	}
	unix.Close(fd)
	if _, err := os.Lstat(path); err != nil {
		return err
	}
	return nil
}
