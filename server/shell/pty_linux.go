package shell

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// PTY is a pseudo-terminal made for one sandboxed run: the command gets
// the slave (as its controlling terminal, see sandbox.Spec.TTY), and the
// caller's terminal is relayed to the master.
type PTY struct {
	Master, Slave *os.File
}

// OpenPTY makes a new pseudo-terminal pair (posix_openpt, unlockpt,
// ptsname). Neither end becomes cordon's controlling terminal.
func OpenPTY() (*PTY, error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("pty: %w", err)
	}
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		return nil, fmt.Errorf("pty: unlock: %w", err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("pty: number: %w", err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.FormatUint(uint64(n), 10), os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("pty: slave: %w", err)
	}
	return &PTY{Master: m, Slave: s}, nil
}

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// Relay connects the caller's terminal (in, out; in must be a terminal)
// to p for as long as the run lasts: in goes to raw mode (the pty inside
// does the line discipline, so ^C, ^Z and line editing act inside), the
// window size follows in's, and output flows until Stop.
type Relay struct {
	p       *PTY
	in, out *os.File
	saved   *unix.Termios
	winch   chan os.Signal
	done    chan struct{} // output copy finished
	once    sync.Once
}

// StartRelay begins relaying. Stop must be called once the run has ended.
func StartRelay(p *PTY, in, out *os.File) (*Relay, error) {
	r := &Relay{p: p, in: in, out: out, winch: make(chan os.Signal, 1), done: make(chan struct{})}
	saved, err := unix.IoctlGetTermios(int(in.Fd()), unix.TCGETS)
	if err != nil {
		return nil, fmt.Errorf("pty: the terminal: %w", err)
	}
	// The pty starts with the caller's settings (erase character, etc.).
	_ = unix.IoctlSetTermios(int(p.Slave.Fd()), unix.TCSETS, saved)
	raw := *saved
	raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	raw.Oflag &^= unix.OPOST
	raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	raw.Cflag &^= unix.CSIZE | unix.PARENB
	raw.Cflag |= unix.CS8
	raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
	if err := unix.IoctlSetTermios(int(in.Fd()), unix.TCSETS, &raw); err != nil {
		return nil, fmt.Errorf("pty: raw mode: %w", err)
	}
	r.saved = saved
	r.resize()
	signal.Notify(r.winch, syscall.SIGWINCH)
	go func() {
		for range r.winch {
			r.resize()
		}
	}()
	go func() {
		// Ends at exit: a read of the caller's terminal cannot be
		// interrupted, and what is typed after the run belongs to no one.
		_, _ = io.Copy(p.Master, in)
	}()
	go func() {
		defer close(r.done)
		_, _ = io.Copy(out, p.Master) // EIO once every slave is closed
	}()
	return r, nil
}

func (r *Relay) resize() {
	ws, err := unix.IoctlGetWinsize(int(r.in.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return
	}
	_ = unix.IoctlSetWinsize(int(r.p.Master.Fd()), unix.TIOCSWINSZ, ws)
}

// Stop drains what the run wrote, closes the pty and gives the caller's
// terminal its settings back.
func (r *Relay) Stop() {
	r.once.Do(func() {
		signal.Stop(r.winch)
		close(r.winch)
		// The run is over: no process holds the slave but us.
		r.p.Slave.Close()
		select {
		case <-r.done:
		case <-time.After(2 * time.Second):
		}
		r.p.Master.Close()
		_ = unix.IoctlSetTermios(int(r.in.Fd()), unix.TCSETS, r.saved)
	})
}
