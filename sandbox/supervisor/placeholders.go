//go:build linux

package supervisor

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// Placeholders make protected paths that do not exist yet uncreatable.
//
// A bind mount needs an inode to land on, so a name that does not exist
// cannot be covered without creating something on the host; and unlinking
// a mount point from the host detaches that mount in every sandbox using
// it. So: a run creates the missing names as empty placeholders, covers
// each with a read-only bind (inside, the name can then be neither written,
// removed nor replaced: EROFS/EBUSY), and records it in a per-workspace
// registry. Two locks keep concurrent runs of one workspace safe:
//
//   - setup (exclusive, held briefly) serialises runs adding placeholders;
//   - alive (shared for a run's whole life, also inherited by bwrap so it
//     stays held until the sandbox is gone) tells whether any run lives.
//
// Removing takes alive exclusively, so it happens only when no run of the
// workspace is alive: the last run out removes them, and a reaper process
// does it when cordon itself was killed.
type Placeholders struct {
	dir      string // registry directory (in cordon's state dir)
	key      string // hash of the workspace root
	setup    *os.File
	alive    *os.File
	created  []placeholder
	released bool
}

// placeholder is one name cordon made, found again beneath Root (never
// by following a link) and removed only while it is still the inode made.
type placeholder struct {
	Path string `json:"path"`
	Root string `json:"root"` // the writable place it was made in
	Dir  bool   `json:"dir"`
	Dev  uint64 `json:"dev"`
	Ino  uint64 `json:"ino"`
	// CTime tells the inode made from another given the same number
	// later (a name removed and made again often reuses it).
	CTime int64 `json:"ctime"`
}

type registry struct {
	Placeholders []placeholder `json:"placeholders"`
}

func placeholderKey(root string) string {
	h := sha256.Sum256([]byte(root))
	return hex.EncodeToString(h[:12])
}

// lockFiles opens the two lock files of a workspace.
func lockFiles(dir, key string) (setup, alive *os.File, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, err
	}
	setup, err = os.OpenFile(filepath.Join(dir, key+".setup"), os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, nil, err
	}
	alive, err = os.OpenFile(filepath.Join(dir, key+".alive"), os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		setup.Close()
		return nil, nil, err
	}
	return setup, alive, nil
}

// LockPlaceholders takes the workspace's setup lock and a hold on its
// alive lock. The plan must be built after this: a plan made before it
// can count another run's placeholder as an ordinary existing path (so not
// recreate it) while that run's clean-up is removing it, leaving the name
// unprotected. Call Create next, which drops the setup lock.
func LockPlaceholders(regDir, root string) (*Placeholders, error) {
	ph := &Placeholders{dir: regDir, key: placeholderKey(root)}
	var err error
	if ph.setup, ph.alive, err = lockFiles(regDir, ph.key); err != nil {
		return nil, fmt.Errorf("placeholder locks: %w", err)
	}
	if err := unix.Flock(int(ph.setup.Fd()), unix.LOCK_EX); err != nil {
		ph.closeFiles()
		return nil, err
	}
	if err := unix.Flock(int(ph.alive.Fd()), unix.LOCK_SH); err != nil {
		ph.closeFiles()
		return nil, err
	}
	return ph, nil
}

// Create makes the missing placeholders ("/"-suffixed: directories), each
// beneath the innermost of roots holding it, and drops the setup lock; on
// error the run's hold is released too. It returns the paths now covered
// (to be bound read-only) and those it could not cover: a parent missing,
// or a symbolic link on the way (a placeholder is never made through
// one). The caller must enforce the uncovered ones another way (the guard)
// or refuse the run.
func (ph *Placeholders) Create(missing, roots []string) (covered, uncovered []string, err error) {
	defer unix.Flock(int(ph.setup.Fd()), unix.LOCK_UN)
	reg, err := ph.readRegistry()
	if err != nil {
		ph.Release()
		return nil, nil, err
	}
	covered = make([]string, 0, len(missing))
	for _, m := range missing {
		isDir := m[len(m)-1] == '/'
		path := filepath.Clean(m)
		root := InnermostRoot(path, roots)
		if root == "" || root == path {
			uncovered = append(uncovered, m)
			continue
		}
		st, err := makePlaceholder(root, path, isDir)
		switch {
		case errors.Is(err, unix.EEXIST):
			covered = append(covered, m) // exists (perhaps another run's placeholder): covered as it is
			continue
		case errors.Is(err, unix.ENOENT), errors.Is(err, unix.ENOTDIR), errors.Is(err, unix.ELOOP), errors.Is(err, unix.EXDEV):
			uncovered = append(uncovered, m)
			continue
		case err != nil:
			ph.writeRegistry(reg)
			ph.Release()
			return nil, nil, fmt.Errorf("placeholder %s: %w", path, err)
		}
		covered = append(covered, m)
		p := placeholder{Path: path, Root: root, Dir: isDir, Dev: st.Dev, Ino: st.Ino, CTime: st.Ctim.Nano()}
		reg.Placeholders = append(reg.Placeholders, p)
		ph.created = append(ph.created, p)
	}
	if err := ph.writeRegistry(reg); err != nil {
		ph.Release()
		return nil, nil, err
	}
	return covered, uncovered, nil
}

// makePlaceholder creates path below root, an empty file or directory
// that must not exist yet, resolving every component beneath root
// without following a symbolic link, and returns what it made. A handful
// of system calls: one run makes about twenty.
func makePlaceholder(root, path string, isDir bool) (unix.Stat_t, error) {
	var st unix.Stat_t
	rel, _ := relBelow(root, path)
	rfd, err := OpenRoot(root)
	if err != nil {
		return st, err
	}
	defer unix.Close(rfd)
	dirRel, base := splitRel(rel)
	dir, err := OpenBeneath(rfd, dirRel, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return st, err
	}
	defer unix.Close(dir)
	if isDir {
		if err := unix.Mkdirat(dir, base, 0o755); err != nil {
			return st, err
		}
		fd, err := unix.Openat(dir, base, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return st, err
		}
		defer unix.Close(fd)
		return st, unix.Fstat(fd, &st)
	}
	fd, err := unix.Openat(dir, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return st, err
	}
	defer unix.Close(fd)
	return st, unix.Fstat(fd, &st)
}

// Key names the workspace's registry and locks (for the reaper).
func (ph *Placeholders) Key() string { return ph.key }

// AliveFile is the lock bwrap inherits so the lock outlives cordon for
// exactly as long as the sandbox does.
func (ph *Placeholders) AliveFile() *os.File { return ph.alive }

// Release drops this run's hold (and the setup lock, when Create was not
// reached) and, when no other run of the workspace is alive, removes every
// registered placeholder.
func (ph *Placeholders) Release() {
	if ph.released {
		return
	}
	ph.released = true
	unix.Flock(int(ph.setup.Fd()), unix.LOCK_UN)
	unix.Flock(int(ph.alive.Fd()), unix.LOCK_UN)
	// A reaper of an earlier run may hold the lock for the few
	// milliseconds its own clean-up takes: try a little longer than that
	// before leaving the clean-up to whichever run is still alive.
	for i := 0; i < 20; i++ {
		if unix.Flock(int(ph.alive.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			ph.removeAll()
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	ph.closeFiles()
}

func (ph *Placeholders) closeFiles() {
	if ph.setup != nil {
		ph.setup.Close()
	}
	if ph.alive != nil {
		ph.alive.Close()
	}
}

// removeAll deletes the registered placeholders still exactly as made
// (same inode, still empty); the caller holds alive exclusively, so no
// sandbox of the workspace is alive to rearrange the names meanwhile.
func (ph *Placeholders) removeAll() {
	reg, err := ph.readRegistry()
	if err != nil {
		return
	}
	var kept []placeholder
	for _, p := range reg.Placeholders {
		if err := removePlaceholder(p); err != nil && !errors.Is(err, unix.ENOENT) {
			kept = append(kept, p)
		}
	}
	reg.Placeholders = kept
	_ = ph.writeRegistry(reg)
}

// removePlaceholder removes p when it is still the inode cordon made:
// found beneath its root through no symbolic link, identified on a
// descriptor, empty. Anything else is not ours any more and is left
// alone (nil: nothing to retry).
func removePlaceholder(p placeholder) error {
	if p.Root == "" {
		return nil // a registry of an older cordon: nothing safe to do
	}
	rel, ok := relBelow(p.Root, p.Path)
	if !ok || rel == "." {
		return nil
	}
	rfd, err := OpenRoot(p.Root)
	if err != nil {
		return nil // the root itself is gone or replaced by a link
	}
	defer unix.Close(rfd)
	dirRel, base := splitRel(rel)
	dir, err := OpenBeneath(rfd, dirRel, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil // a parent replaced by a link (or gone): ours is not there
	}
	defer unix.Close(dir)
	flags := unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_CLOEXEC
	if p.Dir {
		flags = unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	}
	fd, err := unix.Openat(dir, base, flags, 0)
	if err != nil {
		return nil // gone, or a link now: not ours
	}
	var st unix.Stat_t
	err = unix.Fstat(fd, &st)
	unix.Close(fd)
	if err != nil || st.Dev != p.Dev || st.Ino != p.Ino || st.Ctim.Nano() != p.CTime {
		return nil // replaced by the user: not ours any more
	}
	if p.Dir {
		if err := unix.Unlinkat(dir, base, unix.AT_REMOVEDIR); err != nil && !errors.Is(err, unix.ENOENT) {
			return nil // not empty: the user put something there on the host
		}
		return nil
	}
	if st.Size != 0 || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil
	}
	return unix.Unlinkat(dir, base, 0)
}

func (ph *Placeholders) regPath() string { return filepath.Join(ph.dir, ph.key+".json") }

func (ph *Placeholders) readRegistry() (*registry, error) {
	reg := &registry{}
	b, err := os.ReadFile(ph.regPath())
	if errors.Is(err, fs.ErrNotExist) {
		return reg, nil
	}
	if err != nil {
		return nil, fmt.Errorf("placeholder registry: %w", err)
	}
	if len(b) > 0 && json.Unmarshal(b, reg) != nil {
		return &registry{}, nil
	}
	return reg, nil
}

func (ph *Placeholders) writeRegistry(reg *registry) error {
	if len(reg.Placeholders) == 0 {
		err := os.Remove(ph.regPath())
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	b, _ := json.Marshal(reg)
	tmp := ph.regPath() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("placeholder registry: %w", err)
	}
	return os.Rename(tmp, ph.regPath())
}
