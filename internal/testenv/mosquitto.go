package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// Mosquitto is one private MQTT broker for one test: the local mosquitto binary on a free port
// of 127.0.0.1, with persistence in the test's folder and no limit on the messages it queues
// for a client (mosquitto's default drops QoS 1 messages past 1,000 queued for a subscriber
// that is away: docs/mqtt.md).
type Mosquitto struct {
	URL  string // mqtt://127.0.0.1:<port>
	Port int

	t      testing.TB
	bin    string
	dir    string
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// StartMosquitto starts a broker the test owns, killed at cleanup.
func StartMosquitto(t testing.TB) *Mosquitto {
	t.Helper()
	bin, err := exec.LookPath("mosquitto")
	if err != nil {
		bin = "/usr/sbin/mosquitto" // Debian's, off a non-root user's PATH
		if _, err := os.Stat(bin); err != nil {
			t.Fatal("testenv: no mosquitto: apt-get install -y mosquitto")
		}
	}
	m := &Mosquitto{t: t, bin: bin, dir: t.TempDir()}
	t.Cleanup(m.Kill)
	for attempt := 1; ; attempt++ {
		m.Port = FreePort(t)
		m.URL = "mqtt://127.0.0.1:" + strconv.Itoa(m.Port)
		err := m.start()
		if err == nil {
			t.Logf("testenv: mosquitto on %s", m.URL)
			return m
		}
		if attempt == 10 {
			t.Fatalf("testenv: %v", err)
		}
	}
}

func (m *Mosquitto) start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	conf := filepath.Join(m.dir, "mosquitto.conf")
	body := fmt.Sprintf(`listener %d 127.0.0.1
allow_anonymous true
persistence true
persistence_location %s/
autosave_interval 1
max_queued_messages 0
max_inflight_messages 0
log_dest file %s
`, m.Port, m.dir, filepath.Join(m.dir, "mosquitto.log"))
	if os.Geteuid() == 0 {
		// Run as root, mosquitto drops to the user "mosquitto", which cannot write to the
		// test's folder: it would keep no persistence at all, silently.
		body += "user root\n"
	}
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		return err
	}
	cmd := exec.Command(m.bin, "-c", conf)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start mosquitto: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	m.cmd, m.exited = cmd, exited
	for deadline := time.Now().Add(30 * time.Second); ; {
		if Listens(cmd.Process.Pid, m.Port) {
			return nil
		}
		select {
		case <-exited:
			m.cmd = nil
			log, _ := os.ReadFile(filepath.Join(m.dir, "mosquitto.log"))
			return fmt.Errorf("mosquitto on port %d exited at start:\n%s", m.Port, log)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			m.cmd = nil
			return fmt.Errorf("mosquitto did not listen on port %d", m.Port)
		}
	}
}

// Restart stops the broker gracefully (SIGTERM: it saves its sessions and queued messages)
// and starts it again on the same port.
func (m *Mosquitto) Restart() {
	m.t.Helper()
	m.stop(syscall.SIGTERM)
	var err error
	for range 50 { // the port may linger a moment
		if err = m.start(); err == nil {
			return
		}
		if !strings.Contains(err.Error(), "exited") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	m.t.Fatalf("testenv: restart mosquitto: %v", err)
}

// Kill stops the broker with SIGKILL.
func (m *Mosquitto) Kill() { m.stop(syscall.SIGKILL) }

func (m *Mosquitto) stop(sig syscall.Signal) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Signal(sig)
	<-m.exited
	m.cmd = nil
}

// MQTTClient connects a plain MQTT 5 client (no reconnects) to the broker, disconnected at
// cleanup. onMessage, if set, receives what its subscriptions bring.
func (m *Mosquitto) MQTTClient(t testing.TB, id string, onMessage func(*paho.Publish)) *paho.Client {
	t.Helper()
	c, err := m.Connect(id, onMessage)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	return c
}

// Connect is MQTTClient for callers that handle a failure (a broker restarting) themselves;
// they disconnect the client.
func (m *Mosquitto) Connect(id string, onMessage func(*paho.Publish)) (*paho.Client, error) {
	conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(m.Port))
	if err != nil {
		return nil, fmt.Errorf("mqtt dial: %w", err)
	}
	cfg := paho.ClientConfig{ClientID: id, Conn: conn}
	if onMessage != nil {
		cfg.OnPublishReceived = []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			onMessage(pr.Packet)
			return true, nil
		}}
	}
	c := paho.NewClient(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Connect(ctx, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30}); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("mqtt connect: %w", err)
	}
	return c, nil
}
