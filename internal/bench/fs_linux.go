//go:build linux

package bench

import (
	"fmt"
	"syscall"
)

// FSType names the file system holding path (by its statfs magic number).
func FSType(path string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return "unknown file system"
	}
	names := map[int64]string{0xEF53: "ext4", 0x01021994: "tmpfs", 0x58465342: "xfs", 0x9123683E: "btrfs", 0x794c7630: "overlayfs"}
	if n, ok := names[int64(st.Type)]; ok { //nolint:unconvert // int32 on 32-bit Linux
		return n
	}
	return fmt.Sprintf("file system 0x%x", st.Type)
}
