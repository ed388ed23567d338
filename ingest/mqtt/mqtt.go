// Package mqtt is Pulse's intake from an MQTT 5 broker: it subscribes with a shared
// subscription at QoS 1, hands every message to ingest as POST /v1/events would get its body,
// and acknowledges a message only once each of its events was appended (or was a duplicate,
// or was rejected and recorded in the failure stream). A message whose append failed is tried
// again until it succeeds; if the process stops first, the broker delivers it again. Derived
// ids make a redelivery count once (docs/mqtt.md).
package mqtt

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"dario.cat/mergo"
	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/ingest"
	"github.com/pulsehq/pulse/internal/events"
)

// DefaultFilter is the topic filter Pulse subscribes to unless told otherwise.
const DefaultFilter = "pulse/events/#"

// Config of the mqtt role. A zero field means its default (DefaultConfig).
type Config struct {
	URL    string // mqtt://[user:password@]host[:1883], or mqtts:// for TLS
	Filter string // topic filter, subscribed as $share/<Share>/<Filter>
	// Share is the shared-subscription group: the processes of one group split the messages.
	// "off": a plain subscription (each process gets every message, deduplicated), which
	// Mosquitto 2.0 restores after a restart where it does not restore a shared one.
	Share string
	// ClientID names the broker session, which keeps the messages this process has not
	// acknowledged: it must be the same after a restart and differ between processes running
	// at once. Empty: ClientPrefix-<folder>-<n>, folder 6 hex digits of SlotDir's absolute path
	// and n the lowest slot free in it.
	ClientID     string
	ClientPrefix string // default "pulse-" + the host name
	SlotDir      string // where the slot locks are (the data folder); needed without ClientID
	// SessionExpiry is how long the broker keeps the session (and its unacknowledged
	// messages) after the connection drops.
	SessionExpiry time.Duration
	InFlight      int           // messages the broker may send before the first is acknowledged
	AckEvery      time.Duration // how often handled messages' acknowledgements are sent
	RetryMax      time.Duration // the longest pause between attempts of a message that failed
	StatsEvery    time.Duration // how often the totals are written for GET /v1/pipeline
	TLS           *tls.Config   // for mqtts://; nil: the system's roots

	Logger  *slog.Logger          // nil: slog.Default()
	Metrics prometheus.Registerer // nil: not registered anywhere
}

// DefaultConfig is the mqtt role's defaults.
func DefaultConfig() Config {
	host, _ := os.Hostname()
	return Config{
		Filter:        DefaultFilter,
		Share:         "pulse",
		ClientPrefix:  "pulse-" + cmp.Or(host, "host"),
		SessionExpiry: 24 * time.Hour,
		InFlight:      1000,
		AckEvery:      5 * time.Millisecond,
		RetryMax:      5 * time.Second,
		StatsEvery:    5 * time.Second,
	}
}

func (c Config) withDefaults() (Config, *url.URL, error) {
	c.Logger = cmp.Or(c.Logger, slog.Default())
	if err := mergo.Merge(&c, DefaultConfig()); err != nil {
		return c, nil, err
	}
	u, err := url.Parse(c.URL)
	var errs []error
	switch {
	case err != nil:
		errs = append(errs, fmt.Errorf("url: %w", err))
	case u.Scheme != "mqtt" && u.Scheme != "mqtts" || u.Host == "":
		errs = append(errs, fmt.Errorf("url %q: want mqtt://host[:port] or mqtts://host[:port]", u.Redacted()))
	case u.Port() == "" && u.Scheme == "mqtt":
		u.Host += ":1883"
	case u.Port() == "":
		u.Host += ":8883"
	}
	if c.ClientID == "" && c.SlotDir == "" {
		errs = append(errs, errors.New("a client id or a slot folder is needed"))
	}
	if c.InFlight < 1 || c.InFlight > 65535 {
		errs = append(errs, fmt.Errorf("in flight %d: want 1..65535", c.InFlight))
	}
	if c.SessionExpiry < time.Second || c.SessionExpiry > time.Duration(^uint32(0))*time.Second {
		errs = append(errs, fmt.Errorf("session expiry %s: want 1s..136y", c.SessionExpiry))
	}
	if err := errors.Join(errs...); err != nil {
		return c, nil, fmt.Errorf("mqtt config: %w", err)
	}
	return c, u, nil
}

// Intake takes the messages of one broker into ingest.
type Intake struct {
	in     *ingest.Ingest
	rdb    redis.Cmdable // where the totals go
	cfg    Config
	url    *url.URL
	topics topics
	m      *metrics
	inbox  chan struct{} // one token per message being handled: at most InFlight
	fatal  chan error

	mu       sync.Mutex // cm, stopping, draining, and Add on handlers against their Wait
	cm       *autopaho.ConnectionManager
	stopping bool
	draining bool // unsubscribed: no new subscription on a reconnect
	handlers sync.WaitGroup
}

// New checks cfg; in takes the events, rdb keeps the totals the pipeline page shows.
func New(in *ingest.Ingest, rdb redis.Cmdable, cfg Config) (*Intake, error) {
	cfg, u, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Intake{
		in: in, rdb: rdb, cfg: cfg, url: u,
		topics: newTopics(cfg.Filter),
		m:      newMetrics(cfg.Metrics),
		inbox:  make(chan struct{}, cfg.InFlight),
		fatal:  make(chan error, 1),
	}, nil
}

// Run takes messages until ctx ends, then lets the messages being handled finish and
// acknowledges them before it disconnects (the session stays: what was not acknowledged comes
// again on the next start).
func (x *Intake) Run(ctx context.Context) error {
	id, release, err := x.clientID()
	if err != nil {
		return err
	}
	defer release()
	log := x.cfg.Logger.With("client", id)
	connCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	cm, err := autopaho.NewConnection(connCtx, x.clientConfig(ctx, id, log))
	if err != nil {
		return fmt.Errorf("mqtt: %w", err)
	}
	x.mu.Lock()
	x.cm = cm
	x.mu.Unlock()
	log.Info("mqtt: connecting", "broker", x.url.Redacted(), "filter", x.subscription())
	var stats sync.WaitGroup
	statsCtx, stopStats := context.WithCancel(context.WithoutCancel(ctx))
	stats.Go(func() { x.writeStats(statsCtx, id) })
	select {
	case <-ctx.Done():
	case err = <-x.fatal:
	}
	x.mu.Lock()
	x.stopping = true
	x.mu.Unlock()
	x.handlers.Wait()
	// The client sends acknowledgements every AckEvery, in order: give it two turns.
	time.Sleep(2 * x.cfg.AckEvery)
	dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer dcancel()
	_ = cm.Disconnect(dctx)
	x.m.setConnected(false)
	stopStats()
	stats.Wait()
	return err
}

func (x *Intake) subscription() string {
	if x.cfg.Share == "off" {
		return x.cfg.Filter
	}
	return "$share/" + x.cfg.Share + "/" + x.cfg.Filter
}

func (x *Intake) clientConfig(ctx context.Context, id string, log *slog.Logger) autopaho.ClientConfig {
	expiry := uint32(x.cfg.SessionExpiry / time.Second)
	receiveMax := uint16(x.cfg.InFlight)
	var password []byte
	if p, ok := x.url.User.Password(); ok {
		password = []byte(p)
	}
	return autopaho.ClientConfig{
		ServerUrls:            []*url.URL{x.url},
		TlsCfg:                x.cfg.TLS,
		KeepAlive:             30,
		SessionExpiryInterval: expiry,
		ReconnectBackoff:      autopaho.NewExponentialBackoff(100*time.Millisecond, 10*time.Second, 500*time.Millisecond, 2),
		ConnectUsername:       x.url.User.Username(),
		ConnectPassword:       password,
		ConnectPacketBuilder: func(c *paho.Connect, _ *url.URL) (*paho.Connect, error) {
			if c.Properties == nil {
				c.Properties = &paho.ConnectProperties{}
			}
			c.Properties.ReceiveMaximum = &receiveMax
			return c, nil
		},
		OnConnectionUp: func(cm *autopaho.ConnectionManager, ca *paho.Connack) {
			x.m.connects.WithLabelValues("ok").Inc()
			log.Info("mqtt: connected", "session_present", ca.SessionPresent)
			go x.subscribe(ctx, cm, log)
		},
		OnConnectionDown: func() bool {
			x.m.setConnected(false)
			log.Warn("mqtt: connection lost; reconnecting")
			return true
		},
		OnConnectError: func(err error) {
			x.m.connects.WithLabelValues("failed").Inc()
			log.Warn("mqtt: cannot connect", "err", err)
		},
		ClientConfig: paho.ClientConfig{
			ClientID:                   id,
			EnableManualAcknowledgment: true,
			SendAcksInterval:           x.cfg.AckEvery,
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
				x.receive(ctx, pr)
				return true, nil
			}},
			OnServerDisconnect: func(d *paho.Disconnect) {
				if d.ReasonCode == packets.DisconnectSessionTakenOver {
					x.stop(fmt.Errorf("mqtt: another client connected as %q: two processes share a client id (set PULSE_MQTT_CLIENT_ID or give them other data folders)", id))
				}
			},
		},
	}
}

// subscribe subscribes (again: harmless on a session the broker kept, needed on one it did
// not) until the broker agrees or the connection is gone.
func (x *Intake) subscribe(ctx context.Context, cm *autopaho.ConnectionManager, log *slog.Logger) {
	for ctx.Err() == nil {
		x.mu.Lock()
		draining := x.draining
		x.mu.Unlock()
		if draining {
			return
		}
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		sa, err := cm.Subscribe(sctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: x.subscription(), QoS: 1}}})
		cancel()
		switch {
		case err == nil:
			x.m.setConnected(true)
			return
		case sa != nil && len(sa.Reasons) > 0: // refused: retrying cannot help
			x.stop(fmt.Errorf("mqtt: the broker refused the subscription %s (reason code 0x%02x): %w", x.subscription(), sa.Reasons[0], err))
			return
		case errors.Is(err, autopaho.ConnectionDownError):
			return // the next connection subscribes
		}
		log.Warn("mqtt: subscribe failed; trying again", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// drainIdle: Drain ends once no message came and none was being handled for this long.
const drainIdle = 500 * time.Millisecond

// Drain prepares a stop for good: it unsubscribes, so that the broker sends the group's
// messages to the other processes sharing the subscription instead of queueing them for this
// session (Mosquitto queues a share for a member that is away), and handles what was already
// queued for it until none came for drainIdle, or ctx ends. The ingest writer must still run.
func (x *Intake) Drain(ctx context.Context) {
	x.mu.Lock()
	x.draining = true
	cm := x.cm
	x.mu.Unlock()
	if cm == nil {
		return
	}
	uctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	_, err := cm.Unsubscribe(uctx, &paho.Unsubscribe{Topics: []string{x.subscription()}})
	cancel()
	if err != nil {
		x.cfg.Logger.Warn("mqtt: unsubscribe failed: the broker keeps queueing this session's share until it comes back", "err", err)
		return
	}
	last := x.m.messages.Load()
	for idle := time.Duration(0); idle < drainIdle; {
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
		if n := x.m.messages.Load(); n != last || len(x.inbox) > 0 {
			last, idle = n, 0
			continue
		}
		idle += 50 * time.Millisecond
	}
}

// stop ends Run with err: a setting that retrying cannot fix.
func (x *Intake) stop(err error) {
	select {
	case x.fatal <- err:
	default:
	}
}

// receive starts handling a message. It runs on the client's reading goroutine, so it waits
// only for a free place among InFlight.
func (x *Intake) receive(ctx context.Context, pr paho.PublishReceived) {
	x.mu.Lock()
	if x.stopping {
		x.mu.Unlock()
		return // not acknowledged: the broker sends it again to this session
	}
	x.handlers.Add(1)
	x.mu.Unlock()
	x.inbox <- struct{}{}
	go func() {
		defer func() { <-x.inbox; x.handlers.Done() }()
		x.handle(ctx, pr.Client, pr.Packet)
	}()
}

// handle takes one message until its receipt is final, publishes the receipt when asked to,
// and acknowledges the message.
func (x *Intake) handle(ctx context.Context, c *paho.Client, p *paho.Publish) {
	x.m.messages.Inc()
	if p.Duplicate() {
		x.m.redelivered.Inc()
	}
	m, terr := x.topics.message(p)
	take := func() ingest.Receipt {
		if terr != nil {
			return x.in.Refuse(m, terr)
		}
		return x.in.Take(ctx, m)
	}
	var r ingest.Receipt
	for attempt := 0; ; attempt++ {
		if r = take(); r.Final {
			break
		}
		x.m.retries.Inc()
		pause := min(100*time.Millisecond<<min(attempt, 10), x.cfg.RetryMax)
		select {
		case <-ctx.Done():
			return // not acknowledged: the broker sends it again
		case <-time.After(pause):
		}
	}
	if r.Status >= 400 {
		x.m.refused.Inc()
	}
	if p.Properties != nil && p.Properties.ResponseTopic != "" {
		x.reply(ctx, p.Properties, r)
	}
	if err := c.Ack(p); err != nil {
		// The connection it came on is gone: the broker sends it again on the next.
		x.cfg.Logger.Debug("mqtt: ack after reconnect", "err", err)
		return
	}
	x.m.acked.Inc()
}

// reply publishes a message's receipt on its response topic, with its correlation data and
// the HTTP status as the user property "status". A receipt lost with the connection comes
// again with the message's redelivery (then saying duplicate).
func (x *Intake) reply(ctx context.Context, props *paho.PublishProperties, r ingest.Receipt) {
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	x.mu.Lock()
	cm := x.cm
	x.mu.Unlock()
	_, err := cm.Publish(pctx, &paho.Publish{
		QoS: 1, Topic: props.ResponseTopic, Payload: r.Body,
		Properties: &paho.PublishProperties{
			ContentType:     "application/json",
			CorrelationData: props.CorrelationData,
			User:            paho.UserProperties{{Key: "status", Value: strconv.Itoa(r.Status)}},
		},
	})
	result := "sent"
	if err != nil {
		result = "failed"
		x.cfg.Logger.Warn("mqtt: receipt not published", "topic", props.ResponseTopic, "err", err)
	}
	x.m.receipts.WithLabelValues(result).Inc()
}

// clientID is the configured id, or one made of the prefix, the data folder and the lowest
// slot in it whose lock this process can take. The kernel drops a lock when its process dies,
// so a restarted process gets its slot, and with it its session, back at once; processes on
// one host with other data folders get other ids.
func (x *Intake) clientID() (string, func(), error) {
	if x.cfg.ClientID != "" {
		return x.cfg.ClientID, func() {}, nil
	}
	abs, err := filepath.Abs(x.cfg.SlotDir)
	if err != nil {
		return "", nil, fmt.Errorf("mqtt: client slots: %w", err)
	}
	sum := sha256.Sum256([]byte(abs))
	prefix := x.cfg.ClientPrefix + "-" + hex.EncodeToString(sum[:3]) + "-"
	dir := filepath.Join(abs, "mqtt")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, fmt.Errorf("mqtt: client slots: %w", err)
	}
	for slot := range 1024 {
		f, err := os.OpenFile(filepath.Join(dir, "client-"+strconv.Itoa(slot)+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			return "", nil, fmt.Errorf("mqtt: client slots: %w", err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
			return prefix + strconv.Itoa(slot), func() { _ = f.Close() }, nil
		}
		_ = f.Close()
	}
	return "", nil, fmt.Errorf("mqtt: every client slot in %s is taken", dir)
}

// writeStats writes the totals under events.IntakeKey every StatsEvery, and once more,
// disconnected, when ctx ends.
func (x *Intake) writeStats(ctx context.Context, id string) {
	t := time.NewTicker(x.cfg.StatsEvery)
	defer t.Stop()
	for {
		done := ctx.Err() != nil
		st := x.m.snapshot(id, x.cfg.Filter)
		b, _ := json.Marshal(st)
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		if err := x.rdb.HSet(wctx, events.IntakeKey, id, b).Err(); err != nil {
			x.cfg.Logger.Debug("mqtt: stats not written", "err", err)
		}
		cancel()
		if done {
			return
		}
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
}
