package main

// gnuSemMain runs the GNU sem personality: poolrun called as sem, or
// with --semaphore.
func gnuSemMain(args []string) int {
	return fail(usagef("the GNU sem personality is not built yet"))
}

// wantsSemaphore reports whether args ask for the GNU sem personality
// (--semaphore among the options).
func wantsSemaphore(args []string) bool {
	return false
}
