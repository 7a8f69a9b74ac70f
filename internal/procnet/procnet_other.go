//go:build !linux

package procnet

// Listeners knows nothing without Linux's /proc.
func Listeners(int) []int { return nil }
