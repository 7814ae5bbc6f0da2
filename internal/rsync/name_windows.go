//go:build windows

package rsync

import "github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"

// checkLocalNames checks that a received file list can land on this
// machine: Windows refuses many names a Unix server holds
// (checkWindowsNames).
func checkLocalNames(entries []*flist.Entry) error { return checkWindowsNames(entries) }
