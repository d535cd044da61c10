//go:build linux

package supervisor

import (
	"os"
	"strconv"
	"strings"
	"unsafe"

	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/sandbox/netinside"
	"github.com/cordon-dev/cordon/workspace"
	"golang.org/x/sys/unix"
)

// A standalone run (Judge.Standalone): no mount namespace, so nothing but
// Landlock and this supervisor holds the filesystem policy.
//
// Landlock grants by hierarchy and cannot take a name out of a writable
// directory, so the plan (linux.PlanStandalone) grants no write right on
// the directories along the way to a protected path (the guard
// directories), nor on what is made in them later. Every write-intent
// call is handed to the supervisor, which resolves where it lands:
//
//   - in a hierarchy the ruleset grants (Judge.Granted, by identity), or
//     outside every writable place: the call continues to the kernel,
//     where Landlock decides. Continuing is safe whatever the caller does
//     to its memory meanwhile: the supervisor only ever adds what Landlock
//     refuses, never takes a check away;
//   - elsewhere in a writable place: the supervisor performs the call
//     itself, on its own copy of the path, with the plan's checks applied
//     to the real path of the directory descriptor it resolved (ReadOnly,
//     the missing protected names, Hidden, the guarded rules), and
//     installs the descriptor an open returns in the caller.
//
// chmod is always performed here: Landlock does not restrict it at all.

// errContinue is perform's answer for a call the kernel is to make.
const errContinue = unix.Errno(1 << 20)

// fileID is an inode's identity.
type fileID struct{ dev, ino uint64 }

func idOf(st *unix.Stat_t) fileID { return fileID{uint64(st.Dev), st.Ino} }

// grantedIDs are the identities of the judge's granted hierarchies, as
// they are when the run starts.
func grantedIDs(paths []string) map[fileID]bool {
	ids := map[fileID]bool{}
	for _, p := range paths {
		var st unix.Stat_t
		if unix.Lstat(p, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			ids[idOf(&st)] = true
		}
	}
	return ids
}

// handBack reports whether a call landing in the directory dir (real: its
// real path) is the kernel's to make: Landlock grants the place, or it
// lies outside every writable place (where Landlock refuses, and the
// refusal is reported).
func (o *Observer) handBack(dir int, real, base string) bool {
	if !o.judge.mayWrite(real) {
		o.judgeWrite(joinName(real, base))
		return true
	}
	return o.granted(dir)
}

// granted reports whether the directory dir lies in a hierarchy the
// ruleset grants, the way Landlock sees it: by the identities of its
// ancestors now, whatever names they have been given since.
func (o *Observer) granted(dir int) bool {
	if len(o.grantedIDs) == 0 {
		return false
	}
	cur, err := unix.Openat(dir, ".", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer func() { unix.Close(cur) }()
	var st unix.Stat_t
	if unix.Fstat(cur, &st) != nil {
		return false
	}
	for depth := 0; depth < 256; depth++ {
		id := idOf(&st)
		if o.grantedIDs[id] {
			return true
		}
		up, err := unix.Openat(cur, "..", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return false
		}
		unix.Close(cur)
		cur = up
		if unix.Fstat(cur, &st) != nil || idOf(&st) == id {
			return false // the root
		}
	}
	return false
}

// kernelsOwn reports whether path names a place below /proc or /dev: the
// host's own in a standalone run, left to the kernel and Landlock.
func kernelsOwn(path string) bool {
	c := cleanAbs(path)
	return Within("/proc", c) || Within("/dev", c)
}

// protected reports (and records) whether the name base in the real
// directory dir is one no write may reach: read-only, a protected name
// (missing ones included) or hidden, in the writable place holding it.
func (g *guardCall) protected(dir, base string) bool {
	if base == "." || base == ".." || base == "" {
		return false
	}
	name := joinName(dir, base)
	j := g.o.judge
	for _, ro := range j.ReadOnly {
		if Within(ro, name) {
			g.o.report(sandbox.Violation{Kind: sandbox.KindWrite, Target: name, Rule: ruleFor(j.Policy.Filesystem.DenyWrite, name)})
			return true
		}
	}
	// A hidden place counts inside the writable place holding the name:
	// the run's temp dir lies in cordon's (hidden) state dir.
	root := InnermostRoot(name, append(append([]string{}, j.Writable...), j.TempDir))
	for _, h := range j.Hidden {
		if Within(h, name) && root != "" && Within(root, h) {
			g.o.report(sandbox.Violation{Kind: sandbox.KindWrite, Target: name, Rule: ruleFor(j.Policy.Filesystem.DenyRead, name)})
			return true
		}
	}
	return false
}

// pinned reports (and records) whether the name base in dir is a
// directory on the way to a protected path: renaming it would carry the
// protected path to a name the plan does not know (mv .git .g2, write
// .g2/hooks/pre-commit, mv .g2 .git). Under bwrap a mount pins it.
func (g *guardCall) pinned(dir, base string) bool {
	name := joinName(dir, base)
	j := g.o.judge
	for _, list := range [][]string{j.ReadOnly, j.Hidden} {
		for _, p := range list {
			if p != name && Within(name, p) {
				g.o.report(sandbox.Violation{Kind: sandbox.KindWrite, Target: p, Rule: ruleFor(j.Policy.Filesystem.DenyWrite, p)})
				return true
			}
		}
	}
	return false
}

// linkable reports whether the file src (a descriptor of ours) may get
// another name: it lies in a writable place and is not protected, as a
// hard link made of it could be written under the new name.
func (g *guardCall) linkable(src int) bool {
	real, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(src))
	if err != nil || !strings.HasPrefix(real, "/") {
		return false
	}
	real = strings.TrimSuffix(real, " (deleted)")
	i := strings.LastIndexByte(real, '/')
	dir := real[:i]
	if dir == "" {
		dir = "/"
	}
	return g.o.judge.mayWrite(dir) && !g.protected(dir, real[i+1:])
}

func ruleFor(rules []workspace.PathRule, path string) workspace.Source {
	for _, r := range rules {
		if Within(r.Path, path) || workspace.Match(r.Path, path) {
			return r.Source
		}
	}
	return workspace.Source{}
}

// standalone answers one write-intent call of a standalone run, on a
// guard worker's thread.
func (o *Observer) standalone(req *netinside.Notif, mem memFiles) {
	if !threadIsCapless() {
		netinside.Respond(o.fd, req.ID, 0, unix.EPERM, false)
		return
	}
	if req.Nr == unix.SYS_FCHMOD {
		netinside.Respond(o.fd, req.ID, 0, o.fchmod(req), false)
		return
	}
	if req.Nr == unix.SYS_UTIMENSAT && req.Args[1] == 0 {
		// futimens: the descriptor itself. Only the times of a file the
		// run may write are set: judged and set like fchmod's.
		netinside.Respond(o.fd, req.ID, 0, o.futimens(req), false)
		return
	}
	if _, ok := guardPaths[req.Nr]; !ok {
		netinside.Respond(o.fd, req.ID, 0, 0, true) // nothing of ours (Landlock decides)
		return
	}
	g, errno := o.openGuardCall(req, mem)
	if errno != 0 {
		netinside.Respond(o.fd, req.ID, 0, errno, false)
		return
	}
	defer g.close()
	fd, val, errno := g.standalonePerform()
	g.answer(fd, val, errno)
}

// standalonePerform hands the call back to the kernel where Landlock
// decides, and performs it otherwise.
func (g *guardCall) standalonePerform() (int, int64, unix.Errno) {
	r := g.req
	switch r.Nr {
	case unix.SYS_OPEN, unix.SYS_OPENAT, unix.SYS_CREAT:
		return g.perform() // open decides at the end of its links
	case unix.SYS_TRUNCATE:
		return -1, 0, g.truncate(g.paths[0], int64(r.Args[1]))
	case unix.SYS_CHMOD:
		return -1, 0, g.chmod(g.paths[0], uint32(r.Args[1]), 0)
	case unix.SYS_FCHMODAT:
		return -1, 0, g.chmod(g.paths[0], uint32(r.Args[2]), 0)
	case unix.SYS_FCHMODAT2:
		return -1, 0, g.chmod(g.paths[0], uint32(r.Args[2]), int(r.Args[3]))
	case unix.SYS_UTIMENSAT:
		return -1, 0, g.utimes(g.paths[0], int(r.Args[3]))
	}
	// The others act on the last component itself (no link followed):
	// they are the kernel's when every directory they touch is granted.
	for _, p := range g.paths {
		if p == "" {
			continue // linkat's AT_EMPTY_PATH: the descriptor, judged in link
		}
		if kernelsOwn(p) {
			return -1, 0, errContinue
		}
		dir, real, base, errno := g.parent(p)
		if errno != 0 {
			return -1, 0, errno
		}
		back := g.o.handBack(dir, real, base)
		unix.Close(dir)
		if !back {
			switch r.Nr {
			case unix.SYS_UNLINK, unix.SYS_RMDIR:
				return -1, 0, g.unlink(p, r.Nr == unix.SYS_RMDIR)
			case unix.SYS_UNLINKAT:
				return -1, 0, g.unlink(p, r.Args[2]&unix.AT_REMOVEDIR != 0)
			}
			return g.perform()
		}
	}
	return -1, 0, errContinue
}

// unlink removes the name path (a directory when dir), unless it is
// protected.
func (g *guardCall) unlink(path string, dir bool) unix.Errno {
	d, real, base, errno := g.parent(path)
	if errno != 0 {
		return errno
	}
	defer unix.Close(d)
	if !g.o.judge.mayWrite(real) || g.protected(real, base) {
		return unix.EROFS
	}
	flags := 0
	if dir {
		flags = unix.AT_REMOVEDIR
	}
	if err := unix.Unlinkat(d, base, flags); err != nil {
		return errnoOf(err)
	}
	return 0
}

// follow resolves path the way a call that follows links does, in the
// caller's tree: the directory holding what it names at the end of its
// links, that directory's real path, and the last component.
func (g *guardCall) follow(path string) (dir int, real, base string, errno unix.Errno) {
	for hops := 0; hops < 40; hops++ {
		if kernelsOwn(path) {
			return -1, "", "", errContinue
		}
		dir, real, base, errno = g.parent(path)
		if errno != 0 {
			return -1, "", "", errno
		}
		var st unix.Stat_t
		if err := unix.Fstatat(dir, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Mode&unix.S_IFMT != unix.S_IFLNK {
			return dir, real, base, 0
		}
		target, err := readlinkat(dir, base)
		unix.Close(dir)
		if err != nil {
			return -1, "", "", errnoOf(err)
		}
		if !strings.HasPrefix(target, "/") {
			target = joinName(real, target)
		}
		path = target
	}
	return -1, "", "", unix.ELOOP
}

// truncate is truncate(2) where Landlock does not grant it.
func (g *guardCall) truncate(path string, length int64) unix.Errno {
	dir, real, base, errno := g.follow(path)
	if errno != 0 {
		return errno
	}
	defer unix.Close(dir)
	if g.o.handBack(dir, real, base) {
		return errContinue
	}
	if g.protected(real, base) {
		return unix.EROFS
	}
	fd, err := unix.Openat(dir, base, unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return errnoOf(err)
	}
	defer unix.Close(fd)
	if err := unix.Ftruncate(fd, length); err != nil {
		return errnoOf(err)
	}
	return 0
}

// chmod is chmod(2) and fchmodat(2), performed wherever it lands (Landlock
// does not restrict it): only in a writable place, never on a protected
// path, never setting setuid or setgid (DESIGN, invariant 9).
func (g *guardCall) chmod(path string, mode uint32, flags int) unix.Errno {
	return g.metadata(path, flags, func(fd int) unix.Errno { return chmodFD(fd, mode) })
}

// utimes is utimensat(2) with a path, judged like chmod.
func (g *guardCall) utimes(path string, flags int) unix.Errno {
	if path == "" && flags&unix.AT_EMPTY_PATH != 0 {
		return g.o.futimens(g.req)
	}
	return g.metadata(path, flags, func(fd int) unix.Errno { return utimesFD(fd, g.times) })
}

// metadata changes what path names (following links unless flags says
// not to) with set, on a descriptor of ours, where the run may write.
func (g *guardCall) metadata(path string, flags int, set func(fd int) unix.Errno) unix.Errno {
	if m := magicFD.FindStringSubmatch(cleanAbs(path)); m != nil {
		// One of the caller's descriptors by name (glibc's lchmod and
		// fchmodat fallbacks chmod "/proc/self/fd/N"): that file, judged
		// where it lies; another process's descriptors are not the run's.
		n, ok := g.ownFD(m)
		if !ok {
			return unix.EPERM
		}
		return g.o.onCallerFD(g.req, n, set)
	}
	var (
		dir       int
		real      string
		base      string
		errno     unix.Errno
		following = flags&unix.AT_SYMLINK_NOFOLLOW == 0
	)
	if following {
		dir, real, base, errno = g.follow(path)
	} else {
		dir, real, base, errno = g.parent(path)
	}
	if errno == errContinue {
		errno = unix.EPERM // /proc, /dev: nothing a command changes the mode of
	}
	if errno != 0 {
		return errno
	}
	defer unix.Close(dir)
	if !g.o.judge.mayWrite(real) {
		g.o.judgeWrite(joinName(real, base))
		return unix.EROFS
	}
	if g.protected(real, base) {
		return unix.EROFS
	}
	fd, err := unix.Openat(dir, base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return errnoOf(err)
	}
	defer unix.Close(fd)
	return set(fd)
}

// ownFD is the caller's descriptor number a magicFD match names, false
// when it names another process's.
func (g *guardCall) ownFD(m []string) (int, bool) {
	var n string
	switch {
	case m[1] != "":
		n = map[string]string{"in": "0", "out": "1", "err": "2"}[m[1]]
	case m[2] != "":
		n = m[2]
	default:
		n = m[3]
		clean := cleanAbs(g.paths[0])
		pid := strings.Split(strings.TrimPrefix(clean, "/proc/"), "/")[0]
		if pid != "self" && pid != "thread-self" && pid != statusFields(g.proc, "Tgid")[0] && pid != strconv.Itoa(int(g.req.Pid)) {
			return 0, false
		}
	}
	v, err := strconv.Atoi(n)
	return v, err == nil
}

// utimesFD sets the times of the file fd (O_PATH will do) names; nil
// times: now. UTIME_NOW and UTIME_OMIT pass as they are.
func utimesFD(fd int, times []unix.Timespec) unix.Errno {
	if times == nil {
		times = []unix.Timespec{{Nsec: unix.UTIME_NOW}, {Nsec: unix.UTIME_NOW}}
	}
	if err := unix.UtimesNanoAt(fd, "", times, unix.AT_EMPTY_PATH); err != nil {
		return errnoOf(err)
	}
	return 0
}

// chmodFD sets the mode of the file fd (O_PATH will do) names, without
// setuid or setgid; a symbolic link has no mode of its own (EOPNOTSUPP, as
// fchmodat2 with AT_SYMLINK_NOFOLLOW answers).
func chmodFD(fd int, mode uint32) unix.Errno {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return errnoOf(err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		return unix.EOPNOTSUPP
	}
	if err := unix.Chmod("/proc/self/fd/"+strconv.Itoa(fd), mode&0o1777); err != nil {
		return errnoOf(err)
	}
	return 0
}

// fchmod is fchmod(2) of one of the caller's descriptors: the same checks
// on the file it names, performed on a descriptor of ours (the caller
// could put another file at that number after a check).
func (o *Observer) fchmod(req *netinside.Notif) unix.Errno {
	return o.onCallerFD(req, int(int32(req.Args[0])), func(fd int) unix.Errno { return chmodFD(fd, uint32(req.Args[1])) })
}

// futimens is utimensat(2) on the descriptor argument itself.
func (o *Observer) futimens(req *netinside.Notif) unix.Errno {
	var times []unix.Timespec
	if req.Args[2] != 0 {
		mem, err := unix.Open("/proc/"+strconv.Itoa(int(req.Pid))+"/mem", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return unix.ESRCH
		}
		times = make([]unix.Timespec, 2)
		buf := unsafe.Slice((*byte)(unsafe.Pointer(&times[0])), 2*unsafe.Sizeof(times[0]))
		n, _ := unix.Pread(mem, buf, int64(req.Args[2]))
		unix.Close(mem)
		if n != len(buf) {
			return unix.EFAULT
		}
	}
	return o.onCallerFD(req, int(int32(req.Args[0])), func(fd int) unix.Errno { return utimesFD(fd, times) })
}

// onCallerFD applies set to the file the caller's descriptor n names,
// opened again here, where the run may write it.
func (o *Observer) onCallerFD(req *netinside.Notif, n int, set func(fd int) unix.Errno) unix.Errno {
	proc := "/proc/" + strconv.Itoa(int(req.Pid))
	fd, err := unix.Open(proc+"/fd/"+strconv.Itoa(n), unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return unix.EBADF
	}
	defer unix.Close(fd)
	id := req.ID
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(o.fd), unix.SECCOMP_IOCTL_NOTIF_ID_VALID, uintptr(unsafe.Pointer(&id))); errno != 0 {
		return unix.ESRCH
	}
	real, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err == nil && strings.HasPrefix(real, "/") {
		// A file with a name: judged there (a deleted one at the name it had).
		real = strings.TrimSuffix(real, " (deleted)")
		i := strings.LastIndexByte(real, '/')
		dir := real[:i]
		if dir == "" {
			dir = "/"
		}
		g := &guardCall{o: o, req: req, standalone: true, root: -1}
		if !o.judge.mayWrite(dir) {
			o.judgeWrite(real)
			return unix.EROFS
		}
		if g.protected(dir, real[i+1:]) {
			return unix.EROFS
		}
	}
	// Pipes and sockets have no name: they are the caller's own.
	return set(fd)
}
