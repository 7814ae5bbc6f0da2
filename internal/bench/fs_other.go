//go:build !linux

package bench

// FSType names the file system holding path. The bench runs on Linux; on
// other systems the report says only that it does not know.
func FSType(string) string { return "unknown file system" }
