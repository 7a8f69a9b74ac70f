// Package procnet finds, on Linux, which processes listen on a TCP port,
// from /proc. The harness uses it to tell whether the listener that
// answered a backend's readiness probe is the backend's or another
// program's that took its port; elsewhere it knows nothing.
package procnet
