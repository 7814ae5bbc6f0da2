//go:build unix && !darwin

package rusage

// maxRSSUnit is the unit of ru_maxrss: kilobytes on Linux and the BSDs.
const maxRSSUnit = 1024
