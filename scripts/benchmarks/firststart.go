package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// firstStart is `go tool task up` on a fresh clone of the committed HEAD with empty module,
// build and npm caches, as on a new machine (Redis and Node installed).
type firstStart struct {
	commit string
	task   time.Duration // until the task runner ran its first command
	page   time.Duration // until GET / served the built dashboard
}

// firstStartGoal is the bound on a fresh machine.
const firstStartGoal = 180 * time.Second

func measureFirstStart(ctx context.Context, dir string) (*firstStart, error) {
	root := filepath.Join(dir, "first-start")
	clone := filepath.Join(root, "pulse")
	if out, err := exec.CommandContext(ctx, "git", "clone", "--quiet", ".", clone).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("git clone: %v\n%s", err, out)
	}
	commit, _ := exec.CommandContext(ctx, "git", "-C", clone, "rev-parse", "--short", "HEAD").Output()
	ports := make([]int, 3)
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	env := append(os.Environ(),
		"GOMODCACHE="+filepath.Join(root, "gomod"), "GOCACHE="+filepath.Join(root, "gocache"),
		"npm_config_cache="+filepath.Join(root, "npm"),
		"PULSE_NATIVE=1", "PULSE_ADDR="+addr,
		"PULSE_STACK_REDIS_PORT="+strconv.Itoa(ports[1]), "PULSE_STACK_MQTT_PORT="+strconv.Itoa(ports[2]))
	defer func() {
		// The module cache is read-only: go clean removes it.
		clean := exec.Command("go", "clean", "-modcache")
		clean.Env = env
		_ = clean.Run()
	}()

	up := exec.Command("go", "tool", "task", "up")
	up.Dir, up.Env = clone, env
	up.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := up.StdoutPipe()
	if err != nil {
		return nil, err
	}
	up.Stderr = up.Stdout
	log, err := os.Create(filepath.Join(dir, "first-start.log"))
	if err != nil {
		return nil, err
	}
	defer log.Close()
	start := time.Now()
	if err := up.Start(); err != nil {
		return nil, err
	}
	res := &firstStart{commit: strings.TrimSpace(string(commit))}
	var mu sync.Mutex
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			mu.Lock()
			if res.task == 0 && strings.HasPrefix(sc.Text(), "task: [") {
				res.task = time.Since(start)
			}
			mu.Unlock()
			fmt.Fprintf(log, "%6.1fs %s\n", time.Since(start).Seconds(), sc.Text())
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	defer func() {
		down := exec.Command("go", "tool", "task", "down")
		down.Dir, down.Env = clone, env
		_ = down.Run()
		_ = syscall.Kill(-up.Process.Pid, syscall.SIGKILL)
		_ = up.Wait()
	}()
	err = waitUntil(ctx, 20*time.Minute, "the page of a fresh `go tool task up`", func() bool {
		r, err := http.Get("http://" + addr + "/")
		if err != nil {
			return false
		}
		defer r.Body.Close()
		body, _ := io.ReadAll(r.Body)
		return r.StatusCode == http.StatusOK && strings.Contains(string(body), "/assets/") // the built app
	})
	if err != nil {
		return nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	res.page = time.Since(start)
	return res, nil
}
