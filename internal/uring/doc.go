// Package uring appends to files and flushes them to disk through a Linux
// io_uring, so that a goroutine waiting for the disk holds neither an OS
// thread nor a Go processor.
//
// A plain write or fdatasync is a blocking system call: when it lasts
// longer than a tick of the runtime's monitor, the runtime hands the
// caller's processor to another thread and takes it back after, two thread
// switches. With one processor serving every client, as a data node runs,
// that ping-pong on every fsync cost a quarter of appendfsync-always
// throughput. Here the kernel does the write inline when it can and hands
// anything that blocks, the flush always, to its own workers; the
// completion wakes the caller through an eventfd in Go's network poller,
// like a socket becoming readable.
package uring
