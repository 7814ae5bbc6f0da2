//go:build windows

package bench

// syncDisks does nothing on Windows, which has no system-wide sync(2);
// the bench is measured on Linux.
func syncDisks() {}
