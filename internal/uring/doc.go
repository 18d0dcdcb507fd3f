// Package uring flushes files to disk through a Linux io_uring, so that a
// goroutine waiting for the disk holds neither an OS thread nor a Go
// processor.
//
// A plain fdatasync is a blocking system call: the Go runtime hands the
// caller's processor to another thread while it lasts and takes it back
// after, two thread switches per flush. With one processor serving every
// client, as a data node runs, that hand-off ping-pong cost a quarter of
// appendfsync-always throughput. Here the kernel's own worker waits for
// the disk, and the completion wakes the caller through an eventfd in Go's
// network poller, like a socket becoming readable.
package uring
