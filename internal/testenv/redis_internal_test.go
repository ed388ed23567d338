package testenv

import (
	"context"
	"net"
	"strconv"
	"testing"
)

// A port taken between freePort and redis-server's bind makes startBinary pick another one.
func TestStartBinaryRetriesTakenPort(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	attempts := 0
	r := startBinary(t, RedisOptions{TCP: true, args: func(testing.TB) []string {
		attempts++
		if attempts == 1 {
			return []string{"--port", taken} // overrides the free port: as if someone took it
		}
		return nil
	}})
	if attempts != 2 {
		t.Fatalf("%d start attempts, want 2", attempts)
	}
	if err := r.Client().Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
}
