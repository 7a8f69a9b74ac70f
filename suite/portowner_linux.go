package suite

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
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
	targets := listenSockets(port)
	if len(targets) == 0 {
		return "", false
	}
	ours := map[int]bool{}
	for _, m := range t.members() {
		ours[m.pid] = true
		if !m.zombie && holdsSocket(m.pid, targets) {
			return "", false
		}
	}
	since, ok := startTime(t.pid)
	if !ok {
		return "", false // the backend is gone: waitReady reports its exit
	}
	d, err := os.Open("/proc")
	if err != nil {
		return "", false
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil || ours[pid] || !holdsSocket(pid, targets) {
			continue
		}
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

// listenSockets returns the fd link targets ("socket:[inode]") of the TCP
// sockets listening on port, IPv4 and IPv6, as /proc/net shows them.
func listenSockets(port int) map[string]bool {
	out := map[string]bool{}
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(file)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // the header
		for sc.Scan() {
			// "sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ..."
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || fields[3] != "0A" { // TCP_LISTEN
				continue
			}
			_, hexPort, _ := strings.Cut(fields[1], ":")
			if p, err := strconv.ParseUint(hexPort, 16, 16); err == nil && int(p) == port && fields[9] != "0" {
				out["socket:["+fields[9]+"]"] = true
			}
		}
		f.Close()
	}
	return out
}

// holdsSocket reports whether process pid has one of the sockets open.
func holdsSocket(pid int, targets map[string]bool) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd/"
	d, err := os.Open(dir)
	if err != nil {
		return false
	}
	fds, _ := d.Readdirnames(-1)
	d.Close()
	for _, fd := range fds {
		if link, err := os.Readlink(dir + fd); err == nil && targets[link] {
			return true
		}
	}
	return false
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
