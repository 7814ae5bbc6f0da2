//go:build !unix

package sftpsync

import "time"

// lchtimes: this platform cannot set a symlink's own times.
func lchtimes(string, time.Time) error { return errUnsupported }
