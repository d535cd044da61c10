//go:build linux

package supervisor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/workspace"
	"golang.org/x/sys/unix"
)

// A hidden path (deny_read, the credential set) is covered by a mask:
// an empty file or directory cordon makes for the run and binds over it
// read-only. The sandbox can open a mask and finds nothing in it; the
// open is what reports the read. An inotify watch on each mask (host
// side, made before the sandbox starts) sees every open of it, from
// any mount namespace, and nothing else the run does: no watching of
// every open of every run. A failed open (a name the mask does not
// have) is not seen: for that, a directory of the credential set shows
// its host entries' names, empty (workspace.CredentialNamesShown).

// MaskSpec is one hidden path of a run, as its mask is made.
type MaskSpec struct {
	Path string           // the hidden path, as the sandbox names it
	Dir  bool             // a directory (else a file)
	Rule workspace.Source // the deny_read rule behind it (zero: the credential set)
	// Names are the host directory's top-level entries the mask shows,
	// empty (ListNames); Mounts are the paths below Path that the plan
	// binds over the mask (allow_read, the run's temp dir), relative:
	// their mount points must be there, since the mask is read-only.
	Names, Mounts []MaskEntry
}

// MaskEntry is a name in a mask: Name is relative to the mask (a Mounts
// entry may have several components, each but the last a directory).
type MaskEntry struct {
	Name string
	Dir  bool
}

// MaskIdentity names a mask's inode, for the Landlock layer to grant
// reading it (and only it) inside: bind mounts keep st_dev and st_ino.
type MaskIdentity struct {
	Path     string // the hidden path
	Dev, Ino uint64
}

// maxNamesShown bounds the names a mask shows (and the cost of making it).
const maxNamesShown = 256

// Masks are the masks of one run and the watch on them.
type Masks struct {
	dir     string            // the run's own directory of masks
	sources map[string]string // hidden path → its mask
	ids     []MaskIdentity
	ino     *os.File // the inotify instance; nil: reads are not reported
	watches map[int32]maskWatch
	done    chan struct{}
	// Unwatched says why reads are not reported (the masks still hide).
	Unwatched error
	found     found
}

type maskWatch struct {
	path string
	rule workspace.Source
}

// MakeMasks makes the masks of specs in a new directory of the private
// directory parent (cordon's runtime dir, hidden inside every sandbox)
// and watches them. Everything is made below a descriptor of that new
// directory, exclusively and following no link.
func MakeMasks(parent string, specs []MaskSpec) (*Masks, error) {
	if err := workspace.PrivateDir(parent); err != nil {
		return nil, fmt.Errorf("masks: %w", err)
	}
	sweepMasks(parent)
	dir, err := os.MkdirTemp(parent, "run-")
	if err != nil {
		return nil, fmt.Errorf("masks: %w", err)
	}
	m := &Masks{dir: dir, sources: map[string]string{}, watches: map[int32]maskWatch{}, done: make(chan struct{})}
	if err := m.make(specs); err != nil {
		m.Remove()
		return nil, err
	}
	m.watch(specs)
	return m, nil
}

func (m *Masks) make(specs []MaskSpec) error {
	dfd, err := OpenRoot(m.dir)
	if err != nil {
		return fmt.Errorf("masks: %w", err)
	}
	defer unix.Close(dfd)
	for i, s := range specs {
		name := "f" + strconv.Itoa(i)
		if s.Dir {
			name = "d" + strconv.Itoa(i)
		}
		if err := makeMask(dfd, name, s); err != nil {
			return fmt.Errorf("mask for %s: %w", s.Path, err)
		}
		var st unix.Stat_t
		if err := unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("mask for %s: %w", s.Path, err)
		}
		m.sources[s.Path] = filepath.Join(m.dir, name)
		m.ids = append(m.ids, MaskIdentity{Path: s.Path, Dev: uint64(st.Dev), Ino: st.Ino})
	}
	return nil
}

// makeMask makes one mask, name in dfd: an empty file (0444), or a
// directory (0555) holding the mount points and the names shown.
func makeMask(dfd int, name string, s MaskSpec) error {
	if !s.Dir {
		return makeEntry(dfd, name, false)
	}
	if err := unix.Mkdirat(dfd, name, 0o700); err != nil {
		return err
	}
	var dirs []string // made, to close when done
	for _, e := range append(append([]MaskEntry(nil), s.Mounts...), s.Names...) {
		parts := strings.Split(e.Name, "/")
		rel := name
		for i, part := range parts {
			if part == "" || part == "." || part == ".." {
				return fmt.Errorf("bad name %q", e.Name)
			}
			rel += "/" + part
			dir := e.Dir || i < len(parts)-1
			if err := makeEntry(dfd, rel, dir); errors.Is(err, unix.EEXIST) {
				continue // a mount point's parent, or a name shown that is one
			} else if err != nil {
				return err
			}
			if dir {
				dirs = append(dirs, rel)
			}
		}
	}
	for _, d := range append(dirs, name) {
		if err := unix.Fchmodat(dfd, d, 0o555, 0); err != nil {
			return err
		}
	}
	return nil
}

// makeEntry makes rel below dfd, exclusively, through no link: an empty
// file (0444) or a directory (0700 until it is filled).
func makeEntry(dfd int, rel string, dir bool) error {
	parent, base := filepath.Split(rel)
	pfd, err := OpenBeneath(dfd, parent, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	if dir {
		return unix.Mkdirat(pfd, base, 0o700)
	}
	fd, err := unix.Openat(pfd, base, unix.O_CREAT|unix.O_EXCL|unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o444)
	if err != nil {
		return err
	}
	return unix.Close(fd)
}

// ListNames reads the top-level entries of the directory path, reached
// through no symbolic link (a link planted where a credential directory
// was shows nothing), at most maxNamesShown of them.
func ListNames(path string) []MaskEntry {
	fd, err := unix.Openat2(unix.AT_FDCWD, path, &unix.OpenHow{
		Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return nil
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	ents, _ := f.ReadDir(maxNamesShown)
	out := make([]MaskEntry, 0, len(ents))
	for _, e := range ents {
		out = append(out, MaskEntry{Name: e.Name(), Dir: e.IsDir()})
	}
	return out
}

// watch adds an IN_OPEN watch on every mask: a directory's watch also
// sees the opens of its entries (by name).
func (m *Masks) watch(specs []MaskSpec) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		m.Unwatched = fmt.Errorf("inotify: %w", err)
		close(m.done)
		return
	}
	for _, s := range specs {
		// IN_CLOSE_NOWRITE too, though only opens are reported: inotify
		// merges an event into an identical one still queued, and a
		// close between two opens keeps them two.
		flags := uint32(unix.IN_OPEN | unix.IN_CLOSE_NOWRITE | unix.IN_DONT_FOLLOW)
		if s.Dir {
			flags |= unix.IN_ONLYDIR
		}
		wd, err := unix.InotifyAddWatch(fd, m.sources[s.Path], flags)
		if err != nil {
			m.Unwatched = fmt.Errorf("inotify watch on the mask of %s: %w", s.Path, err)
			continue
		}
		m.watches[int32(wd)] = maskWatch{path: s.Path, rule: s.Rule}
	}
	// Non-blocking: the file is the runtime poller's, so Stop can wake
	// the reader.
	m.ino = os.NewFile(uintptr(fd), "cordon-masks")
	go m.read()
}

func (m *Masks) read() {
	defer close(m.done)
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		n, err := m.ino.Read(buf)
		m.events(buf[:max(n, 0)])
		if err != nil {
			return
		}
	}
}

// events reports each open in buf (whole inotify events).
func (m *Masks) events(buf []byte) {
	for off := 0; off+unix.SizeofInotifyEvent <= len(buf); {
		ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
		end := off + unix.SizeofInotifyEvent + int(ev.Len)
		if end > len(buf) {
			return
		}
		name := strings.TrimRight(string(buf[off+unix.SizeofInotifyEvent:end]), "\x00")
		off = end
		w, ok := m.watches[ev.Wd]
		if !ok || ev.Mask&unix.IN_OPEN == 0 {
			continue
		}
		target := w.path
		if name != "" {
			target = filepath.Join(w.path, name)
		}
		m.found.add(sandbox.Violation{Kind: sandbox.KindRead, Target: target, Rule: w.rule})
	}
}

// Source is the mask bound over the hidden path p.
func (m *Masks) Source(p string) (string, bool) {
	if m == nil {
		return "", false
	}
	s, ok := m.sources[p]
	return s, ok
}

// Identities are the masks' inodes, by hidden path.
func (m *Masks) Identities() []MaskIdentity {
	if m == nil {
		return nil
	}
	return m.ids
}

// Stop ends the watch (the sandbox is gone: every open it made is
// queued) and returns the reads seen.
func (m *Masks) Stop() []sandbox.Violation {
	if m == nil || m.ino == nil {
		return nil
	}
	_ = m.ino.SetReadDeadline(time.Now())
	<-m.done
	// What the reader had not read yet when it woke.
	_ = m.ino.SetReadDeadline(time.Time{})
	if rc, err := m.ino.SyscallConn(); err == nil {
		buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
		_ = rc.Read(func(fd uintptr) bool {
			for {
				n, err := unix.Read(int(fd), buf)
				if err != nil || n <= 0 {
					return true
				}
				m.events(buf[:n])
			}
		})
	}
	// Removing a watch is quick, and removing a watched file or closing
	// the instance waits for the kernel's grace period for its marks (5
	// to 30 ms here): the watches go first, the instance in the
	// background, not in the run's time.
	if rc, err := m.ino.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) {
			for wd := range m.watches {
				_, _ = unix.InotifyRmWatch(int(fd), uint32(wd))
			}
		})
	}
	go m.ino.Close()
	m.ino = nil
	return m.found.all()
}

// Remove removes the run's masks (the sandbox's mounts of them are gone).
func (m *Masks) Remove() {
	if m == nil {
		return
	}
	m.Stop()
	removeMasks(m.dir)
}

// removeMasks removes a run's directory of masks, whose directories are
// read-only (0555) until now. It lies in cordon's private runtime dir,
// which no sandbox sees.
func removeMasks(dir string) {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	_ = os.RemoveAll(dir)
}

// maskMaxAge is when a directory of masks is left over from a run whose
// cordon was killed.
const maskMaxAge = 24 * time.Hour

func sweepMasks(parent string) {
	ents, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && e.IsDir() && strings.HasPrefix(e.Name(), "run-") && time.Since(fi.ModTime()) > maskMaxAge {
			removeMasks(filepath.Join(parent, e.Name()))
		}
	}
}
