package rusage

import (
	"os"
	"strconv"
	"strings"
)

// StatusKB is a field of this process's /proc/self/status counted in kB
// (VmRSS: the resident set now; VmHWM: its peak), or 0 where there is no
// /proc or no such field.
func StatusKB(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return 0
}
