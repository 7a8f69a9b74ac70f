package suite

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/siteverify/siteverify/internal/procnet"
)

// takenBy reports whether TCP port is listened on, not by the backend, but
// by a process the backend cannot have started, and names that process.
// Such a process either was already running when the backend started (a
// server of another program, or of the harness's own process) or carries
// another run's marker (the backend of another run of the harness, which
// picked the same free port). The port the harness picked was free when it
// looked; another program that takes it before the backend binds it
// answers the readiness probe in the backend's place, while the backend
// itself is still starting and will exit with EADDRINUSE.
//
// What /proc does not show counts as not taken: another user's process,
// another network namespace. So does a process without a marker that
// started after the backend, such as the port proxy of a container the
// backend runs (docker run -p): it may well be the backend's.
func (t *procTree) takenBy(port int) (string, bool) {
	holders := procnet.Listeners(port)
	if len(holders) == 0 {
		return "", false
	}
	ours := map[int]bool{}
	for _, m := range t.members() {
		ours[m.pid] = true
	}
	for _, pid := range holders {
		if ours[pid] {
			return "", false
		}
	}
	since, ok := startTime(t.pid)
	if !ok {
		return "", false // the backend is gone: waitReady reports its exit
	}
	for _, pid := range holders {
		started, ok := startTime(pid)
		switch {
		case ok && started < since:
			return describeProcess(pid) + ", running since before the backend started", true
		case t.otherRun(pid):
			return describeProcess(pid) + ", the backend of another siteverify run", true
		}
	}
	return "", false
}

// startTime is when process pid started, in clock ticks since boot
// (field 22 of /proc/PID/stat).
func startTime(pid int) (uint64, bool) {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	f := statFields(stat)
	if f == nil {
		return 0, false
	}
	v, err := strconv.ParseUint(string(f[19]), 10, 64)
	return v, err == nil
}

// otherRun reports whether process pid carries the marker of another start
// of a backend than this tree's.
func (t *procTree) otherRun(pid int) bool {
	env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return false
	}
	prefix := []byte(BackendMarkerEnv + "=")
	for _, kv := range bytes.Split(env, []byte{0}) {
		if bytes.HasPrefix(kv, prefix) && !bytes.Equal(kv, t.marker) {
			return true
		}
	}
	return false
}

// describeProcess names process pid for a message: "pid 1234 (node)".
func describeProcess(pid int) string {
	comm, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	return fmt.Sprintf("pid %d (%s)", pid, strings.TrimSpace(string(comm)))
}
