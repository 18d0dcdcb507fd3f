//go:build linux

package faultfs

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// A failed fsync loses what was written since the last good one (it reads
// back as zeros), reports the error once, and later writes and fsyncs work
// once healed; what was synced before stays.
func TestFailedSyncLosesUnsyncedWrites(t *testing.T) {
	if err := Available(); err != nil {
		t.Skipf("FUSE unavailable: %v", err)
	}
	backing, dir := t.TempDir(), t.TempDir()
	ffs, err := Mount(backing, dir)
	if err != nil {
		t.Skipf("cannot mount: %v", err)
	}
	defer ffs.Unmount()
	f, err := os.OpenFile(filepath.Join(dir, "log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	write := func(s string) {
		t.Helper()
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	write("synced;")
	if err := f.Sync(); err != nil {
		t.Fatalf("healthy fsync: %v", err)
	}
	write("lost;")
	ffs.FailSyncs(syscall.EIO)
	if err := f.Sync(); err == nil {
		t.Fatal("fsync succeeded on a failing disk")
	}
	ffs.Heal()
	if err := f.Sync(); err != nil {
		t.Fatalf("fsync after healing: %v", err)
	}
	write("after;")
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(backing, "log"))
	if err != nil {
		t.Fatal(err)
	}
	want := []byte("synced;\x00\x00\x00\x00\x00after;")
	if !bytes.Equal(got, want) {
		t.Fatalf("backing file holds %q, want %q", got, want)
	}
	if n := ffs.FailedSyncs(); n != 1 {
		t.Errorf("FailedSyncs = %d, want 1", n)
	}
}
