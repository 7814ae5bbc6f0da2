package bench

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseSize parses a byte count such as "400MB", "100MiB", "20k" or
// "1048576". Decimal suffixes (k, KB, MB, GB) are powers of 1000, binary
// ones (KiB, MiB, GiB) powers of 1024. Case is ignored.
func ParseSize(s string) (int64, error) {
	num, mult, err := splitUnit(s, []unit{
		{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
		{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9},
		{"k", 1e3}, {"m", 1e6}, {"g", 1e9}, {"b", 1},
	})
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, err)
	}
	return int64(num * float64(mult)), nil
}

// ParseRate parses a link rate in bits per second such as "100Mbit",
// "1.5Gbit" or "800kbit" (decimal multiples, as link rates are quoted).
func ParseRate(s string) (int64, error) {
	num, mult, err := splitUnit(s, []unit{
		{"kbit", 1e3}, {"mbit", 1e6}, {"gbit", 1e9}, {"bit", 1},
	})
	if err != nil {
		return 0, fmt.Errorf("rate %q: %w", s, err)
	}
	return int64(num * float64(mult)), nil
}

type unit struct {
	suffix string
	mult   int64
}

func splitUnit(s string, units []unit) (float64, int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	num, err := strconv.ParseFloat(t, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("not a number with a unit: %w", err)
	}
	if num < 0 {
		return 0, 0, fmt.Errorf("negative")
	}
	return num, mult, nil
}

// FormatBytes writes a byte count for a report: "512 B", "12.3 kB",
// "420.1 MB" (decimal units).
func FormatBytes(n int64) string {
	switch {
	case n < 1e3:
		return fmt.Sprintf("%d B", n)
	case n < 1e6:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	case n < 1e9:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	default:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	}
}

// FormatRate writes a rate in bits per second: "100 Mbit/s".
func FormatRate(bps int64) string {
	switch {
	case bps >= 1e9 && bps%1e7 == 0:
		return fmt.Sprintf("%g Gbit/s", float64(bps)/1e9)
	case bps >= 1e6:
		return fmt.Sprintf("%g Mbit/s", float64(bps)/1e6)
	case bps >= 1e3:
		return fmt.Sprintf("%g kbit/s", float64(bps)/1e3)
	default:
		return fmt.Sprintf("%d bit/s", bps)
	}
}

// FormatDuration writes a duration with three significant digits in
// seconds or milliseconds: "2.91 s", "41.2 ms".
func FormatDuration(d time.Duration) string {
	s := d.Seconds()
	switch {
	case s >= 100:
		return fmt.Sprintf("%.0f s", s)
	case s >= 10:
		return fmt.Sprintf("%.1f s", s)
	case s >= 1:
		return fmt.Sprintf("%.2f s", s)
	case s >= 0.1:
		return fmt.Sprintf("%.0f ms", s*1e3)
	default:
		return fmt.Sprintf("%.1f ms", s*1e3)
	}
}
