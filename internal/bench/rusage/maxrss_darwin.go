package rusage

// maxRSSUnit is the unit of ru_maxrss: bytes on macOS.
const maxRSSUnit = 1
