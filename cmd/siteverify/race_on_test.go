//go:build race

package main

// raceEnabled is true when the tests run with -race, so the binary under
// test is built with it too.
const raceEnabled = true
