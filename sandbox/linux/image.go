//go:build linux

package linux

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/cordon-dev/cordon/workspace"
	"golang.org/x/sys/unix"
)

// imageFile is the init stage's executable image (Options.InitImage),
// opened once per Backend and shared by its runs: every bwrap inherits it
// as initstage.FDImage and execs /proc/self/fd/N, so where it lives need
// not be visible inside the sandbox.
type imageFile struct {
	once sync.Once
	file *os.File
}

// stageImage returns the open image, or nil when there is none or it
// cannot be executed here (then the stage re-executes the cordon binary,
// which works the same, a few milliseconds slower). The image is kept in
// cordon's state directory, hidden inside every sandbox, and written
// there once per cordon binary; a sealed memfd is the fallback, at the
// price of copying it for every process.
func (b *Backend) stageImage(stateDir string) *os.File {
	b.image.once.Do(func() {
		image := b.opts.InitImage
		if image == "" {
			return
		}
		f, err := cachedImage(filepath.Join(stateDir, "init"), b.imageName(), image)
		if err != nil {
			b.opts.Logger.Debug("init image: no cached copy", "err", err)
			f, err = sealedExecutable("cordon-init", image)
		}
		if err != nil {
			b.opts.Logger.Debug("init stage: re-executing cordon", "err", err)
			return
		}
		b.image.file = f
	})
	return b.image.file
}

// imageName names the cached image after the cordon binary that carries
// it (device, inode, size and modification time): a rebuilt or upgraded
// cordon writes its own, without hashing megabytes on every start.
func (b *Backend) imageName() string {
	self, err := b.initPath()
	var st unix.Stat_t
	if err != nil || unix.Stat(self, &st) != nil {
		return "cordon-init-" + strconv.Itoa(len(b.opts.InitImage))
	}
	return fmt.Sprintf("cordon-init-%x-%x-%x-%x", st.Dev, st.Ino, st.Size, st.Mtim.Nano())
}

// cachedImage opens dir/name, first writing image there when it is
// missing or not what was written. dir is cordon's own (0700).
func cachedImage(dir, name, image string) (*os.File, error) {
	if dir == "" || !filepath.IsAbs(dir) {
		return nil, errors.New("no state directory")
	}
	path := filepath.Join(dir, name)
	f, err := openImage(path, len(image))
	if err == nil {
		return f, nil
	}
	if err := workspace.PrivateDir(dir); err != nil {
		return nil, err
	}
	var sfs unix.Statfs_t
	if err := unix.Statfs(dir, &sfs); err == nil && sfs.Flags&unix.ST_NOEXEC != 0 {
		return nil, fmt.Errorf("%s is on a noexec mount", dir)
	}
	tmp, err := os.CreateTemp(dir, name+".tmp*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(image)
	if err == nil {
		err = tmp.Chmod(0o500)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return nil, fmt.Errorf("writing the init image: %w", err)
	}
	pruneImages(dir, name)
	return openImage(path, len(image))
}

// openImage opens an image file only when it is a regular file of ours
// of the expected size that nobody else can write.
func openImage(path string, size int) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Uid != uint32(os.Getuid()) || st.Mode&0o022 != 0 || st.Size != int64(size) {
		f.Close()
		return nil, fmt.Errorf("%s is not the init image cordon wrote", path)
	}
	return f, nil
}

// pruneImages removes the images of other cordon binaries. A run using
// one keeps its open descriptor, so removing it under the run is safe.
func pruneImages(dir, keep string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.Name() != keep && e.Type()&fs.ModeType == 0 {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// mfdExec is MFD_EXEC (Linux 6.3): an executable memfd even where
// vm.memfd_noexec makes them non-executable by default.
const mfdExec = 0x10

// sealedExecutable returns a sealed memfd holding image.
func sealedExecutable(name, image string) (*os.File, error) {
	flags := unix.MFD_CLOEXEC | unix.MFD_ALLOW_SEALING
	fd, err := unix.MemfdCreate(name, flags|mfdExec)
	if errors.Is(err, unix.EINVAL) {
		fd, err = unix.MemfdCreate(name, flags) // before 6.3: executable by default
	}
	if err != nil {
		return nil, fmt.Errorf("memfd: %w", err)
	}
	f := os.NewFile(uintptr(fd), name)
	if _, err := f.WriteString(image); err != nil {
		f.Close()
		return nil, fmt.Errorf("memfd: %w", err)
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		f.Close()
		return nil, fmt.Errorf("sealing the memfd: %w", err)
	}
	return f, nil
}
