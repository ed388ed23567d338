package testenv

import (
	"net"
	"os"
	"testing"
)

func TestListens(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if !Listens(os.Getpid(), port) {
		t.Error("this process listens on its port, Listens says no")
	}
	if Listens(os.Getppid(), port) {
		t.Error("the parent does not listen on this process's port, Listens says yes")
	}
	l.Close()
	if Listens(os.Getpid(), port) {
		t.Error("a closed listener still listens")
	}
}
