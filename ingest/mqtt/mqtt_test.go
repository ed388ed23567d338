package mqtt_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/ingest"
	"github.com/pulsehq/pulse/ingest/mqtt"
	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/testenv"
)

// fixture is an intake on a real broker and a real Redis, and a client that publishes and
// collects the receipts published on receipts/<n>.
type fixture struct {
	t      testing.TB
	rdb    *redis.Client
	broker *testenv.Mosquitto
	layout events.Layout
	pub    *paho.Client

	mu       sync.Mutex
	receipts map[string]receipt // by correlation data
	n        int
}

type receipt struct {
	status int
	body   map[string]any
}

func newFixture(t testing.TB, cfg mqtt.Config) *fixture {
	t.Helper()
	return newFixtureOn(t, testenv.StartRedis(t), cfg)
}

func newFixtureOn(t testing.TB, rd *testenv.Redis, cfg mqtt.Config) *fixture {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	rdb := rd.Client()
	layout := events.Layout{Partitions: 2, Tags: events.TagsNumbered}
	in, err := ingest.New(rdb, ingest.Config{Layout: layout})
	if err != nil {
		t.Fatal(err)
	}
	broker := testenv.StartMosquitto(t)
	cfg.URL, cfg.ClientID = broker.URL, "pulse-test"
	x, err := mqtt.New(in, rdb, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = in.Run(ctx) })
	wg.Go(func() { _ = x.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })
	f := &fixture{t: t, rdb: rdb, broker: broker, layout: layout, receipts: map[string]receipt{}}
	f.pub = broker.MQTTClient(t, "publisher", f.onReceipt)
	if _, err := f.pub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "receipts/#", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	// The intake subscribes once connected: until then, messages find no subscriber.
	testenv.WaitFor(t, 30*time.Second, "the intake answers", func() bool {
		_, ok := f.tryPublish("pulse/events/probe/p", `{}`, nil, 2*time.Second)
		return ok
	})
	return f
}

func (f *fixture) onReceipt(p *paho.Publish) {
	var r receipt
	r.status, _ = strconv.Atoi(p.Properties.User.Get("status"))
	if err := json.Unmarshal(p.Payload, &r.body); err != nil {
		f.t.Errorf("receipt is not JSON: %q", p.Payload)
	}
	f.mu.Lock()
	f.receipts[string(p.Properties.CorrelationData)] = r
	f.mu.Unlock()
}

// tryPublish publishes at QoS 1 with a response topic and waits up to wait for the receipt.
func (f *fixture) tryPublish(topic, payload string, props *paho.PublishProperties, wait time.Duration) (receipt, bool) {
	f.mu.Lock()
	f.n++
	corr := strconv.Itoa(f.n)
	f.mu.Unlock()
	if props == nil {
		props = &paho.PublishProperties{}
	}
	p := *props
	p.ResponseTopic, p.CorrelationData = "receipts/"+corr, []byte(corr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := f.pub.Publish(ctx, &paho.Publish{QoS: 1, Topic: topic, Payload: []byte(payload), Properties: &p}); err != nil {
		f.t.Fatalf("publish: %v", err)
	}
	for deadline := time.Now().Add(wait); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		f.mu.Lock()
		r, ok := f.receipts[corr]
		f.mu.Unlock()
		if ok {
			return r, true
		}
	}
	return receipt{}, false
}

func (f *fixture) publish(topic, payload string, props *paho.PublishProperties) receipt {
	f.t.Helper()
	r, ok := f.tryPublish(topic, payload, props, time.Minute)
	if !ok {
		f.t.Fatalf("no receipt for %s %q within a minute", topic, payload)
	}
	return r
}

// stored reads every event of the partition streams, by id.
func (f *fixture) stored() map[string]events.Event {
	out := map[string]events.Event{}
	for p := range f.layout.Partitions {
		msgs, err := f.rdb.XRange(context.Background(), f.layout.Stream(p), "-", "+").Result()
		if err != nil {
			f.t.Fatal(err)
		}
		for _, m := range msgs {
			ev, err := events.FromValues(m.Values)
			if err != nil {
				f.t.Fatal(err)
			}
			out[ev.ID] = ev
		}
	}
	return out
}

// TestMessages covers every body format and the topic mapping: each message's receipt (the
// answer POST /v1/events gives the same body), what was stored, and what the failure stream
// recorded.
func TestMessages(t *testing.T) {
	t.Parallel()
	f := newFixture(t, mqtt.Config{})
	ndjson := &paho.PublishProperties{ContentType: "application/x-ndjson"}
	type stored struct{ typ, subject, data string }
	cases := []struct {
		name, topic, payload string
		props                *paho.PublishProperties
		status               int
		code                 string   // error code of a refused message
		results              []string // per item
		stored               []stored // the accepted items, in order
	}{
		{name: "one event", topic: "pulse/events", payload: `{"id":"e-1","type":"video_liked","subject":"v1"}`,
			status: 202, results: []string{"accepted"}, stored: []stored{{"video_liked", "v1", ""}}},
		{name: "array", topic: "pulse/events", payload: `[{"type":"video_liked","subject":"v1"},{"type":"video_viewed","subject":"v2","data":{"ms":3}}]`,
			status: 202, results: []string{"accepted", "accepted"}, stored: []stored{{"video_liked", "v1", ""}, {"video_viewed", "v2", `{"ms":3}`}}},
		{name: "ndjson", topic: "pulse/events", props: ndjson, payload: "{\"type\":\"video_liked\",\"subject\":\"v3\"}\n{\"type\":\"video_liked\",\"subject\":\"v3\"}\n",
			status: 202, results: []string{"accepted", "accepted"}, stored: []stored{{"video_liked", "v3", ""}, {"video_liked", "v3", ""}}},
		{name: "cloudevents", topic: "pulse/events", props: &paho.PublishProperties{ContentType: "application/cloudevents+json"},
			payload: `{"specversion":"1.0","id":"ce-1","source":"/devices/7","type":"reading","subject":"d7","data":{"c":21.5}}`,
			status:  202, results: []string{"accepted"}, stored: []stored{{"reading", "d7", `{"c":21.5}`}}},
		{name: "topic form", topic: "pulse/events/reading/d8", payload: `{"c":19,"time":"2026-01-02T03:04:05Z"}`,
			status: 202, results: []string{"accepted"}, stored: []stored{{"reading", "d8", `{"c":19,"time":"2026-01-02T03:04:05Z"}`}}},
		{name: "topic form, empty", topic: "pulse/events/video_liked/v9", payload: ``,
			status: 202, results: []string{"accepted"}, stored: []stored{{"video_liked", "v9", ""}}},
		{name: "topic form, id property", topic: "pulse/events/reading/d9", payload: `{"id":"from-payload","c":1}`,
			props:  &paho.PublishProperties{User: paho.UserProperties{{Key: "id", Value: "from-property"}}},
			status: 202, results: []string{"accepted"}, stored: []stored{{"reading", "d9", `{"id":"from-payload","c":1}`}}},
		{name: "partly invalid", topic: "pulse/events", payload: `[{"type":"video_liked","subject":"v1"},{"type":"BAD","subject":"v1"}]`,
			status: 202, results: []string{"accepted", "rejected"}, stored: []stored{{"video_liked", "v1", ""}}},
		{name: "all invalid", topic: "pulse/events", payload: `[{"type":"BAD","subject":"v1"},{"subject":"v1"}]`,
			status: 400, code: "invalid_events", results: []string{"rejected", "rejected"}},
		{name: "topic form, not an object", topic: "pulse/events/reading/d1", payload: `[1]`, status: 400, code: "malformed_body"},
		{name: "topic form, bad type", topic: "pulse/events/Reading/d1", payload: `{}`, status: 400, code: "invalid_type", results: []string{"rejected"}},
		{name: "too deep", topic: "pulse/events/a/b/c", payload: `{}`, status: 400, code: "invalid_topic"},
		{name: "type without subject", topic: "pulse/events/a", payload: `{}`, status: 400, code: "invalid_topic"},
		{name: "malformed", topic: "pulse/events", payload: `{"type":`, status: 400, code: "malformed_body"},
		{name: "empty body", topic: "pulse/events", payload: ``, status: 400, code: "empty_body"},
		{name: "content type", topic: "pulse/events", payload: `{}`, props: &paho.PublishProperties{ContentType: "text/plain"},
			status: 415, code: "unsupported_media_type"},
	}
	rejectedBefore := f.rdb.XLen(context.Background(), events.RejectedStream).Val()
	wantRecords := 0
	for _, c := range cases {
		r := f.publish(c.topic, c.payload, c.props)
		if r.status != c.status {
			t.Errorf("%s: status %d, want %d: %v", c.name, r.status, c.status, r.body)
			continue
		}
		answer := r.body
		if c.code != "" {
			e, _ := r.body["error"].(map[string]any)
			if e["code"] != c.code {
				t.Errorf("%s: error %v, want code %s", c.name, e, c.code)
			}
			answer, _ = e["details"].(map[string]any)
		}
		var results []any
		if answer != nil {
			results, _ = answer["results"].([]any)
		}
		if len(results) != len(c.results) {
			t.Errorf("%s: results %v, want %v", c.name, results, c.results)
			continue
		}
		all := f.stored()
		accepted := 0
		for i, res := range results {
			res := res.(map[string]any)
			if res["status"] != c.results[i] {
				t.Errorf("%s: item %d %v, want %s", c.name, i, res, c.results[i])
			}
			if res["status"] == "rejected" {
				wantRecords++
			}
			if res["status"] != "accepted" {
				continue
			}
			want := c.stored[accepted]
			accepted++
			ev, ok := all[res["id"].(string)]
			switch {
			case !ok:
				t.Errorf("%s: item %d (%v) is not in the streams", c.name, i, res)
			case ev.Type != want.typ || ev.Subject != want.subject || string(ev.Data) != want.data:
				t.Errorf("%s: item %d stored as %s/%s %s, want %s/%s %s", c.name, i, ev.Type, ev.Subject, ev.Data, want.typ, want.subject, want.data)
			}
		}
		if c.code != "" && len(c.results) == 0 {
			wantRecords++ // refused whole: one record of the body
		}
	}
	// The user property's id wins over the payload's; the topic form's payload time is the
	// event's.
	all := f.stored()
	if _, ok := all["from-property"]; !ok {
		t.Error("the id property did not name the event")
	}
	for _, ev := range all {
		if ev.Subject == "d8" && ev.Time != time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixMilli() {
			t.Errorf("topic form: time %d, want the payload's", ev.Time)
		}
	}
	if got := f.rdb.XLen(context.Background(), events.RejectedStream).Val() - rejectedBefore; got != int64(wantRecords) {
		t.Errorf("failure stream: %d new records, want %d (one per rejected item or refused message)", got, wantRecords)
	}
	recs, _ := f.rdb.XRevRangeN(context.Background(), events.RejectedStream, "+", "-", 1).Result()
	if len(recs) == 1 {
		if rec, _ := recs[0].Values["record"].(string); !json.Valid([]byte(rec)) || !strings.Contains(rec, `"topic":"pulse/events"`) {
			t.Errorf("the last record does not name its topic: %s", rec)
		}
	}
}

// TestRedelivery: a message sent again unchanged (what a broker's redelivery, or a publisher's
// resend, looks like) counts once, with or without ids; a message that differs in its payload or
// its correlation data is another event.
func TestRedelivery(t *testing.T) {
	t.Parallel()
	f := newFixture(t, mqtt.Config{})
	// publish gives each message its own correlation data, which makes it another event:
	// byte-identical messages go without receipts.
	ctx := context.Background()
	for range 3 {
		if _, err := f.pub.Publish(ctx, &paho.Publish{QoS: 1, Topic: "pulse/events/video_liked/r2", Payload: []byte(`{"n":1}`)}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.pub.Publish(ctx, &paho.Publish{QoS: 1, Topic: "pulse/events", Payload: []byte(`[{"type":"video_liked","subject":"r3"},{"type":"video_liked","subject":"r3"}]`)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.pub.Publish(ctx, &paho.Publish{QoS: 1, Topic: "pulse/events/video_liked/r2", Payload: []byte(`{"n":2}`)}); err != nil {
		t.Fatal(err)
	}
	// A marker published last: once its receipt is back, the messages before it are handled
	// (one subscriber, in order).
	f.publish("pulse/events/marker/m", `{}`, nil)
	bySubject := map[string]int{}
	testenv.WaitFor(t, time.Minute, "every message handled", func() bool {
		clear(bySubject)
		for _, ev := range f.stored() {
			bySubject[ev.Subject]++
		}
		return bySubject["m"] == 1
	})
	want := map[string]int{"r2": 2, "r3": 2}
	for s, n := range want {
		if bySubject[s] != n {
			t.Errorf("%s: %d events stored, want %d (%v)", s, bySubject[s], n, bySubject)
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) { w.t.Log(string(b)); return len(b), nil }
