package rsync

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/rsync/flist"
)

// windowsNameProblem says why name, one component of a path, cannot be a
// file or directory name on Windows, or "" when it can. The rules are
// Win32's (Naming Files, Paths, and Namespaces): no reserved device name,
// with or without an extension, in any case; none of < > : " / \ | ? *
// nor a control character; no trailing dot or space (Win32 strips them,
// so the file would land under another name); valid Unicode (Windows
// names are UTF-16); at most 255 UTF-16 code units.
func windowsNameProblem(name string) string {
	if !utf8.ValidString(name) {
		return "it is not valid UTF-8, and Windows names are Unicode"
	}
	for _, r := range name {
		switch {
		case r < 32:
			return fmt.Sprintf("it contains the control character %U", r)
		case strings.ContainsRune(`<>:"/\|?*`, r):
			return fmt.Sprintf("it contains %q, which Windows does not allow in names", string(r))
		}
	}
	if strings.HasSuffix(name, ".") || strings.HasSuffix(name, " ") {
		return "it ends in a dot or a space, which Windows strips"
	}
	if units := utf16Len(name); units > 255 {
		return fmt.Sprintf("it is %d UTF-16 code units long; Windows allows 255", units)
	}
	// The device name is what comes before the first dot, trailing
	// spaces ignored ("CON.txt", "con .log" are the console too).
	base, _, _ := strings.Cut(name, ".")
	base = strings.ToUpper(strings.TrimRight(base, " "))
	switch base {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return fmt.Sprintf("%s is a reserved device name on Windows", base)
	}
	if len(base) == 4 && (strings.HasPrefix(base, "COM") || strings.HasPrefix(base, "LPT")) {
		if d := base[3]; d >= '1' && d <= '9' {
			return fmt.Sprintf("%s is a reserved device name on Windows", base)
		}
	}
	// COM¹ and the like are devices too (Windows counts superscript digits).
	if strings.HasPrefix(base, "COM") || strings.HasPrefix(base, "LPT") {
		switch base[3:] {
		case "¹", "²", "³":
			return fmt.Sprintf("%s is a reserved device name on Windows", base)
		}
	}
	return ""
}

// utf16Len is the length of s in UTF-16 code units, as Windows counts.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r >= 0x10000 {
			n++ // a surrogate pair
		}
	}
	return n
}

// checkWindowsNames checks, before anything is written, that every entry
// of a received file list can land on Windows: each component of its
// name is a possible Windows name (windowsNameProblem), and no two
// entries of one directory differ only in case, which Windows (NTFS as
// usually set up) takes for one name — the second would overwrite the
// first. The error names every path at fault (the first few), so that the
// sync fails with nothing half-written.
func checkWindowsNames(entries []*flist.Entry) error {
	var problems []string
	seen := make(map[string]string, len(entries)) // case-folded name -> name
	for _, e := range entries {
		if e.Name == "." {
			continue
		}
		for _, comp := range strings.Split(e.Name, "/") {
			if p := windowsNameProblem(comp); p != "" {
				problems = append(problems, fmt.Sprintf("%q: %s", e.Name, p))
				break
			}
		}
		key := strings.ToUpper(e.Name)
		if other, dup := seen[key]; dup && other != e.Name {
			problems = append(problems, fmt.Sprintf("%q and %q differ only in case, and Windows takes them for one name", other, e.Name))
		} else {
			seen[key] = e.Name
		}
	}
	if len(problems) == 0 {
		return nil
	}
	const show = 5
	msg := strings.Join(problems[:min(len(problems), show)], "; ")
	if len(problems) > show {
		msg += fmt.Sprintf("; and %d more", len(problems)-show)
	}
	return fmt.Errorf("%d remote name(s) cannot land on Windows, so nothing was written: %s. Rename them on the source, "+
		"or leave them out with exclude", len(problems), msg)
}
