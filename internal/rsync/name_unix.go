//go:build !windows

package rsync

import "github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"

// checkLocalNames checks that a received file list can land on this
// machine: on Unix every name the sender may send (flist.CheckName) can.
func checkLocalNames([]*flist.Entry) error { return nil }
