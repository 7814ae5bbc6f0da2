package rsync

import (
	"fmt"
	"os"
	"strings"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/csum"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/filter"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/wire"
)

// itemizedChange renders iflags like rsync's %i (log.c:log_formatted,
// case 'i'): YXcstpoguax. The string comes from items when that is not nil.
func itemizedChange(e *flist.Entry, iflags uint16, sending bool, items itemStrings) Change {
	b := []byte("...........")
	switch {
	case iflags&itemTransfer != 0 && sending:
		b[0] = '<'
	case iflags&itemTransfer != 0:
		b[0] = '>'
	case iflags&itemLocalChange != 0:
		b[0] = 'c'
	}
	switch {
	case e.IsDir():
		b[1] = 'd'
	case e.IsSymlink():
		b[1] = 'L'
	case e.IsDevice():
		b[1] = 'D'
	case e.IsSpecial():
		b[1] = 'S'
	default:
		b[1] = 'f'
	}
	kind := ChangeAttrs
	if iflags&itemIsNew != 0 {
		for i := 2; i < len(b); i++ {
			b[i] = '+'
		}
		kind = ChangeCreate
	} else {
		set := func(pos int, bit uint16, c byte) {
			if iflags&bit != 0 {
				b[pos] = c
			}
		}
		set(2, itemReportChange, 'c')
		set(3, itemReportSize, 's')
		set(4, itemReportTime, 't')
		set(5, itemReportPerms, 'p')
		set(6, itemReportOwner, 'o')
		set(7, itemReportGroup, 'g')
		set(8, itemReportAtime, 'u')
		set(9, itemReportACL, 'a')
		set(10, itemReportXattr, 'x')
		if iflags&itemTransfer != 0 {
			kind = ChangeUpdate
		}
		allDots := true
		for i := 2; i < len(b); i++ {
			if b[i] != '.' {
				allDots = false
			}
		}
		if allDots {
			for i := 2; i < len(b); i++ {
				b[i] = ' '
			}
		}
	}
	return Change{Path: e.DisplayName(), Kind: kind, Itemize: items.intern(b)}
}

// itemStrings holds one copy of each %i string of a transfer: a push of
// many files has a handful of distinct ones, and each of its changes
// would otherwise hold its own.
type itemStrings map[string]string

// intern returns b as a string, the same one every time once m holds it;
// a nil m only converts.
func (m itemStrings) intern(b []byte) string {
	if s, ok := m[string(b)]; ok {
		return s
	}
	s := string(b)
	if m != nil {
		m[s] = s
	}
	return s
}

// newRules builds the filter rules of a transfer: protect rules first,
// then includes, then excludes.
func newRules(opts Options) (*filter.List, error) {
	rules, err := filter.New(opts.Include, opts.Exclude)
	if err != nil {
		return nil, err
	}
	if err := rules.AddProtect(opts.Protect); err != nil {
		return nil, err
	}
	return rules, nil
}

// writeFilterRules sends the filter list (exclude.c:send_filter_list):
// each rule as an int32 length and the text, then int32 0. A peer that
// sends gets no receiver-side rules: they stay with us
// (exclude.c:send_rules skips them).
func writeFilterRules(w *wire.Writer, rules *filter.List, toSender bool) error {
	for _, rule := range rules.Rules() {
		if toSender && strings.HasPrefix(rule, "-r ") {
			continue
		}
		w.Int32(int32(len(rule)))
		w.Raw([]byte(rule))
	}
	w.Int32(0)
	if err := w.Err(); err != nil {
		return fmt.Errorf("send filter rules: %w", err)
	}
	return nil
}

// fileChecksum is the -c file-list checksum: the unseeded whole-file digest
// (checksum.c:file_checksum). An unreadable file gets an error and a nil
// sum (sent as zeros).
func fileChecksum(path string, algo csum.Algo) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("checksum %s: %w", path, err)
	}
	defer f.Close()
	h := algo.NewFile()
	if _, err := f.WriteTo(h); err != nil {
		return nil, fmt.Errorf("checksum %s: %w", path, err)
	}
	return h.Sum(nil), nil
}
