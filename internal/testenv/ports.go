package testenv

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Listens reports whether process pid listens on 127.0.0.1:port (Linux: /proc). FreePort's
// port may be taken by another test's server before the process binds it; that server would
// answer the process's readiness checks, so a test that starts a process on a fixed port asks
// this before trusting them.
func Listens(pid, port int) bool {
	inodes := map[string]bool{}
	f, err := os.Open(fmt.Sprintf("/proc/%d/net/tcp", pid))
	if err != nil {
		return false
	}
	defer f.Close()
	want := fmt.Sprintf("0100007F:%04X", port)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// sl local_address rem_address st tx:rx tr:tm retrnsmt uid timeout inode
		fs := strings.Fields(sc.Text())
		if len(fs) > 9 && fs[1] == want && fs[3] == "0A" { // 0A: LISTEN
			inodes["socket:["+fs[9]+"]"] = true
		}
	}
	fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
	for _, fd := range fds {
		if link, err := os.Readlink(fd); err == nil && inodes[link] {
			return true
		}
	}
	return false
}
