package rsync

import "os"

// countBelowReadDir counts the entries below the directory local by their
// names (the directory entries' file types, no stat), through os.File's
// ReadDir. Unreadable directories count as empty: the sender reports them
// when it gets there. countBelow is this where getdents(2) cannot be read
// directly, and the reference the Linux version is tested against.
func countBelowReadDir(local string) int {
	n := 0
	dirs := []string{local}
	for len(dirs) > 0 {
		d := dirs[len(dirs)-1]
		dirs = dirs[:len(dirs)-1]
		f, err := os.Open(d)
		if err != nil {
			continue
		}
		for {
			ents, err := f.ReadDir(1024)
			for _, e := range ents {
				n++
				if e.IsDir() {
					dirs = append(dirs, d+string(os.PathSeparator)+e.Name())
				}
			}
			if err != nil {
				break
			}
		}
		_ = f.Close()
	}
	return n
}
