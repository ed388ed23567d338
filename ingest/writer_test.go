package ingest

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/testenv"
)

func TestDuplicatesStoredOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Layout: events.Layout{Partitions: 4, Tags: events.TagsNumbered}})
	body := `[{"id":"a","type":"t","subject":"s"},{"id":"a","type":"t","subject":"s"},{"id":"a","type":"t","subject":"other"}]`
	r := post(t, f.url+"/v1/events", "application/json", []byte(body))
	// Same id within one batch: the second is a duplicate. Another subject is another event.
	want := []string{"accepted", "duplicate", "accepted"}
	for i, res := range r.body.Results {
		if res.Status != want[i] || res.ID != "a" {
			t.Errorf("result %d: %+v, want %s", i, res, want[i])
		}
	}
	r = post(t, f.url+"/v1/events", "application/json", []byte(`{"id":"a","type":"t","subject":"s"}`))
	if r.status != http.StatusOK || r.body.Duplicates != 1 {
		t.Fatalf("retry: %d %+v", r.status, r.body)
	}
	got := testenv.StoredEvents(t, f.rdb, events.Layout{Partitions: 4, Tags: events.TagsNumbered})
	if len(got["a"]) != 2 {
		t.Fatalf("id a stored %d times, want 2 (two subjects)", len(got["a"]))
	}
	ttl := f.rdb.TTL(context.Background(), testenv.Numbered.DedupeKey(events.Partition("t", "s", 4), "t", "s", "a")).Val()
	if ttl <= 59*time.Minute || ttl > time.Hour {
		t.Errorf("dedupe key TTL %s, want 1h", ttl)
	}
}

func TestStoredFields(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Layout: events.Layout{Partitions: 1, Tags: events.TagsNumbered}})
	before := time.Now().UnixMilli()
	body := `{"specversion":"1.0","id":"ce-1","source":"/shop","type":"video_liked","subject":"v1",` +
		`"time":"2026-01-02T03:04:05.678Z","data":{"user":"u1"},"datacontenttype":"application/json"}`
	if r := post(t, f.url+"/v1/events", "application/cloudevents+json", []byte(body)); r.status != 202 {
		t.Fatalf("status %d %+v", r.status, r.err)
	}
	e := testenv.StoredEvents(t, f.rdb, events.Layout{Partitions: 1, Tags: events.TagsNumbered})["ce-1"][0]
	want := events.Event{ID: "ce-1", Type: "video_liked", Subject: "v1", Time: time.Date(2026, 1, 2, 3, 4, 5, 678e6, time.UTC).UnixMilli(),
		Data: []byte(`{"user":"u1"}`), Source: "/shop", SpecVersion: "1.0", Received: e.Received}
	if fmt.Sprint(e) != fmt.Sprint(want) {
		t.Errorf("stored %+v\nwant   %+v", e, want)
	}
	if e.Received < before || e.Received > time.Now().UnixMilli() {
		t.Errorf("received %d outside the request", e.Received)
	}
}

func TestBacklogFull(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Layout: events.Layout{Partitions: 1, Tags: events.TagsNumbered}, MaxBacklog: 3})
	r := post(t, f.url+"/v1/events", "application/json", []byte(batchOf(3)))
	if r.status != 202 {
		t.Fatalf("fill: %d", r.status)
	}
	r = post(t, f.url+"/v1/events", "application/json", []byte(`[{"id":"x","type":"t","subject":"s"},{"type":"BAD","subject":"s"}]`))
	if r.status != http.StatusServiceUnavailable || r.err.Code != "backlog_full" || r.retryAfter != "1" {
		t.Fatalf("over the backlog: %d %q retry-after %q", r.status, r.err.Code, r.retryAfter)
	}
	d := r.err.Details
	if d.Failed != 1 || d.Rejected != 1 || d.Results[0].Status != "failed" || d.Results[0].Error.Code != "backlog_full" {
		t.Fatalf("details %+v", d)
	}
	// The refused id was not remembered: once there is room it is accepted, not a duplicate.
	if err := f.rdb.XTrimMaxLen(context.Background(), testenv.Numbered.Stream(0), 0).Err(); err != nil {
		t.Fatal(err)
	}
	if r = post(t, f.url+"/v1/events", "application/json", []byte(`{"id":"x","type":"t","subject":"s"}`)); r.status != 202 {
		t.Fatalf("after trim: %d %+v", r.status, r.body)
	}
}

// Redis forgets scripts on restart or SCRIPT FLUSH; the writer reloads and resends.
func TestScriptReloaded(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	for i := range 3 {
		if err := f.rdb.ScriptFlush(context.Background()).Err(); err != nil {
			t.Fatal(err)
		}
		if r := post(t, f.url+"/v1/events", "application/json", []byte(batchOf(5))); r.status != 202 || r.body.Accepted != 5 {
			t.Fatalf("round %d: %d %+v", i, r.status, r.body)
		}
	}
}

// An append that fails inside the script forgets the dedupe key, so the retry is accepted.
func TestFailedAppendForgetsID(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Layout: events.Layout{Partitions: 1, Tags: events.TagsNumbered}, MaxBacklog: -1})
	ctx := context.Background()
	if err := f.rdb.Set(ctx, testenv.Numbered.Stream(0), "not a stream", 0).Err(); err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"id":"e1","type":"t","subject":"s"}`)
	r := post(t, f.url+"/v1/events", "application/json", body)
	if r.status != http.StatusServiceUnavailable || r.err.Details.Results[0].Status != "failed" {
		t.Fatalf("append into a string: %d %+v", r.status, r.err)
	}
	if n := f.rdb.Exists(ctx, testenv.Numbered.DedupeKey(0, "t", "s", "e1")).Val(); n != 0 {
		t.Fatalf("dedupe key kept after a failed append")
	}
	f.rdb.Del(ctx, testenv.Numbered.Stream(0))
	if r = post(t, f.url+"/v1/events", "application/json", body); r.status != 202 {
		t.Fatalf("retry: %d %+v", r.status, r.body)
	}
}

func TestRedisDownThenBack(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	if f.redis.Kind != "binary" {
		t.Skipf("needs a restartable redis-server, have %s", f.redis.Kind)
	}
	body := []byte(`[{"id":"k1","type":"t","subject":"s"},{"type":"t","subject":"s"}]`)
	f.redis.Stop()
	r := post(t, f.url+"/v1/events", "application/json", body)
	if r.status != http.StatusServiceUnavailable || r.err.Code != "redis_unavailable" || r.retryAfter == "" {
		t.Fatalf("redis down: %d %q retry-after %q", r.status, r.err.Code, r.retryAfter)
	}
	if d := r.err.Details; d.Failed != 2 || d.Results[0].Status != "failed" {
		t.Fatalf("details %+v", d)
	}
	f.redis.Start()
	testenv.WaitFor(t, 10*time.Second, "ingest to recover", func() bool {
		return post(t, f.url+"/v1/events", "application/json", body).status == 202
	})
	if n := len(testenv.StoredEvents(t, f.rdb, events.DefaultLayout())["k1"]); n != 1 {
		t.Fatalf("k1 stored %d times", n)
	}
}

// Stopping the writer commits every queued request before Run returns.
func TestWriterDrainsOnStop(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Layout: events.Layout{Partitions: 2, Tags: events.TagsNumbered}})
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := map[string]bool{}
	stopAfter := make(chan struct{})
	for c := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("c%d-%d", c, i)
				r, err := postRaw(f.url+"/v1/events", `{"id":"`+id+`","type":"t","subject":"s`+id+`"}`)
				if err != nil || r == http.StatusServiceUnavailable {
					return // the writer stopped: refused, never half-taken
				}
				if r == 202 {
					mu.Lock()
					acked[id] = true
					n := len(acked)
					mu.Unlock()
					if n == 200 {
						close(stopAfter)
					}
				}
			}
		})
	}
	<-stopAfter
	f.stop()
	wg.Wait()
	got := testenv.StoredEvents(t, f.rdb, events.Layout{Partitions: 2, Tags: events.TagsNumbered})
	for id := range acked {
		if len(got[id]) != 1 {
			t.Errorf("acked %s stored %d times", id, len(got[id]))
		}
	}
	t.Logf("%d acked before and during the stop, all stored", len(acked))
}

func postRaw(url, body string) (int, error) {
	res, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	res.Body.Close()
	return res.StatusCode, nil
}

// An append whose reply is lost may be stored: the answer says so (503 unconfirmed), gives
// out the client's id (resending it is safe: it comes back duplicate) but no server-assigned
// id, which is not dedupe-protected and would count the event twice if sent again.
func TestLostReplyIsUnconfirmed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Layout: events.Layout{Partitions: 1, Tags: events.TagsNumbered}})
	lost := &testenv.LostReply{Match: testenv.ArgsContain(testenv.Numbered.Stream(0))}
	lost.Times.Store(1)
	f.w.rdb.(*redis.Client).AddHook(lost)
	body := []byte(`[{"id":"k1","type":"t","subject":"s"},{"type":"t","subject":"s"}]`)
	r := post(t, f.url+"/v1/events", "application/json", body)
	if r.status != http.StatusServiceUnavailable || r.err.Code != "unconfirmed" || r.retryAfter == "" {
		t.Fatalf("lost reply: %d %q retry-after %q", r.status, r.err.Code, r.retryAfter)
	}
	res := r.err.Details.Results
	if res[0].ID != "k1" || res[0].Status != "failed" || res[1].ID != "" || res[1].Status != "failed" {
		t.Fatalf("results %+v: want k1 failed with its id, the id-less event failed without one", res)
	}
	stored := testenv.StoredEvents(t, f.rdb, events.Layout{Partitions: 1, Tags: events.TagsNumbered})
	n := 0
	for _, entries := range stored {
		n += len(entries)
	}
	if n != 2 || len(stored["k1"]) != 1 {
		t.Fatalf("stored %v: the lost reply's appends did run", stored)
	}
	if r := post(t, f.url+"/v1/events", "application/json", []byte(`{"id":"k1","type":"t","subject":"s"}`)); r.status != http.StatusOK || r.body.Duplicates != 1 {
		t.Fatalf("resend of k1: %d %+v", r.status, r.body)
	}
}

// Types beyond PULSE_MAX_TYPES are refused with their own code; known types keep flowing.
func TestMaxTypes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{Layout: events.Layout{Partitions: 1, Tags: events.TagsNumbered}, MaxTypes: 2})
	r := post(t, f.url+"/v1/events", "application/json", []byte(`[{"type":"a","subject":"s"},{"type":"b","subject":"s"},{"type":"c","subject":"s"}]`))
	if r.status != http.StatusAccepted || r.body.Accepted != 2 || r.body.Results[2].Error == nil || r.body.Results[2].Error.Code != "too_many_types" {
		t.Fatalf("third type: %d %+v", r.status, r.body)
	}
	if r := post(t, f.url+"/v1/events", "application/json", []byte(`{"type":"a","subject":"s"}`)); r.status != http.StatusAccepted {
		t.Fatalf("known type: %d", r.status)
	}
	if n := f.rdb.ZCard(context.Background(), events.TypesKey).Val(); n != 2 {
		t.Fatalf("%d registered types, want 2", n)
	}
}

// WaitReplicas: an append no replica has confirmed is unconfirmed (503, may be stored), never
// accepted; once a replica has it, the resend is a confirmed duplicate, stored once.
func TestWriterWaitsForReplicas(t *testing.T) {
	t.Parallel()
	master := testenv.StartRedisWith(t, testenv.RedisOptions{TCP: true})
	f := newFixtureOn(t, master, Config{Layout: events.Layout{Partitions: 2, Tags: events.TagsNumbered},
		WaitReplicas: 1, WaitTimeout: 100 * time.Millisecond})
	body := []byte(`[{"id":"w1","type":"t","subject":"s"},{"type":"t","subject":"other"}]`)
	r := post(t, f.url+"/v1/events", "application/json", body)
	if r.status != http.StatusServiceUnavailable || r.err.Code != "unconfirmed" || r.err.Details.Failed != 2 {
		t.Fatalf("no replica: %d %q %+v, want 503 unconfirmed for both", r.status, r.err.Code, r.err.Details)
	}
	layout := events.Layout{Partitions: 2, Tags: events.TagsNumbered}
	if n := len(testenv.StoredEvents(t, f.rdb, layout)); n != 2 {
		t.Fatalf("%d events on the master, want 2 (stored, not confirmed)", n)
	}

	testenv.StartRedisWith(t, testenv.RedisOptions{TCP: true, ReplicaOf: master.Addr})
	testenv.WaitFor(t, 30*time.Second, "the replica to sync", func() bool {
		n, err := f.rdb.Do(context.Background(), "wait", 1, 100).Int()
		return err == nil && n == 1
	})
	// A WAIT may still time out on a loaded machine: resend until confirmed, as clients do.
	testenv.WaitFor(t, time.Minute, "w1 and w2 confirmed", func() bool {
		r = post(t, f.url+"/v1/events", "application/json", []byte(`[{"id":"w1","type":"t","subject":"s"},{"id":"w2","type":"t","subject":"s"}]`))
		return r.status == http.StatusAccepted || r.status == http.StatusOK
	})
	if r.body.Duplicates < 1 || r.body.Accepted+r.body.Duplicates != 2 {
		t.Fatalf("with a replica: %d %+v, want w1 duplicate and w2 accepted or duplicate", r.status, r.body)
	}
	if got := testenv.StoredEvents(t, f.rdb, layout); len(got["w1"]) != 1 || len(got["w2"]) != 1 {
		t.Errorf("stored %v, want w1 and w2 once", got)
	}
}
