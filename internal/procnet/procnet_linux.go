package procnet

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// Listeners returns the PIDs of the processes that hold a socket listening
// on TCP port, IPv4 or IPv6, in this network namespace. Processes whose
// file descriptors it may not read (another user's) are left out.
func Listeners(port int) []int {
	sockets := listenSockets(port)
	if len(sockets) == 0 {
		return nil
	}
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	var pids []int
	for _, name := range names {
		if pid, err := strconv.Atoi(name); err == nil && holdsSocket(pid, sockets) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// listenSockets returns the fd link targets ("socket:[inode]") of the TCP
// sockets listening on port, as /proc/net/tcp and tcp6 show them.
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
func holdsSocket(pid int, sockets map[string]bool) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd/"
	d, err := os.Open(dir)
	if err != nil {
		return false
	}
	fds, _ := d.Readdirnames(-1)
	d.Close()
	for _, fd := range fds {
		if link, err := os.Readlink(dir + fd); err == nil && sockets[link] {
			return true
		}
	}
	return false
}
