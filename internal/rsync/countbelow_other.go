//go:build !linux

package rsync

// countBelow counts the entries below the directory local (see
// countBelowReadDir).
func countBelow(local string) int { return countBelowReadDir(local) }
