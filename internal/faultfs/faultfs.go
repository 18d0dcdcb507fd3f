//go:build linux

// Package faultfs mounts a directory through FUSE so that tests can make
// its fsyncs fail the way a failing disk's do.
//
// When fsync reports an error, Linux has already marked the pages it could
// not write back as clean: what was written since the last successful
// fsync may be gone from the disk for good, and a later fsync of the same
// file succeeds without bringing it back. A failed fsync here does the
// worst of that: the bytes written to the file since its last successful
// fsync read back as zeros from then on, and the error is reported once.
package faultfs

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// FS is a directory of the host (Backing) mounted at Dir.
type FS struct {
	// Dir is the mount point: the directory the program under test uses.
	Dir string
	// Backing is where the files really are.
	Backing string

	server  *fuse.Server
	failErr atomic.Int64 // a syscall.Errno fsyncs fail with; 0 while healthy
	failed  atomic.Int64 // fsyncs that failed
}

// Mount mounts backing at dir. The caller must be root (or allowed to
// use /dev/fuse) and must Unmount.
func Mount(backing, dir string) (*FS, error) {
	f := &FS{Dir: dir, Backing: backing}
	root := &fs.LoopbackRoot{Path: backing}
	var st syscall.Stat_t
	if err := syscall.Stat(backing, &st); err != nil {
		return nil, fmt.Errorf("faultfs: %w", err)
	}
	root.Dev = uint64(st.Dev)
	root.NewNode = func(r *fs.LoopbackRoot, _ *fs.Inode, _ string, _ *syscall.Stat_t) fs.InodeEmbedder {
		return &node{LoopbackNode: fs.LoopbackNode{RootData: r}, fs: f}
	}
	root.RootNode = root.NewNode(root, nil, "", &st)
	server, err := fs.Mount(dir, root.RootNode, &fs.Options{
		MountOptions: fuse.MountOptions{DirectMount: true, FsName: "faultfs", Name: "faultfs"},
	})
	if err != nil {
		return nil, fmt.Errorf("faultfs: mounting %s: %w", dir, err)
	}
	f.server = server
	return f, nil
}

// Unmount detaches the mount.
func (f *FS) Unmount() error { return f.server.Unmount() }

// FailSyncs makes every fsync from now on fail with errno.
func (f *FS) FailSyncs(errno syscall.Errno) { f.failErr.Store(int64(errno)) }

// Heal makes fsyncs work again.
func (f *FS) Heal() { f.failErr.Store(0) }

// FailedSyncs is how many fsyncs have failed.
func (f *FS) FailedSyncs() int64 { return f.failed.Load() }

type node struct {
	fs.LoopbackNode
	fs *FS
}

var (
	_ fs.NodeOpener  = (*node)(nil)
	_ fs.NodeCreater = (*node)(nil)
)

// Open and Create hand out files that track what was written since their
// last fsync. Direct I/O keeps the kernel's page cache from answering
// reads with data the "disk" has lost.
func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	fh, fuseFlags, errno := n.LoopbackNode.Open(ctx, flags)
	if errno != 0 {
		return fh, fuseFlags, errno
	}
	return n.wrap(fh), fuseFlags | fuse.FOPEN_DIRECT_IO, 0
}

func (n *node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	inode, fh, fuseFlags, errno := n.LoopbackNode.Create(ctx, name, flags, mode, out)
	if errno != 0 {
		return inode, fh, fuseFlags, errno
	}
	return inode, n.wrap(fh), fuseFlags | fuse.FOPEN_DIRECT_IO, 0
}

func (n *node) wrap(fh fs.FileHandle) fs.FileHandle {
	lf, ok := fh.(*fs.LoopbackFile)
	if !ok {
		return fh
	}
	return &file{LoopbackFile: lf, fs: n.fs}
}

// file is an open file; dirtyFrom..dirtyTo is the range written since its
// last successful fsync.
type file struct {
	*fs.LoopbackFile
	fs *FS

	mu                 sync.Mutex
	dirtyFrom, dirtyTo int64
}

func (f *file) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	n, errno := f.LoopbackFile.Write(ctx, data, off)
	if n > 0 {
		f.mu.Lock()
		end := off + int64(n)
		if f.dirtyTo == f.dirtyFrom {
			f.dirtyFrom, f.dirtyTo = off, end
		} else {
			f.dirtyFrom, f.dirtyTo = min(f.dirtyFrom, off), max(f.dirtyTo, end)
		}
		f.mu.Unlock()
	}
	return n, errno
}

func (f *file) Setattr(ctx context.Context, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	errno := f.LoopbackFile.Setattr(ctx, in, out)
	if size, ok := in.GetSize(); ok && errno == 0 {
		// Cut back: nothing past the new end is dirty.
		f.mu.Lock()
		f.dirtyTo = min(f.dirtyTo, int64(size))
		f.dirtyFrom = min(f.dirtyFrom, f.dirtyTo)
		f.mu.Unlock()
	}
	return errno
}

func (f *file) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	f.mu.Lock()
	defer f.mu.Unlock()
	if errno := syscall.Errno(f.fs.failErr.Load()); errno != 0 {
		f.fs.failed.Add(1)
		if n := f.dirtyTo - f.dirtyFrom; n > 0 {
			f.LoopbackFile.Write(ctx, make([]byte, n), f.dirtyFrom)
		}
		f.dirtyFrom, f.dirtyTo = 0, 0
		return errno
	}
	if errno := f.LoopbackFile.Fsync(ctx, flags); errno != 0 {
		return errno
	}
	f.dirtyFrom, f.dirtyTo = 0, 0
	return 0
}

// Available reports whether this process can mount FUSE file systems.
func Available() error {
	fd, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return err
	}
	return fd.Close()
}
