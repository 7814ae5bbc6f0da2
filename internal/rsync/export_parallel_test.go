package rsync

// SetParallelMin lets the parallel push tests split trees smaller than a
// real push would (Options.parallelMin).
func SetParallelMin(o *Options, n int) { o.parallelMin = n }
