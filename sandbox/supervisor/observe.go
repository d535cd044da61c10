//go:build linux

package supervisor

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/cordon-dev/cordon/sandbox"
	"github.com/cordon-dev/cordon/sandbox/netinside"
	"github.com/cordon-dev/cordon/sandbox/seccomp"
	"github.com/cordon-dev/cordon/workspace"
	"golang.org/x/sys/unix"
)

// Observer is the host-side supervisor of one run: for every write-intent call it
// reads the path from the caller's memory, lets the call continue to the
// kernel (which enforces the mounts), and records a violation when the
// path lies where the sandbox makes writes impossible. A path read this
// way can be changed by another thread before the kernel reads it: fine
// for a report, never used to decide.
type Observer struct {
	fd     int
	judge  *Judge
	runID  string
	label  string
	found  found
	done   chan struct{}
	closed chan struct{}
	wake   [2]int // a pipe: stop writes to it so the loop never polls on a timer

	capture  *netinside.Supervisor // nil: connect() continues untouched
	guards   *GuardPool            // the threads a guarding observer's loop runs on
	inflight sync.WaitGroup
	// grantedIDs are the identities of judge.Granted (standalone.go).
	grantedIDs map[fileID]bool

	// Kept for the guard by the workers (mu): the sandbox's root, and the
	// run's umask while no process has called umask(2) (see
	// guardCall.callerUmask).
	mu         sync.Mutex
	root       int // -1: not opened yet
	umask      uint32
	umaskKnown bool
	umaskGen   uint64 // umask(2) calls seen so far
	// names orders the guard's calls when several workers serve one run:
	// a rename holds it alone (its walk of a directory must see every name
	// that will land with it), every other call shares it.
	names sync.RWMutex

	syncWake bool // see StartObserver
}

// guarding reports whether the observer makes new names itself (guard.go).
// A standalone run always does (standalone.go).
func (o *Observer) guarding() bool {
	return (len(o.judge.Guarded) > 0 || o.judge.Standalone) && o.guards != nil
}

// StartObserver supervises the seccomp listener fd (which it then owns)
// for one run: judge says where writes are refused, capture (nil: none)
// handles connect() notifications, guards runs the guard's threads.
func StartObserver(fd int, judge *Judge, capture *netinside.Supervisor, guards *GuardPool) *Observer {
	o := &Observer{fd: fd, judge: judge, capture: capture, guards: guards, done: make(chan struct{}), closed: make(chan struct{}), root: -1}
	// Wake the observer on the CPU of the caller that waits for it, and
	// the caller on the observer's: every round trip is a hand-off
	// between two threads, one of which is about to sleep. Linux 6.6
	// added the flag together with a receive that returns once no
	// process is left to notify, so the loop can then wait in the receive
	// itself (the wake-up this flag speeds up) rather than in poll; older
	// kernels refuse the flag, and the loop polls as before.
	o.syncWake = ioctlU64(fd, seccompIoctlNotifSetFlags, unix.SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP) == nil
	if capture != nil && o.unixConnect() {
		capture.NoContinue = true // see unixconnect.go
	}
	if judge.Standalone {
		o.grantedIDs = grantedIDs(judge.Granted)
	}
	if err := unix.Pipe2(o.wake[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		o.wake = [2]int{-1, -1}
	}
	if o.guarding() {
		// The loop makes names itself: it runs on threads without
		// capabilities (guardPool).
		guards.run(o.loop)
	} else {
		go o.loop()
	}
	return o
}

func (o *Observer) loop() {
	defer close(o.done)
	// Judging a path (following its links) is left to a goroutine of its
	// own, so the next call is answered without waiting for it; paths
	// pile up between its turns, and one wake-up serves them all.
	var (
		pendingMu sync.Mutex
		pending   []string
	)
	wake, judged := make(chan struct{}, 1), make(chan struct{})
	go func() {
		defer close(judged)
		for open := true; open; {
			_, open = <-wake
			pendingMu.Lock()
			batch := pending
			pending = nil
			pendingMu.Unlock()
			for _, p := range batch {
				o.judgeWrite(p)
			}
		}
	}()
	judge := func(paths []string) {
		pendingMu.Lock()
		pending = append(pending, paths...)
		pendingMu.Unlock()
		select {
		case wake <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
	defer func() { close(wake); <-judged }()
	defer unix.Close(o.fd)
	defer func() {
		if o.root >= 0 {
			unix.Close(o.root)
		}
	}()
	defer o.inflight.Wait()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var workers sync.WaitGroup
	for i := 1; i < o.workers(); i++ {
		workers.Add(1)
		o.guards.run(func() {
			defer workers.Done()
			o.serve(ctx, judge)
		})
	}
	o.serve(ctx, judge)
	workers.Wait()
}

// workers is how many threads serve the run's calls at once. A guarding
// observer on a kernel whose receive returns when no process is left
// (syncWake) runs one per processor, up to four: a single thread would
// make the names of a many-threaded command (npm's file system pool, a
// parallel build) one after another. A single-threaded command still
// meets one worker at a time, with no hand-off between threads.
func (o *Observer) workers() int {
	if !o.guarding() || !o.syncWake || o.judge.Standalone {
		return 1
	}
	return min(max(runtime.GOMAXPROCS(0), 1), 4)
}

// serve answers the run's calls until no process is left or Stop.
func (o *Observer) serve(ctx context.Context, judge func([]string)) {
	mem := memFiles{}
	defer mem.close()
	for {
		if !o.syncWake {
			pfd := []unix.PollFd{{Fd: int32(o.fd), Events: unix.POLLIN}, {Fd: int32(o.wake[0]), Events: unix.POLLIN}}
			timeout := -1
			if o.wake[0] < 0 {
				timeout = 5 // no wake pipe: fall back to polling
			}
			n, err := unix.Poll(pfd, timeout)
			select {
			case <-o.closed:
				return
			default:
			}
			if err != nil && !errors.Is(err, unix.EINTR) {
				return
			}
			if n == 0 {
				continue
			}
			if pfd[0].Revents&(unix.POLLHUP|unix.POLLERR) != 0 && pfd[0].Revents&unix.POLLIN == 0 {
				return // every observed process is gone
			}
		}
		var req netinside.Notif
		if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(o.fd), unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(&req))); errno != 0 {
			if errno == unix.EINTR || errno == unix.ENOENT {
				// ENOENT: the caller was interrupted, or (waiting in the
				// receive) no process is left to notify.
				if o.syncWake && o.orphaned() {
					return
				}
				continue
			}
			return
		}
		if o.syncWake {
			select {
			case <-o.closed:
				netinside.Respond(o.fd, req.ID, 0, unix.EINTR, false)
				return
			default:
			}
		}
		if (req.Nr == unix.SYS_CONNECT || (req.Nr == unix.SYS_LISTEN && o.capture != nil)) && (o.capture != nil || o.unixConnect()) {
			n := req
			o.inflight.Add(1)
			go func() {
				defer o.inflight.Done()
				o.connect(ctx, &n)
			}()
			continue
		}
		if req.Nr == unix.SYS_UMASK {
			// Notified only so that the guard stops trusting the umask
			// it read (guardCall.callerUmask): the flag is set before the
			// call goes on, so every call its caller makes after it
			// reads the umask anew.
			o.mu.Lock()
			o.umaskGen++
			o.mu.Unlock()
			netinside.Respond(o.fd, req.ID, 0, 0, true)
			continue
		}
		if o.judge.Standalone && o.guarding() {
			o.standalone(&req, mem)
			continue
		}
		if o.guarding() && createsName(&req) {
			o.guard(&req, mem)
			continue
		}
		// Relative names are resolved before the call goes on: once it
		// has, the caller may already have moved (mkdir -p makes a, enters
		// it, makes b), and its cwd would misplace the report.
		abs, settled := absolutePaths(&req, o.paths(mem, &req))
		netinside.Respond(o.fd, req.ID, 0, 0, true)
		for _, p := range settled {
			o.judgeLanded(p)
		}
		if len(abs) > 0 {
			judge(abs)
		}
	}
}

// orphaned reports whether no process is left that the listener could
// be notified of (or Stop was called).
func (o *Observer) orphaned() bool {
	select {
	case <-o.closed:
		return true
	default:
	}
	pfd := []unix.PollFd{{Fd: int32(o.fd), Events: unix.POLLIN}}
	n, err := unix.Poll(pfd, 0)
	return err == nil && n > 0 && pfd[0].Revents&(unix.POLLHUP|unix.POLLERR) != 0 && pfd[0].Revents&unix.POLLIN == 0
}

// seccompIoctlNotifSetFlags is SECCOMP_IOCTL_NOTIF_SET_FLAGS
// (_IOW('!', 4, __u64)), which x/sys lacks.
const seccompIoctlNotifSetFlags = 0x40082104

func ioctlU64(fd int, req uint, v uint64) error {
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(v)); errno != 0 {
		return errno
	}
	return nil
}

// observedPath is a path argument as read from the caller's memory,
// before it is made absolute.
type observedPath struct {
	path   string
	dirArg int // the dirfd argument, -1: the working directory
}

// memFiles keeps the callers' /proc/PID/mem open between calls: opening
// it is the dearest part of reading a path. A cached descriptor that no
// longer reads (the process exited or exec'd, so its old memory is gone)
// is reopened; the notification id is checked after every read, so a
// recycled pid cannot feed us another process's memory. Each worker has
// its own.
type memFiles map[uint32]*memFile

// memFile is one caller's open memory, and what was learnt of the caller
// while it stays the same process (its memory still reads).
type memFile struct {
	fd int
	// umask is the caller's umask as read at umaskGen (valid: umaskOK);
	// see guardCall.callerUmask.
	umask    uint32
	umaskGen uint64
	umaskOK  bool
}

// file is pid's open memory, opened if need be.
func (m memFiles) file(pid uint32) (*memFile, bool) {
	if f, ok := m[pid]; ok {
		return f, true
	}
	if len(m) >= 256 {
		m.close()
	}
	fd, err := unix.Open("/proc/"+strconv.Itoa(int(pid))+"/mem", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, false
	}
	f := &memFile{fd: fd}
	m[pid] = f
	return f, true
}

// drop forgets pid's memory (and all that was learnt of it).
func (m memFiles) drop(pid uint32) {
	if f, ok := m[pid]; ok {
		unix.Close(f.fd)
		delete(m, pid)
	}
}

func (m memFiles) read(pid uint32, addr uint64) (string, bool) {
	for attempt := 0; attempt < 2; attempt++ {
		f, ok := m.file(pid)
		if !ok {
			return "", false
		}
		if p, ok := readPath(f.fd, addr); ok {
			return p, true
		}
		m.drop(pid)
	}
	return "", false
}

// readBytes reads len(buf) bytes at addr of pid's memory (a struct
// argument: utimensat's times).
func (m memFiles) readBytes(pid uint32, addr uint64, buf []byte) bool {
	for attempt := 0; attempt < 2; attempt++ {
		f, ok := m.file(pid)
		if !ok {
			return false
		}
		if n, _ := unix.Pread(f.fd, buf, int64(addr)); n == len(buf) {
			return true
		}
		m.drop(pid)
	}
	return false
}

func (m memFiles) close() {
	for pid := range m {
		m.drop(pid)
	}
}

// paths reads the call's path arguments, then checks that the call is
// still pending (so what was read is the caller's).
func (o *Observer) paths(mem memFiles, req *netinside.Notif) []observedPath {
	specs := seccomp.ObservedPaths[uint32(req.Nr)]
	var out []observedPath
	for _, s := range specs {
		if p, ok := mem.read(req.Pid, req.Args[s[1]]); ok && p != "" {
			out = append(out, observedPath{path: p, dirArg: s[0]})
		}
	}
	if len(out) == 0 {
		return nil
	}
	id := req.ID
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(o.fd), unix.SECCOMP_IOCTL_NOTIF_ID_VALID, uintptr(unsafe.Pointer(&id))); errno != 0 {
		return nil
	}
	return out
}

// absolutePaths resolves relative paths against the caller's dirfd or
// working directory, as the kernel will: it runs while the call waits, so
// neither can change in between (only a relative name costs a readlink).
// A path whose landing is known already is returned in settled rather
// than abs: a single name in a directory whose real path the kernel just
// gave, for a call that acts on the name itself (unlink, rmdir), never on
// what a link there points to. Judging those needs no system call, so the
// bulk of a build's removals costs no hand-off to the judging goroutine.
func absolutePaths(req *netinside.Notif, paths []observedPath) (abs, settled []string) {
	for _, op := range paths {
		p := op.path
		if !filepath.IsAbs(p) {
			base := "/proc/" + strconv.Itoa(int(req.Pid)) + "/cwd"
			if op.dirArg >= 0 && int32(req.Args[op.dirArg]) != atFDCWD {
				base = "/proc/" + strconv.Itoa(int(req.Pid)) + "/fd/" + strconv.Itoa(int(int32(req.Args[op.dirArg])))
			}
			dir, err := os.Readlink(base)
			if err != nil {
				continue
			}
			if actsOnName(req.Nr) && singleName(p) && strings.HasPrefix(dir, "/") && !strings.HasSuffix(dir, " (deleted)") {
				settled = append(settled, filepath.Join(dir, p))
				continue
			}
			p = filepath.Join(dir, p)
		}
		p = filepath.Clean(p)
		if (req.Nr == unix.SYS_MKDIR || req.Nr == unix.SYS_MKDIRAT) && exists(p) {
			continue // mkdir -p of an existing directory: EEXIST, not a refusal
		}
		abs = append(abs, p)
	}
	return abs, settled
}

// actsOnName reports whether the observed call nr removes the name it is
// given, following no link in its last component.
func actsOnName(nr int32) bool {
	return nr == unix.SYS_UNLINK || nr == unix.SYS_UNLINKAT || nr == unix.SYS_RMDIR
}

// singleName reports whether p is one name: no slash, not . or ..
func singleName(p string) bool {
	return p != "" && p != "." && p != ".." && !strings.Contains(p, "/")
}

// readPath reads a NUL-terminated path of at most PATH_MAX bytes from the
// memory file mem (/proc/PID/mem): most paths are short, so a small read
// first, the whole of PATH_MAX only when that holds no NUL.
func readPath(mem int, addr uint64) (string, bool) {
	var small [256]byte
	n, _ := unix.Pread(mem, small[:], int64(addr))
	if n < 0 {
		return "", false
	}
	if i := bytes.IndexByte(small[:n], 0); i >= 0 {
		return string(small[:i]), true
	}
	if n < len(small) {
		return "", false // the readable memory ends before a NUL
	}
	buf := make([]byte, unix.PathMax)
	n, _ = unix.Pread(mem, buf, int64(addr))
	if n < 0 {
		return "", false
	}
	i := bytes.IndexByte(buf[:n], 0)
	if i < 0 {
		return "", false
	}
	return string(buf[:i]), true
}

func (o *Observer) judgeWrite(path string) { o.judgeLanded(o.judge.landing(path)) }

// judgeLanded reports a write to path, which is where it lands, when the
// sandbox refuses it.
func (o *Observer) judgeLanded(path string) {
	refused, rule := o.judge.refuses(path)
	if !refused {
		return
	}
	o.report(sandbox.Violation{Kind: sandbox.KindWrite, Target: path, Rule: rule})
}

// report records a refused call once per path, counting repeats.
func (o *Observer) report(v sandbox.Violation) { o.found.add(v) }

// Stop ends the supervisor (the sandbox is gone) and returns what it found.
func (o *Observer) Stop() []sandbox.Violation {
	close(o.closed)
	if o.wake[1] >= 0 {
		unix.Write(o.wake[1], []byte{0})
	}
	<-o.done
	if o.wake[0] >= 0 {
		unix.Close(o.wake[0])
		unix.Close(o.wake[1])
	}
	return o.found.all()
}

// Judge knows where the sandbox refuses writes: everywhere but the
// writable binds, and inside them the read-only binds and hidden places
// (and, for names not made yet, the guarded rules: guard.go). It is built
// from the plan of the run (cordon's own view of the policy snapshot),
// never from anything the sandbox reports.
type Judge struct {
	Writable []string // bound read-write
	ReadOnly []string // bound read-only over writable places
	Hidden   []string // hidden directories and files (deny_read)
	TempDir  string   // the run's private temp dir ("/tmp" when it is the sandbox's /tmp)
	// Exposed are read-only places inside TempDir (the host's, bound back
	// over a private /tmp), writable only where Writable says so.
	Exposed []string
	// Guarded are the deny_write rules and protected paths for names
	// that do not exist yet: with any, the observer makes every new name
	// itself (guard.go).
	Guarded []workspace.PathRule
	Policy  *workspace.Policy // for naming the deciding rule
	// Standalone: the run has no mount namespace (the standalone Landlock
	// backend). Nothing but Landlock and this supervisor holds the line:
	// the observer performs every write-intent call Landlock would refuse
	// in a writable place (standalone.go), and applies ReadOnly and Hidden
	// itself.
	Standalone bool
	// Granted are the hierarchies the Landlock ruleset grants every write
	// right (standalone): calls there continue to the kernel.
	Granted []string
}

// landing is where a write to path lands: the links the host sees, followed.
// For a report only. The kernel resolves it (an O_PATH open, whose real
// path /proc/self/fd names): a few system calls, where walking the path
// in Go costs an lstat per component, for every observed call.
func (j *Judge) landing(path string) string {
	if real, ok := realPath(path, 0); ok {
		return real
	}
	if dir, ok := realPath(filepath.Dir(path), unix.O_DIRECTORY); ok {
		return filepath.Join(dir, filepath.Base(path))
	}
	return path
}

// realPath is path with every link followed, as the kernel resolves it.
func realPath(path string, flags int) (string, bool) {
	fd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC|flags, 0)
	if err != nil {
		return "", false
	}
	defer unix.Close(fd)
	real, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil || !strings.HasPrefix(real, "/") || strings.HasSuffix(real, " (deleted)") {
		return "", false
	}
	return real, true
}

func (j *Judge) refuses(path string) (bool, workspace.Source) {
	for _, special := range []string{"/dev", "/proc"} {
		if Within(special, path) {
			return false, workspace.Source{}
		}
	}
	ruleFor := func(rules []workspace.PathRule) workspace.Source {
		for _, r := range rules {
			if Within(r.Path, path) || workspace.Match(r.Path, path) {
				return r.Source
			}
		}
		return workspace.Source{}
	}
	for _, d := range j.Hidden {
		if Within(d, path) {
			return true, ruleFor(j.Policy.Filesystem.DenyRead)
		}
	}
	for _, ro := range j.ReadOnly {
		if Within(ro, path) {
			return true, ruleFor(j.Policy.Filesystem.DenyWrite)
		}
	}
	if UnderAny(path, j.Writable) {
		return false, workspace.Source{}
	}
	if UnderAny(path, j.Exposed) || j.TempDir == "" || !Within(j.TempDir, path) {
		return true, workspace.Source{}
	}
	return false, workspace.Source{}
}
