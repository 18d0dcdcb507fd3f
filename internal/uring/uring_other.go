//go:build !linux

package uring

import "errors"

// ErrRing marks a failure of the ring itself rather than of a flush.
var ErrRing = errors.New("io_uring failed")

// Ring is unavailable outside Linux.
type Ring struct{}

// New always fails outside Linux: callers fall back to a plain fdatasync.
func New() (*Ring, error) { return nil, errors.New("io_uring is Linux only") }

// Close does nothing.
func (r *Ring) Close() error { return nil }

// WriteSync is never reached: New fails.
func (r *Ring) WriteSync(fd uintptr, p []byte, sync bool) (n int, writeErr, syncErr error) {
	return 0, ErrRing, nil
}
