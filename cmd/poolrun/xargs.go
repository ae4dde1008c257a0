package main

// xargsMain runs the GNU xargs personality: poolrun called as xargs.
func xargsMain(args []string) int {
	return fail(usagef("the xargs personality is not built yet"))
}
