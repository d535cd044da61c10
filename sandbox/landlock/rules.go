// Package landlock builds and enforces cordon's Landlock ruleset: the
// filesystem write policy (writes only in the writable places), reads
// refused under the denied paths, making pathname unix sockets refused,
// TCP connect limited to given ports, and scoping of signals and abstract
// unix sockets. The bwrap backend's init stage enforces it as a second
// layer under the mounts; it is the one Landlock code path of cordon.
//
// It is small on purpose (the init stage links it): no net, no host-side
// code. The rules are computed by the host (Rules is plain data, passed to
// the stage in its configuration) and applied inside, on the thread that
// execs the command, so that paths resolve in the sandbox's own view.
package landlock

import (
	"fmt"
	"path/filepath"
	"strings"
)

// Rules is the policy the ruleset enforces. Every path is absolute and
// clean.
type Rules struct {
	// Writable places get every write right; reads come from ReadDeny's
	// carving (a writable place inside a denied one belongs in ReadAllow
	// too: the run's temp dir inside cordon's hidden runtime dir).
	Writable []string `json:"w,omitempty"`
	// WriteFiles are files and device trees that may be written but not
	// made or removed (/dev/null, /dev/pts, ...). Missing ones are skipped.
	WriteFiles []string `json:"wf,omitempty"`
	// ReadDeny are unreadable (and unwritable) paths. Landlock grants by
	// hierarchy only, so read is granted on "/" minus these: on every
	// sibling along the way to each of them (a name that appears later
	// beside one is unreadable, which fails closed). Names in a directory
	// on the way stay listable, not their contents.
	ReadDeny []string `json:"rd,omitempty"`
	// ReadAllow are readable again inside ReadDeny (allow_read).
	ReadAllow []string `json:"ra,omitempty"`
	// The carving of writable places around protected paths, for a run
	// with no mounts (the standalone backend): SplitDirs get every write
	// right on their hierarchy, FileZones only the rights to write what
	// exists (new names there are made by the supervisor, which judges
	// them), SplitFiles (existing files directly in a split directory)
	// the rights to write them. Each is opened with no symbolic link in
	// any component (RESOLVE_NO_SYMLINKS): a link swapped in after the
	// plan must not carry the grant to its target. What no longer opens
	// that way is skipped, which fails closed.
	SplitDirs  []string `json:"sd,omitempty"`
	FileZones  []string `json:"fz,omitempty"`
	SplitFiles []string `json:"sf,omitempty"`
	// Masks are the empty files and directories bound over denied paths
	// (the host watches their opens to report reads): each is readable,
	// but only while the path is the mask's inode, so that nothing of
	// the real path is ever granted.
	Masks []Mask `json:"mk,omitempty"`
	// Sockets allows making pathname unix sockets in the writable
	// places; without it bind() of one fails everywhere.
	Sockets bool `json:"sock,omitempty"`
	// LimitConnect limits TCP connect() to ConnectPorts (ABI 4+).
	LimitConnect bool     `json:"lc,omitempty"`
	ConnectPorts []uint16 `json:"cp,omitempty"`
	// Scope refuses signals to, and abstract unix sockets of, processes
	// outside the sandbox (ABI 6+).
	Scope bool `json:"scope,omitempty"`
	// Require refuses to run (instead of running without the layer) when
	// the kernel lacks Landlock or an ABI a rule needs.
	Require bool `json:"req,omitempty"`
}

// Mask is a denied path's mask: readable when path is that inode.
type Mask struct {
	Path string `json:"p"`
	Dev  uint64 `json:"d"`
	Ino  uint64 `json:"i"`
}

// Access rights, as the kernel numbers them (linux/landlock.h).
const (
	fsExecute    = 1 << 0
	fsWriteFile  = 1 << 1
	fsReadFile   = 1 << 2
	fsReadDir    = 1 << 3
	fsRemoveDir  = 1 << 4
	fsRemoveFile = 1 << 5
	fsMakeChar   = 1 << 6
	fsMakeDir    = 1 << 7
	fsMakeReg    = 1 << 8
	fsMakeSock   = 1 << 9
	fsMakeFifo   = 1 << 10
	fsMakeBlock  = 1 << 11
	fsMakeSym    = 1 << 12
	fsRefer      = 1 << 13 // ABI 2
	fsTruncate   = 1 << 14 // ABI 3
	fsIoctlDev   = 1 << 15 // ABI 5

	netConnectTCP = 1 << 1 // ABI 4

	scopeAbstractUnix = 1 << 0 // ABI 6
	scopeSignal       = 1 << 1 // ABI 6
)

const (
	readRights = fsExecute | fsReadFile | fsReadDir
	// dirRead is what a directory on the way to a denied path gets.
	dirRead = fsReadDir
)

// handledFS is every filesystem right the kernel of this ABI knows: all of
// them are handled, so what no rule grants is refused.
func handledFS(abi int) uint64 {
	h := uint64(1<<13 - 1)
	if abi >= 2 {
		h |= fsRefer
	}
	if abi >= 3 {
		h |= fsTruncate
	}
	if abi >= 5 {
		h |= fsIoctlDev
	}
	return h
}

// writeRights is what a writable place gets (no devices are made there).
func writeRights(abi int, sockets bool) uint64 {
	r := uint64(fsWriteFile | fsRemoveDir | fsRemoveFile | fsMakeDir | fsMakeReg | fsMakeFifo | fsMakeSym | fsRefer | fsTruncate)
	if sockets {
		r |= fsMakeSock
	}
	return r & handledFS(abi)
}

// fileWriteRights is what WriteFiles get: write to what exists.
func fileWriteRights(abi int) uint64 {
	return uint64(fsWriteFile|fsTruncate|fsIoctlDev) & handledFS(abi)
}

// Layer names the layer for reports: "Landlock ABI 7".
func Layer(abi int) string { return fmt.Sprintf("Landlock ABI %d", abi) }

// Validate checks the paths: absolute and clean, as the host computed them.
func (r *Rules) Validate() error {
	masks := make([]string, len(r.Masks))
	for i, m := range r.Masks {
		masks[i] = m.Path
	}
	for _, list := range [][]string{r.Writable, r.WriteFiles, r.ReadDeny, r.ReadAllow, masks, r.SplitDirs, r.FileZones, r.SplitFiles} {
		for _, p := range list {
			if !filepath.IsAbs(p) || filepath.Clean(p) != p || strings.IndexByte(p, 0) >= 0 {
				return fmt.Errorf("landlock: path %q is not absolute and clean", p)
			}
		}
	}
	return nil
}

// within reports whether p is dir or lies below it.
func within(dir, p string) bool {
	if dir == "/" {
		return true
	}
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// onTheWay reports whether dir is a strict ancestor of one of paths.
func onTheWay(dir string, paths []string) bool {
	for _, p := range paths {
		if p != dir && within(dir, p) {
			return true
		}
	}
	return false
}

func denied(p string, paths []string) bool {
	for _, d := range paths {
		if within(d, p) {
			return true
		}
	}
	return false
}

// WithDevices adds the devices a command may use to r: the terminals and
// the sinks and sources of bytes written, /dev/shm written in.
func (r Rules) WithDevices() Rules {
	r.WriteFiles = append(append([]string(nil), r.WriteFiles...),
		"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/ptmx", "/dev/pts")
	r.Writable = append(append([]string(nil), r.Writable...), "/dev/shm")
	return r
}
