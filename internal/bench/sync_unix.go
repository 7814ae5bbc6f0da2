//go:build unix

package bench

import "syscall"

// syncDisks flushes dirty pages (sync(2)), so that writing back one
// scenario's trees does not slow the next one's measurement.
func syncDisks() { syscall.Sync() }
