//go:build linux

package supervisor

import (
	"errors"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/sandbox/netinside"
	"github.com/cordon-dev/cordon/workspace"
	"golang.org/x/sys/unix"
)

// The guard: deny_write rules hold for names that do not exist yet.
//
// A read-only bind covers a path that exists; a glob like "*.pem" names
// paths nobody can list in advance, and a protected name that does not
// exist yet (.envrc, .vscode/) has no inode a bind could land on but a
// placeholder made on the host, which would show in the workspace and in
// git status for as long as the run lives. So when the plan has such
// rules (plan.Guarded), the observer is told about
// every call that makes a new name and makes the name itself, on its own
// copy of the path: the kernel never reads the caller's memory again, so
// another thread changing the path after the check changes nothing (the
// TOCTOU that makes SECCOMP_USER_NOTIF_FLAG_CONTINUE unusable for a
// decision). The guard resolves paths in the sandbox's own mount tree
// (/proc/PID/root with RESOLVE_IN_ROOT, magic links refused), so every
// mount of the sandbox still applies, and acts on worker threads with no
// capabilities (GuardPool), applying the caller's umask.

// createsName reports whether the call makes a new name: the calls the
// guard performs itself. Flags come from registers, which the caller
// cannot change under us.
func createsName(req *netinside.Notif) bool {
	switch req.Nr {
	case unix.SYS_OPEN:
		return req.Args[1]&unix.O_CREAT != 0
	case unix.SYS_OPENAT:
		return req.Args[2]&unix.O_CREAT != 0
	case unix.SYS_CREAT, unix.SYS_MKDIR, unix.SYS_MKDIRAT, unix.SYS_MKNOD, unix.SYS_MKNODAT,
		unix.SYS_LINK, unix.SYS_LINKAT, unix.SYS_SYMLINK, unix.SYS_SYMLINKAT,
		unix.SYS_RENAME, unix.SYS_RENAMEAT, unix.SYS_RENAMEAT2:
		return true
	}
	return false
}

// guardPaths says which arguments of each call createsName accepts are
// (dirfd, path) pairs, in the order perform uses them (old before new);
// dirfd -1: relative to the working directory.
var guardPaths = map[int32][][2]int{
	unix.SYS_OPEN: {{-1, 0}}, unix.SYS_OPENAT: {{0, 1}}, unix.SYS_CREAT: {{-1, 0}},
	unix.SYS_MKDIR: {{-1, 0}}, unix.SYS_MKDIRAT: {{0, 1}}, unix.SYS_MKNOD: {{-1, 0}}, unix.SYS_MKNODAT: {{0, 1}},
	unix.SYS_SYMLINK: {{-1, 1}}, unix.SYS_SYMLINKAT: {{1, 2}},
	unix.SYS_LINK: {{-1, 0}, {-1, 1}}, unix.SYS_LINKAT: {{0, 1}, {2, 3}},
	unix.SYS_RENAME: {{-1, 0}, {-1, 1}}, unix.SYS_RENAMEAT: {{0, 1}, {2, 3}}, unix.SYS_RENAMEAT2: {{0, 1}, {2, 3}},
	// The calls only a standalone run hands over (standalone.go).
	unix.SYS_UNLINK: {{-1, 0}}, unix.SYS_UNLINKAT: {{0, 1}}, unix.SYS_RMDIR: {{-1, 0}},
	unix.SYS_TRUNCATE: {{-1, 0}}, unix.SYS_CHMOD: {{-1, 0}}, unix.SYS_FCHMODAT: {{0, 1}}, unix.SYS_FCHMODAT2: {{0, 1}},
	unix.SYS_UTIMENSAT: {{0, 1}},
}

// GuardPool is the threads the loops of guarding observers run on, for
// every run of a Backend (its zero value is ready to use): one per run in flight, started when none is
// idle. Each is locked to its goroutine, drops its capabilities and
// unshares its filesystem state, and lives as long as the process: a
// thread that ended would take with it any bwrap it once started (bwrap's
// parent-death signal follows the thread that forked it), and a thread
// without capabilities must never run another goroutine. The loop makes
// each name on that thread itself: handing calls to other locked threads
// cost more than making the names.
type GuardPool struct {
	mu   sync.Mutex
	idle int
	jobs chan func()
}

// run runs f on one of the pool's threads.
func (p *GuardPool) run(f func()) {
	p.mu.Lock()
	if p.jobs == nil {
		p.jobs = make(chan func())
	}
	if p.idle == 0 {
		p.idle++
		go p.work()
	}
	p.idle--
	p.mu.Unlock()
	p.jobs <- f
}

func (p *GuardPool) work() {
	runtime.LockOSThread() // never unlocked: see GuardPool
	err := dropThreadPrivileges()
	for f := range p.jobs {
		if err == nil {
			f()
		} else {
			go f() // fails closed: see observer.guard
		}
		p.mu.Lock()
		p.idle++
		p.mu.Unlock()
	}
}

// guard performs one name-making call for the sandboxed caller and
// answers it, on a guard worker's thread.
func (o *Observer) guard(req *netinside.Notif, mem memFiles) {
	if !threadIsCapless() {
		netinside.Respond(o.fd, req.ID, 0, unix.EPERM, false)
		return
	}
	g, errno := o.openGuardCall(req, mem)
	if errno != 0 {
		netinside.Respond(o.fd, req.ID, 0, errno, false)
		return
	}
	defer g.close()
	switch req.Nr {
	case unix.SYS_RENAME, unix.SYS_RENAMEAT, unix.SYS_RENAMEAT2:
		o.names.Lock()
		defer o.names.Unlock()
	default:
		o.names.RLock()
		defer o.names.RUnlock()
	}
	fd, val, errno := g.perform()
	g.answer(fd, val, errno)
}

// answer responds to the call g performed (or hands it back to the
// kernel: errContinue).
func (g *guardCall) answer(fd int, val int64, errno unix.Errno) {
	o, req := g.o, g.req
	if errno == errContinue {
		netinside.Respond(o.fd, req.ID, 0, 0, true)
		return
	}
	switch errno {
	case unix.EROFS, unix.EACCES, unix.EPERM, unix.EBUSY:
		if g.standalone {
			break // the checks that refused reported it (standalone.go)
		}
		// Refused by the kernel (a read-only mount, say): reported the
		// way the observer reports every refused write.
		for _, p := range g.paths {
			if p != "" {
				o.judgeWrite(cleanAbs(p))
			}
		}
	}
	if fd >= 0 {
		cloexec := openFlags(req)&unix.O_CLOEXEC != 0
		if err := netinside.RespondFD(o.fd, req.ID, fd, cloexec); err != nil {
			netinside.Respond(o.fd, req.ID, 0, unix.EMFILE, false)
		}
		unix.Close(fd)
		return
	}
	netinside.Respond(o.fd, req.ID, val, errno, false)
}

// guardCall is one call being performed: the caller's paths as read once,
// its root and working directory, its umask.
type guardCall struct {
	o       *Observer
	req     *netinside.Notif
	mem     memFiles // the worker's
	proc    string   // /proc/PID
	root    int      // the caller's root directory (O_PATH)
	ownRoot bool     // root is this call's to close (not the observer's yet)
	// standalone: no mount namespace, the plan's checks are the
	// supervisor's (Judge.Standalone; standalone.go).
	standalone bool
	umask      *uint32         // read when first needed (see callerUmask)
	paths      []string        // the (dirfd, path) arguments, absolute inside the sandbox
	text       string          // symlink's target
	times      []unix.Timespec // utimensat's, nil: now
}

// openGuardCall reads the call's paths from the caller's memory (mem:
// the loop's open /proc/PID/mem files) and its root. Every process of a
// run has the same root (none has the capabilities for chroot, a mount
// namespace or a user namespace of its own), so the root of the first
// call that proved to be the caller's serves the whole run.
func (o *Observer) openGuardCall(req *netinside.Notif, mem memFiles) (*guardCall, unix.Errno) {
	proc := "/proc/" + strconv.Itoa(int(req.Pid))
	o.mu.Lock()
	root := o.root
	o.mu.Unlock()
	g := &guardCall{o: o, req: req, mem: mem, proc: proc, root: root, standalone: o.judge.Standalone}
	if g.root < 0 {
		root, err := unix.Open(proc+"/root", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return nil, unix.ESRCH
		}
		g.root, g.ownRoot = root, true
	}
	for _, s := range guardPaths[req.Nr] {
		p, ok := mem.read(req.Pid, req.Args[s[1]])
		if !ok {
			g.close()
			return nil, unix.EFAULT
		}
		g.paths = append(g.paths, g.absolute(s[0], p))
	}
	switch req.Nr {
	case unix.SYS_SYMLINK, unix.SYS_SYMLINKAT:
		t, ok := mem.read(req.Pid, req.Args[0])
		if !ok {
			g.close()
			return nil, unix.EFAULT
		}
		g.text = t
	case unix.SYS_UTIMENSAT:
		if req.Args[2] != 0 {
			g.times = make([]unix.Timespec, 2)
			buf := unsafe.Slice((*byte)(unsafe.Pointer(&g.times[0])), 2*unsafe.Sizeof(g.times[0]))
			if !mem.readBytes(req.Pid, req.Args[2], buf) {
				g.close()
				return nil, unix.EFAULT
			}
		}
	}
	// Everything read: is the caller still the one that made the call?
	if !o.pending(req.ID) {
		g.close()
		return nil, unix.ESRCH
	}
	if g.ownRoot {
		o.mu.Lock()
		if o.root < 0 {
			o.root, g.ownRoot = g.root, false // the caller's: kept for the run
		}
		o.mu.Unlock()
	}
	return g, 0
}

// pending reports whether the call id still waits for an answer: what
// was read of its caller since the notification was the caller's.
func (o *Observer) pending(id uint64) bool {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(o.fd), unix.SECCOMP_IOCTL_NOTIF_ID_VALID, uintptr(unsafe.Pointer(&id)))
	return errno == 0
}

func (g *guardCall) close() {
	if g.ownRoot {
		unix.Close(g.root)
	}
}

// absolute makes p absolute as the caller sees it: relative to its
// working directory or to the directory descriptor argument dirArg.
// An empty result stands for an empty path (only linkat's AT_EMPTY_PATH
// accepts one).
func (g *guardCall) absolute(dirArg int, p string) string {
	if p == "" || strings.HasPrefix(p, "/") {
		return p
	}
	base := g.proc + "/cwd"
	if dirArg >= 0 && int32(g.req.Args[dirArg]) != atFDCWD {
		base = g.proc + "/fd/" + strconv.Itoa(int(int32(g.req.Args[dirArg])))
	}
	dir, err := os.Readlink(base)
	if err != nil || !strings.HasPrefix(dir, "/") {
		return "\x00" // unresolvable: fails with ENOENT below
	}
	return strings.TrimSuffix(dir, "/") + "/" + p
}

// callerUmask is the caller's umask, read only for calls that make a
// name with a mode: /proc/PID/status is dear to read (a fifth of a
// guarded create). A umask changes only through umask(2), which a
// guarding observer is notified of; until a process of the run calls it,
// every process has the umask the command started with, so the first one
// read (from a caller proved to be still waiting) serves them all. After
// that (node calls umask(2) to learn the umask) each caller's is read
// once and kept with its open memory, while no process calls umask(2)
// again and the caller stays the same process.
func (g *guardCall) callerUmask() uint32 {
	if g.umask != nil {
		return *g.umask
	}
	o := g.o
	o.mu.Lock()
	gen, known, m := o.umaskGen, o.umaskKnown, o.umask
	o.mu.Unlock()
	f := g.mem[g.req.Pid] // read from for this call: the caller's
	switch {
	case gen == 0 && known:
	case f != nil && f.umaskOK && f.umaskGen == gen:
		m = f.umask
	default:
		m = readUmask(g.proc)
		if !o.pending(g.req.ID) {
			break // whose umask was read is not known: used, never kept
		}
		if f != nil {
			f.umask, f.umaskGen, f.umaskOK = m, gen, true
		}
		o.mu.Lock()
		if gen == 0 && o.umaskGen == 0 {
			o.umask, o.umaskKnown = m, true
		}
		o.mu.Unlock()
	}
	g.umask = &m
	return m
}

func readUmask(proc string) uint32 {
	if v := statusFields(proc, "Umask")[0]; v != "" {
		if m, err := strconv.ParseUint(v, 8, 32); err == nil {
			return uint32(m)
		}
	}
	return 0o022
}

// statusFields returns the last word of each named field of
// /proc/PID/status ("NSpid:\t1234\t2" gives "2": the innermost
// namespace's), "" for a field it lacks; one read for all of them.
func statusFields(proc string, keys ...string) []string {
	out := make([]string, len(keys))
	b, err := os.ReadFile(proc + "/status")
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(b), "\n") {
		name, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		for i, k := range keys {
			if f := strings.Fields(v); name == k && len(f) > 0 {
				out[i] = f[len(f)-1]
			}
		}
	}
	return out
}

// dropThreadPrivileges leaves this thread with no capabilities (as root,
// the calls must meet the permission checks the caller meets) and a umask
// of its own set to 0 (the caller's is applied explicitly).
func dropThreadPrivileges() error {
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return err
	}
	unix.Umask(0)
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var none [2]unix.CapUserData
	return unix.Capset(&hdr, &none[0])
}

// threadIsCapless reports whether this thread holds no capability, as
// GuardPool's do: the guard refuses to make names on any other.
func threadIsCapless() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var caps [2]unix.CapUserData
	if unix.Capget(&hdr, &caps[0]) != nil {
		return false
	}
	return caps[0].Effective == 0 && caps[1].Effective == 0
}

func openFlags(req *netinside.Notif) int {
	switch req.Nr {
	case unix.SYS_OPEN:
		return int(req.Args[1])
	case unix.SYS_OPENAT:
		return int(req.Args[2])
	case unix.SYS_CREAT:
		return unix.O_CREAT | unix.O_WRONLY | unix.O_TRUNC
	}
	return 0
}

// nameMode is the permission bits of a name the guard makes: the
// caller's mode under its umask, never setuid or setgid. Whoever runs
// cordon, a file made inside must not carry them: as root, uid 0 inside
// is uid 0 outside, and a setuid copy of a shell left in the workspace
// would be a root shell for every local user.
func nameMode(mode, umask uint32) uint32 {
	return mode &^ umask & 0o1777
}

// perform does the call. It returns a descriptor to install in the
// caller (opens), or the call's result and errno.
func (g *guardCall) perform() (fd int, val int64, errno unix.Errno) {
	r := g.req
	mode := func(arg int) uint32 { return nameMode(uint32(r.Args[arg]), g.callerUmask()) }
	switch r.Nr {
	case unix.SYS_OPEN:
		return g.open(g.paths[0], openFlags(r), func() uint32 { return mode(2) })
	case unix.SYS_OPENAT:
		return g.open(g.paths[0], openFlags(r), func() uint32 { return mode(3) })
	case unix.SYS_CREAT:
		return g.open(g.paths[0], openFlags(r), func() uint32 { return mode(1) })
	case unix.SYS_MKDIR, unix.SYS_MKDIRAT:
		m := mode(1)
		if r.Nr == unix.SYS_MKDIRAT {
			m = mode(2)
		}
		return -1, 0, g.makeName(g.paths[0], func(dir int, base string) error { return unix.Mkdirat(dir, base, m) })
	case unix.SYS_MKNOD, unix.SYS_MKNODAT:
		a := 1
		if r.Nr == unix.SYS_MKNODAT {
			a = 2
		}
		m := uint32(r.Args[a])&unix.S_IFMT | mode(a)
		dev := int(r.Args[a+1])
		return -1, 0, g.makeName(g.paths[0], func(dir int, base string) error { return unix.Mknodat(dir, base, m, dev) })
	case unix.SYS_SYMLINK, unix.SYS_SYMLINKAT:
		return -1, 0, g.makeName(g.paths[0], func(dir int, base string) error { return unix.Symlinkat(g.text, dir, base) })
	case unix.SYS_LINK, unix.SYS_LINKAT:
		flags := 0
		if r.Nr == unix.SYS_LINKAT {
			flags = int(r.Args[4])
		}
		return -1, 0, g.link(g.paths[0], g.paths[1], flags)
	case unix.SYS_RENAME, unix.SYS_RENAMEAT, unix.SYS_RENAMEAT2:
		flags := 0
		if r.Nr == unix.SYS_RENAMEAT2 {
			flags = int(r.Args[4])
		}
		return -1, 0, g.rename(g.paths[0], g.paths[1], uint(flags))
	}
	return -1, 0, unix.ENOSYS
}

// parent opens the directory that holds the last component of path, in
// the caller's mount tree, and returns it with its real path and that
// last component.
func (g *guardCall) parent(path string) (dir int, real, base string, errno unix.Errno) {
	if path == "" || strings.IndexByte(path, 0) >= 0 {
		return -1, "", "", unix.ENOENT
	}
	trimmed := strings.TrimRight(path, "/")
	if trimmed == "" {
		trimmed = "/"
	}
	i := strings.LastIndexByte(trimmed, '/')
	parentPath, base := trimmed[:i], trimmed[i+1:]
	if parentPath == "" {
		parentPath = "/"
	}
	if base == "" {
		base = "."
	}
	// Most paths hold no symlink: resolved with none allowed, the path
	// itself is the real one (the kernel resolves ".." as cleaning does),
	// and the readlink that names the directory is saved.
	dir, err := unix.Openat2(g.root, parentPath, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_SYMLINKS,
	})
	if err == nil && strings.HasPrefix(parentPath, "/") {
		return dir, cleanAbs(parentPath), base, 0
	}
	if err == nil {
		unix.Close(dir)
	}
	dir, err = unix.Openat2(g.root, parentPath, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return -1, "", "", errnoOf(err)
	}
	real, err = os.Readlink("/proc/self/fd/" + strconv.Itoa(dir))
	if err != nil {
		unix.Close(dir)
		return -1, "", "", unix.ENOENT
	}
	return dir, real, base, 0
}

// refuses reports whether making base in the directory real is refused by
// a guarded rule, and records the refusal.
func (g *guardCall) refuses(real, base string) bool {
	if base == "." || base == ".." {
		return false
	}
	return g.guardedName(strings.TrimSuffix(real, "/")+"/"+base) || g.standalone && g.protected(real, base)
}

// guardedName reports whether a guarded rule holds for name, and records
// the refusal.
func (g *guardCall) guardedName(name string) bool {
	r, ok := g.o.judge.guardedRule(name)
	if ok {
		g.o.report(sandbox.Violation{Kind: sandbox.KindWrite, Target: name, Rule: r.Source})
	}
	return ok
}

// guardedRule is the guarded rule that holds for name, if any.
func (j *Judge) guardedRule(name string) (workspace.PathRule, bool) {
	for _, r := range j.Guarded {
		// A path without a glob holds for itself and what lies below it
		// (Within); only a glob needs matching, which is dear.
		if Within(r.Path, name) || (workspace.HasGlob(r.Path) && workspace.Match(r.Path, name)) {
			return r, true
		}
	}
	return workspace.PathRule{}, false
}

// noParent is the answer to a call whose parent directory does not
// exist: within a guarded directory that is not there (.vscode/x when
// .vscode is missing) it is the guard's refusal, EROFS and reported, as
// it is for the directory itself; elsewhere the kernel's ENOENT. The
// errno alone changes: the call is refused either way.
func (g *guardCall) noParent(path string, errno unix.Errno) unix.Errno {
	if errno == unix.ENOENT && strings.HasPrefix(path, "/") && g.guardedName(cleanAbs(path)) {
		return unix.EROFS
	}
	return errno
}

// target opens the directory where a call would make path's last
// component, unless that name does not exist yet and a guarded rule
// refuses it (EROFS); an existing name is left to the call. The caller
// closes dir.
func (g *guardCall) target(path string) (dir int, base string, errno unix.Errno) {
	dir, _, base, errno = g.targetReal(path)
	return dir, base, errno
}

// targetReal is target, also returning the real path of dir.
func (g *guardCall) targetReal(path string) (dir int, real, base string, errno unix.Errno) {
	dir, real, base, errno = g.parent(path)
	if errno != 0 {
		return -1, "", "", g.noParent(path, errno)
	}
	var st unix.Stat_t
	missing := unix.Fstatat(dir, base, &st, unix.AT_SYMLINK_NOFOLLOW) != nil
	// Where the run may not write, a new name is refused; an existing one
	// is left to the call, which then fails with EEXIST as the kernel
	// would (mkdir -p of /usr/share), or, for a rename onto it, is
	// refused by rename.
	if missing && (!g.o.judge.mayWrite(real) || g.refuses(real, base)) {
		unix.Close(dir)
		return -1, "", "", unix.EROFS
	}
	return dir, real, base, 0
}

// makeName makes a new name (mkdir, mknod, symlink) unless a guarded rule
// refuses it.
func (g *guardCall) makeName(path string, make func(dir int, base string) error) unix.Errno {
	dir, base, errno := g.target(path)
	if errno != 0 {
		return errno
	}
	defer unix.Close(dir)
	if err := make(dir, base); err != nil {
		return errnoOf(err)
	}
	return 0
}

// magicFD matches the paths that name one of the caller's own
// descriptors: the kernel reopens that descriptor, and so does the guard.
var magicFD = regexp.MustCompile(`^/(?:dev/(?:std(in|out|err)|fd/([0-9]+))|proc/(?:self|thread-self|[0-9]+)/fd/([0-9]+))$`)

// open is open(2) with O_CREAT: follow symlinks the way the kernel would
// (inside the sandbox), then open what exists or make what does not.
// mode is called only when the name is made.
func (g *guardCall) open(path string, flags int, mode func() uint32) (int, int64, unix.Errno) {
	if g.standalone {
		// A magic link reopens a descriptor: the kernel's reopen is judged
		// by Landlock at the file's own path; one made here would not be.
		// (Nothing else lies below /proc and /dev that a run may write.)
		if kernelsOwn(path) {
			return -1, 0, errContinue
		}
	} else if kernelsOwn(path) {
		if m := magicFD.FindStringSubmatch(cleanAbs(path)); m != nil {
			return g.reopen(m, flags)
		}
		path = g.procSelf(path)
	}
	for hops := 0; hops < 40; hops++ {
		if g.standalone && kernelsOwn(path) {
			return -1, 0, errContinue // a link into /proc or /dev: see above
		}
		dir, real, base, errno := g.parent(path)
		if errno != 0 {
			return -1, 0, g.noParent(path, errno)
		}
		if fd, ok := g.createNew(dir, real, base, flags, mode); ok {
			unix.Close(dir)
			return fd, 0, 0
		}
		var st unix.Stat_t
		err := unix.Fstatat(dir, base, &st, unix.AT_SYMLINK_NOFOLLOW)
		switch {
		case err == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK && flags&(unix.O_NOFOLLOW|unix.O_EXCL) == 0:
			target, err := readlinkat(dir, base)
			unix.Close(dir)
			if err != nil {
				return -1, 0, errnoOf(err)
			}
			if !strings.HasPrefix(target, "/") {
				target = strings.TrimSuffix(real, "/") + "/" + target
			}
			path = target
			continue
		case err == nil:
			defer unix.Close(dir)
			if g.standalone && g.o.handBack(dir, real, base) {
				return -1, 0, errContinue
			}
			if flags&unix.O_EXCL != 0 {
				return -1, 0, unix.EEXIST
			}
			if flags&(unix.O_WRONLY|unix.O_RDWR|unix.O_TRUNC) != 0 && (!g.o.judge.mayWrite(real) || g.standalone && g.protected(real, base)) {
				return -1, 0, unix.EROFS // see Judge.mayWrite
			}
			if st.Mode&unix.S_IFMT == unix.S_IFCHR && unix.Major(st.Rdev) == 5 && unix.Minor(st.Rdev) == 0 {
				return -1, 0, unix.ENXIO // /dev/tty: the sandbox has a session, never a terminal, of its own
			}
			// It exists: open it without O_CREAT (it cannot be made
			// now) and never through a symlink put there since.
			if st.Mode&unix.S_IFMT == unix.S_IFIFO && flags&unix.O_NONBLOCK == 0 {
				return g.openFIFO(dir, base, flags)
			}
			fd, err := unix.Openat(dir, base, flags&^unix.O_CREAT|unix.O_NOFOLLOW|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
			if errors.Is(err, unix.ENOENT) {
				continue // removed meanwhile: start over
			}
			if err != nil {
				return -1, 0, errnoOf(err)
			}
			return fd, 0, 0
		case errors.Is(err, unix.ENOENT):
			if g.standalone && g.o.handBack(dir, real, base) {
				unix.Close(dir)
				return -1, 0, errContinue
			}
			if flags&unix.O_CREAT == 0 {
				unix.Close(dir)
				return -1, 0, unix.ENOENT // a write-open of what is not there (standalone)
			}
			if !g.o.judge.mayWrite(real) || g.refuses(real, base) {
				unix.Close(dir)
				return -1, 0, unix.EROFS
			}
			fd, err := unix.Openat(dir, base, flags|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_NOCTTY|unix.O_CLOEXEC, mode())
			unix.Close(dir)
			if errors.Is(err, unix.EEXIST) && flags&unix.O_EXCL == 0 {
				continue // made meanwhile: open it as it is now
			}
			if err != nil {
				return -1, 0, errnoOf(err)
			}
			return fd, 0, 0
		default:
			unix.Close(dir)
			return -1, 0, errnoOf(err)
		}
	}
	return -1, 0, unix.ELOOP
}

// createNew makes base in dir when it does not exist yet and the run may
// make it there: the common case of a create, in one call where looking
// first costs two. ok false: nothing was made (the name exists, or the
// checks of a new name need the look), and open goes on as before.
func (g *guardCall) createNew(dir int, real, base string, flags int, mode func() uint32) (fd int, ok bool) {
	if flags&unix.O_CREAT == 0 || g.standalone || base == "." || base == ".." || !g.o.judge.mayWrite(real) {
		return -1, false
	}
	if _, guarded := g.o.judge.guardedRule(joinName(real, base)); guarded {
		return -1, false // refused and reported below, once
	}
	fd, err := unix.Openat(dir, base, flags|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_NOCTTY|unix.O_CLOEXEC, mode())
	if err != nil {
		return -1, false
	}
	return fd, true
}

// openFIFO opens an existing FIFO the way a blocking open does (a
// writer waits for a reader), without ever blocking a guard worker: a
// blocked open could outlive the sandbox and hold the run's end forever.
func (g *guardCall) openFIFO(dir int, base string, flags int) (int, int64, unix.Errno) {
	for {
		fd, err := unix.Openat(dir, base, flags&^unix.O_CREAT|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENXIO) {
			select {
			case <-g.o.closed:
				return -1, 0, unix.EINTR
			case <-time.After(10 * time.Millisecond):
				continue // no reader yet
			}
		}
		if err != nil {
			return -1, 0, errnoOf(err)
		}
		if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); err == nil {
			unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl&^unix.O_NONBLOCK)
		}
		return fd, 0, 0
	}
}

// procSelf rewrites /proc/self and /proc/thread-self, which name the
// process that resolves them (here: the guard, which is not in the
// sandbox's PID namespace), to the caller's own entries there
// (echo 1 > /proc/self/oom_score_adj).
func (g *guardCall) procSelf(path string) string {
	clean := cleanAbs(path)
	var rest string
	var thread bool
	switch {
	case clean == "/proc/self" || strings.HasPrefix(clean, "/proc/self/"):
		rest = strings.TrimPrefix(clean, "/proc/self")
	case clean == "/proc/thread-self" || strings.HasPrefix(clean, "/proc/thread-self/"):
		rest, thread = strings.TrimPrefix(clean, "/proc/thread-self"), true
	default:
		return path
	}
	ids := statusFields(g.proc, "NStgid", "NSpid")
	tgid, tid := ids[0], ids[1]
	if tgid == "" || tid == "" {
		return path
	}
	if thread {
		return "/proc/" + tgid + "/task/" + tid + rest
	}
	return "/proc/" + tgid + rest
}

// reopen opens one of the caller's own descriptors again, as the kernel
// does for /dev/stdout, /dev/fd/N and /proc/self/fd/N. m is magicFD's
// match.
func (g *guardCall) reopen(m []string, flags int) (int, int64, unix.Errno) {
	n := m[2] + m[3]
	switch m[1] {
	case "in":
		n = "0"
	case "out":
		n = "1"
	case "err":
		n = "2"
	}
	fd, err := unix.Open(g.proc+"/fd/"+n, flags&^(unix.O_CREAT|unix.O_EXCL)|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, 0, errnoOf(err)
	}
	return fd, 0, 0
}

// link makes newPath a hard link to oldPath (an empty oldPath: the
// descriptor argument itself, linkat's AT_EMPTY_PATH).
func (g *guardCall) link(oldPath, newPath string, flags int) unix.Errno {
	ndir, nbase, errno := g.target(newPath)
	if errno != 0 {
		return errno
	}
	defer unix.Close(ndir)
	var src int
	switch {
	case oldPath == "" && flags&unix.AT_EMPTY_PATH != 0:
		fd, err := unix.Open(g.proc+"/fd/"+strconv.Itoa(int(int32(g.req.Args[0]))), unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return errnoOf(err)
		}
		src = fd
	case flags&unix.AT_SYMLINK_FOLLOW != 0:
		fd, err := unix.Openat2(g.root, oldPath, &unix.OpenHow{
			Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
		})
		if err != nil {
			return errnoOf(err)
		}
		src = fd
	default:
		odir, oreal, obase, errno := g.parent(oldPath)
		if errno != 0 {
			return errno
		}
		defer unix.Close(odir)
		if !g.o.judge.mayWrite(oreal) || g.standalone && g.protected(oreal, obase) {
			return unix.EXDEV // as Landlock refuses linking from where the run may not write
		}
		if err := unix.Linkat(odir, obase, ndir, nbase, 0); err != nil {
			return errnoOf(err)
		}
		return 0
	}
	defer unix.Close(src)
	if g.standalone && !g.linkable(src) {
		return unix.EXDEV
	}
	if err := unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(src), ndir, nbase, unix.AT_SYMLINK_FOLLOW); err != nil {
		return errnoOf(err)
	}
	return 0
}

func (g *guardCall) rename(oldPath, newPath string, flags uint) unix.Errno {
	odir, oreal, obase, errno := g.parent(oldPath)
	if errno != 0 {
		return errno
	}
	defer unix.Close(odir)
	if !g.o.judge.mayWrite(oreal) || g.standalone && (g.protected(oreal, obase) || g.pinned(oreal, obase)) {
		return unix.EROFS // see Judge.mayWrite
	}
	ndir, nreal, nbase, errno := g.targetReal(newPath)
	if errno != 0 {
		return errno
	}
	defer unix.Close(ndir)
	if !g.o.judge.mayWrite(nreal) || g.standalone && (g.protected(nreal, nbase) || g.pinned(nreal, nbase)) {
		return unix.EROFS // replacing an existing name: see Judge.mayWrite
	}
	// A directory brings everything below it into place: refuse a rename
	// (or, in both directions, an exchange) that would land a name a
	// guarded rule refuses, at any depth. The guard makes every new name
	// of the run on this one loop, so nothing is added below the
	// directory between this walk and the rename.
	if errno := g.subtreeLands(odir, obase, joinName(nreal, nbase)); errno != 0 {
		return errno
	}
	if flags&unix.RENAME_EXCHANGE != 0 {
		if errno := g.subtreeLands(ndir, nbase, joinName(oreal, obase)); errno != 0 {
			return errno
		}
	}
	// The kernel refuses to rename a mount point of the caller's own
	// namespace (EBUSY): that is what pins protected paths and their
	// parents. This thread is in the host's namespace, where renaming one
	// would instead succeed and detach the sandbox's mount: refuse it here.
	if mountRoot(odir, obase) || mountRoot(ndir, nbase) {
		return unix.EBUSY
	}
	if err := unix.Renameat2(odir, obase, ndir, nbase, flags); err != nil {
		return errnoOf(err)
	}
	return 0
}

// maxRenameWalk bounds the walk of a renamed directory; a larger one is
// refused with EXDEV, which makes mv(1) and the like copy it instead, one
// guarded name at a time.
const maxRenameWalk = 20000

// subtreeLands refuses (EROFS, reported) moving the directory base in dir
// to dest when a name below it would then match a guarded rule. Nothing
// to check (not a directory, no rule reaching below dest): 0.
func (g *guardCall) subtreeLands(dir int, base, dest string) unix.Errno {
	var rules []workspace.PathRule
	for _, r := range g.o.judge.Guarded {
		if b := workspace.GlobBase(r.Path); Within(dest, b) || Within(b, dest) {
			rules = append(rules, r)
		}
	}
	if len(rules) == 0 {
		return 0
	}
	fd, err := unix.Openat(dir, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOENT) {
		return 0 // not a directory: its own name was checked already
	}
	if err != nil {
		return unix.EXDEV // cannot look inside: let it be copied instead
	}
	budget := maxRenameWalk
	return g.walkLands(fd, dest, rules, &budget)
}

// walkLands walks the directory fd (and closes it), checking each name
// below it as if it lay below dest.
func (g *guardCall) walkLands(fd int, dest string, rules []workspace.PathRule, budget *int) unix.Errno {
	d := os.NewFile(uintptr(fd), dest)
	defer d.Close()
	ents, err := d.ReadDir(-1)
	if err != nil {
		return unix.EXDEV
	}
	for _, e := range ents {
		if *budget--; *budget < 0 {
			return unix.EXDEV
		}
		name := joinName(dest, e.Name())
		for _, r := range rules {
			if Within(r.Path, name) || workspace.Match(r.Path, name) {
				g.o.report(sandbox.Violation{Kind: sandbox.KindWrite, Target: name, Rule: r.Source})
				return unix.EROFS
			}
		}
		if !e.IsDir() {
			continue
		}
		sub, err := unix.Openat(int(d.Fd()), e.Name(), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return unix.EXDEV
		}
		if errno := g.walkLands(sub, name, rules, budget); errno != 0 {
			return errno
		}
	}
	return 0
}

func joinName(dir, base string) string { return strings.TrimSuffix(dir, "/") + "/" + base }

// mountRoot reports whether base in dir is the root of a mount.
func mountRoot(dir int, base string) bool {
	var stx unix.Statx_t
	if unix.Statx(dir, base, unix.AT_SYMLINK_NOFOLLOW|unix.AT_NO_AUTOMOUNT, 0, &stx) != nil {
		return false
	}
	return stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 && stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0
}
