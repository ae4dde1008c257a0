//go:build race

package spawn_test

const raceEnabled = true
