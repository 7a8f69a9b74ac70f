package suite

import (
	"bytes"
	"os"
	"strconv"
	"sync"
	"syscall"
)

// setParentDeathSignal makes Linux send SIGKILL to the backend when the
// thread that started it exits; the Go runtime keeps its threads alive, so
// in practice that is when the harness process dies. It reaches the main
// process only: what that process forked survives a SIGKILL of the harness.
func setParentDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }

// prSetChildSubreaper is PR_SET_CHILD_SUBREAPER from <linux/prctl.h>.
const prSetChildSubreaper = 36

var subreaperOnce sync.Once

// becomeSubreaper marks the harness process a child subreaper, once: a
// process the backend forked whose parent then exits (a server started with
// `&` by a wrapper, a daemon's double fork) is re-parented to the harness
// instead of init, so it stays a descendant the harness can find, kill and
// reap. It is process-wide and stays set.
func becomeSubreaper() {
	subreaperOnce.Do(func() {
		_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0)
	})
}

// procTree is everything a started backend consists of: its process group
// and every process carrying its marker in its environment (descendants
// that called setsid or setpgid to leave the group).
type procTree struct {
	pid    int    // the main process, also the process group ID
	marker []byte // "SITEVERIFY_BACKEND_RUN=value"
	self   int

	mu      sync.Mutex
	seen    map[int]bool    // PIDs seen alive with the marker: a zombie's environment is gone
	outside map[string]bool // "pid start-time" of processes without the marker, not read again
}

func newProcTree(pid int, marker string) *procTree {
	return &procTree{pid: pid, marker: []byte(marker), self: os.Getpid(), seen: map[int]bool{}, outside: map[string]bool{}}
}

// member is one process of the tree, as /proc shows it.
type member struct {
	pid, ppid int
	zombie    bool
}

// members scans /proc for the tree's processes.
func (t *procTree) members() []member {
	t.mu.Lock()
	defer t.mu.Unlock()
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	var out []member
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil || pid == t.self {
			continue
		}
		stat, err := os.ReadFile("/proc/" + name + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		f := statFields(stat)
		if f == nil {
			continue
		}
		m := member{pid: pid, zombie: string(f[0]) == "Z" || string(f[0]) == "X"}
		m.ppid, _ = strconv.Atoi(string(f[1]))
		pgrp, _ := strconv.Atoi(string(f[2]))
		// A process's environment is fixed once it runs, so one without
		// the marker is not read again (keyed with its start time, field
		// 22, in case the PID is reused).
		key := name + " " + string(f[19])
		switch {
		case pgrp == t.pid || t.seen[pid]:
			out = append(out, m)
		case t.outside[key]:
		case t.hasMarker(name):
			t.seen[pid] = true
			out = append(out, m)
		default:
			t.outside[key] = true
		}
	}
	return out
}

func (t *procTree) hasMarker(pid string) bool {
	env, err := os.ReadFile("/proc/" + pid + "/environ")
	if err != nil {
		return false
	}
	for _, kv := range bytes.Split(env, []byte{0}) {
		if bytes.Equal(kv, t.marker) {
			return true
		}
	}
	return false
}

// signal sends SIGTERM (or SIGKILL) to the process group and to every
// other live member.
func (t *procTree) signal(kill bool) {
	sig := signalFor(kill)
	_ = syscall.Kill(-t.pid, sig)
	for _, m := range t.members() {
		if !m.zombie {
			_ = syscall.Kill(m.pid, sig)
		}
	}
}

// alive reports whether a member other than a zombie remains. It reaps the
// zombies the harness adopted as subreaper (never the main process, which
// os/exec waits for).
func (t *procTree) alive() bool {
	alive := false
	for _, m := range t.members() {
		if !m.zombie {
			alive = true
			continue
		}
		if m.ppid == t.self && m.pid != t.pid {
			var ws syscall.WaitStatus
			_, _ = syscall.Wait4(m.pid, &ws, syscall.WNOHANG, nil)
		}
	}
	return alive
}

// statFields splits a /proc/PID/stat after its comm, from the state on
// (field 3): f[19] is the start time (field 22). It is nil for a malformed
// one.
func statFields(stat []byte) [][]byte {
	// "pid (comm) state ppid pgrp ...": comm may hold spaces and
	// parentheses, so split after the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return nil
	}
	if f := bytes.Fields(stat[i+1:]); len(f) >= 20 {
		return f
	}
	return nil
}
