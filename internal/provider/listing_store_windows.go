//go:build windows

package provider

import "io/fs"

// ownerOnly accepts any directory: Windows reports no permission bits
// (Go shows 0777), and the store lives in the user's %LocalAppData%,
// which Windows' ACLs keep to that user.
func ownerOnly(fs.FileInfo) bool { return true }
