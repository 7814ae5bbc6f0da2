package rsync

// What rsync -a's fidelity options change in the roles: the list codec and
// walk options they imply, and the backup directory's exclusion.

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/filter"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
)

// walkOptions is what a local walk serves for opts.
func walkOptions(opts Options) flist.WalkOptions {
	return flist.WalkOptions{Devices: !opts.NoDevices, Specials: !opts.NoSpecials, HardLinks: opts.HardLinks}
}

// newLister is flist.NewLister for a push of source under rules and
// opts, sharing its directory readings in opts.SourceReadings when set.
func newLister(source string, rules *filter.List, opts Options) (*flist.Lister, *flist.Entry, error) {
	lister, top, err := flist.NewLister(source, rules.Excluded, walkOptions(opts))
	if err == nil && opts.SourceReadings != nil {
		lister.ShareReadings(opts.SourceReadings, readingsKey(source, rules, opts))
	}
	return lister, top, err
}

// readingsKey names what decides a Lister's directory readings besides
// the directory (Options.SourceReadings): the source as given, the rules
// (all of them: two pushes that differ only in what they protect share
// nothing, which costs a reading, not a wrong list) and the walk options.
func readingsKey(source string, rules *filter.List, opts Options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d:%s|%+v", len(source), source, walkOptions(opts))
	for _, r := range rules.Rules() {
		fmt.Fprintf(&b, "|%d:%s", len(r), r)
	}
	return b.String()
}

// listCodec is the file-list encoding both sides agree on for opts: what
// the server's options (serverFlags) make it send or expect.
func listCodec(s *session, opts Options) flist.Codec {
	c := flist.Codec{
		Protocol: s.protocol, VarintFlags: s.varintFlags(),
		PreserveUID: true, PreserveGID: true, PreserveLinks: true,
		PreserveDevices: !opts.NoDevices, PreserveSpecials: !opts.NoSpecials,
		PreserveHardLinks: opts.HardLinks,
	}
	if opts.Checksum {
		c.ChecksumLen = s.algo.Len()
	}
	return c
}

// withBackupExcluded adds an exclude rule for the backup directory when it
// lies inside the destination dest, so that it is neither sent (a source
// directory of that name), nor deleted, nor listed — a later apply would
// otherwise delete the backups or call them drift. The rule is anchored
// at the destination's top, which is the transfer's: what is copied lands
// in dest whatever the source's trailing slash. A backup directory that
// cannot be told inside (an absolute one beside a relative destination)
// gets no rule.
func withBackupExcluded(opts Options, dest string) Options {
	rel, ok := backupInside(opts.BackupDir, dest)
	if !ok {
		return opts
	}
	pattern := "/" + rel
	if slices.Contains(opts.Exclude, pattern) {
		return opts
	}
	opts.Exclude = append([]string{pattern}, opts.Exclude...)
	return opts
}

// BackupExclude is the exclude pattern a sync into dest adds for the
// backup directory backupDir (see Options.BackupDir), and whether it adds
// one: callers that list or hash the destination leave the same path out.
func BackupExclude(backupDir, dest string) (string, bool) {
	rel, ok := backupInside(backupDir, dest)
	return "/" + rel, ok
}

// backupInside returns the backup directory's path relative to the
// destination when it lies inside it.
func backupInside(backupDir, dest string) (string, bool) {
	clean := path.Clean
	if backupDir == "" {
		return "", false
	}
	b := strings.ReplaceAll(backupDir, `\`, "/")
	if !isAbs(b) {
		b = clean(b)
	} else {
		d := strings.ReplaceAll(dest, `\`, "/")
		if !isAbs(d) {
			return "", false
		}
		d, b = clean(d), clean(b)
		if d == "/" {
			b = strings.TrimPrefix(b, "/")
		} else {
			var ok bool
			if b, ok = strings.CutPrefix(b, strings.TrimSuffix(d, "/")+"/"); !ok {
				return "", false
			}
		}
	}
	if b == "." || b == "" || b == ".." || strings.HasPrefix(b, "../") {
		return "", false
	}
	return b, true
}

// isAbs reports whether a "/"-separated path is absolute, on either side
// (a Windows drive path included).
func isAbs(p string) bool {
	return strings.HasPrefix(p, "/") || (len(p) >= 3 && p[1] == ':' && p[2] == '/')
}
