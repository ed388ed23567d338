package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/pulsehq/pulse/client"
)

func newClient(t *testing.T, url string) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{URL: url, MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fakeIngest answers POST /v1/events with answers[i] on attempt i and records every body.
type fakeIngest struct {
	mu      sync.Mutex
	bodies  [][]client.Event
	answers []func(w http.ResponseWriter, events []client.Event)
}

func (f *fakeIngest) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var events []client.Event
	dec := json.NewDecoder(r.Body)
	for {
		var batch []client.Event
		if err := dec.Decode(&batch); err != nil {
			break
		}
		events = append(events, batch...)
	}
	f.mu.Lock()
	n := len(f.bodies)
	f.bodies = append(f.bodies, events)
	f.mu.Unlock()
	f.answers[min(n, len(f.answers)-1)](w, events)
}

func answer(status int, retryAfter string, statuses ...string) func(http.ResponseWriter, []client.Event) {
	return func(w http.ResponseWriter, events []client.Event) {
		a := client.Answer{}
		for i, e := range events {
			r := client.Result{ID: e.ID, Status: statuses[i]}
			if r.Status == client.StatusFailed {
				a.Failed++
				r.Error = &client.ItemError{Code: "unconfirmed", Message: "maybe stored"}
			}
			a.Results = append(a.Results, r)
		}
		var body any = a
		if status >= 400 {
			body = map[string]any{"error": map[string]any{"code": "unconfirmed", "message": "retry", "details": a}}
		}
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(body)
	}
}

// A 503 names the events that failed: only they are sent again, with the ids they were given
// before the first attempt; a request without an answer is sent again whole.
func TestSendBatchRetries(t *testing.T) {
	t.Parallel()
	hangUp := func(w http.ResponseWriter, _ []client.Event) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	}
	tests := []struct {
		name     string
		answers  []func(http.ResponseWriter, []client.Event)
		attempts []int // events per attempt
	}{
		{"no retry needed", []func(http.ResponseWriter, []client.Event){answer(202, "", "accepted", "accepted", "duplicate")}, []int{3}},
		{"503 for one event", []func(http.ResponseWriter, []client.Event){
			answer(503, "1", "accepted", "failed", "accepted"), answer(202, "", "accepted")}, []int{3, 1}},
		{"no answer", []func(http.ResponseWriter, []client.Event){hangUp, answer(202, "", "accepted", "duplicate", "accepted")}, []int{3, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeIngest{answers: tt.answers}
			srv := httptest.NewServer(f)
			t.Cleanup(srv.Close)
			events := []client.Event{{Type: "t", Subject: "a"}, {Type: "t", Subject: "b", ID: "mine"}, {Type: "t", Subject: "c"}}
			a, err := newClient(t, srv.URL).SendBatch(context.Background(), events, client.JSON)
			if err != nil {
				t.Fatal(err)
			}
			if a.Failed != 0 || a.Accepted+a.Duplicates != 3 {
				t.Errorf("answer %+v", a)
			}
			if events[1].ID != "mine" || events[0].ID == "" || events[0].ID == events[2].ID {
				t.Errorf("ids %q %q %q: want the given one kept, fresh distinct ones for the others", events[0].ID, events[1].ID, events[2].ID)
			}
			if len(f.bodies) != len(tt.attempts) {
				t.Fatalf("%d attempts, want %d", len(f.bodies), len(tt.attempts))
			}
			for i, n := range tt.attempts {
				if len(f.bodies[i]) != n {
					t.Errorf("attempt %d sent %d events, want %d", i, len(f.bodies[i]), n)
				}
				for _, e := range f.bodies[i] {
					if e.ID == "" {
						t.Errorf("attempt %d sent an event without id", i)
					}
				}
			}
			if len(tt.attempts) > 1 && tt.attempts[1] == 1 && f.bodies[1][0].ID != f.bodies[0][1].ID {
				t.Errorf("retried %q, want the failed event %q", f.bodies[1][0].ID, f.bodies[0][1].ID)
			}
		})
	}
}

// A refusal that a retry cannot fix is not retried; the events keep their outcome.
func TestSendBatchGivesUp(t *testing.T) {
	t.Parallel()
	f := &fakeIngest{answers: []func(http.ResponseWriter, []client.Event){func(w http.ResponseWriter, _ []client.Event) {
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		io.WriteString(w, `{"error":{"code":"batch_too_large","message":"too many","details":null}}`)
	}}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	a, err := newClient(t, srv.URL).SendBatch(context.Background(), []client.Event{{Type: "t", Subject: "a"}}, client.NDJSON)
	var e *client.Error
	if !errors.As(err, &e) || e.Status != 413 || e.Code != "batch_too_large" {
		t.Fatalf("err = %v, want the 413", err)
	}
	if len(f.bodies) != 1 || a.Failed != 1 || a.Results[0].Error.Code != "batch_too_large" {
		t.Errorf("%d attempts, answer %+v", len(f.bodies), a)
	}
}

func TestSubjectCountsJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   client.SubjectCounts
		want string
	}{
		{client.SubjectCounts{Type: "t", Subject: "s", Counts: map[string]int64{"10m": 3, "1m": 1, "5m": 2}}, `{"type":"t","subject":"s","1m":1,"5m":2,"10m":3}`},
		{client.SubjectCounts{Subject: "a\"b", Counts: map[string]int64{"1h": 1, "30s": 0}}, `{"subject":"a\"b","30s":0,"1h":1}`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.in)
		if err != nil || string(b) != tt.want {
			t.Errorf("marshal = %s, %v; want %s", b, err, tt.want)
		}
		var back client.SubjectCounts
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if again, _ := json.Marshal(back); !bytes.Equal(again, b) {
			t.Errorf("round trip = %s, want %s", again, b)
		}
	}
}

// fakeLive is a WebSocket server that plays script to each connection, in turn: a frame to
// send, "<read>" to wait for one client frame (recorded), "<close>" to drop the connection.
type fakeLive struct {
	mu      sync.Mutex
	conns   int
	scripts [][]string
	got     []string
}

func (f *fakeLive) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	script := f.scripts[min(f.conns, len(f.scripts)-1)]
	f.conns++
	f.mu.Unlock()
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer conn.CloseNow()
	ctx := r.Context()
	for _, step := range script {
		switch step {
		case "<read>":
			_, data, err := conn.Read(ctx)
			if err != nil {
				return
			}
			f.mu.Lock()
			f.got = append(f.got, string(data))
			f.mu.Unlock()
		case "<close>":
			return
		default:
			if conn.Write(ctx, websocket.MessageText, []byte(step)) != nil {
				return
			}
		}
	}
	conn.Read(ctx) // hold the connection until the client goes
}

func snap(seq int, n int) string {
	return `{"op":"snapshot","id":"s","seq":` + itoa(seq) + `,"at":1,"counts":[{"subject":"a","1m":` + itoa(n) + `}]}`
}

func update(seq int, n int) string {
	return `{"op":"update","id":"s","seq":` + itoa(seq) + `,"at":2,"counts":[{"subject":"a","1m":` + itoa(n) + `}]}`
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// A gap in seq makes the client subscribe again and skip frames until the new snapshot; a
// dropped connection makes it reconnect and subscribe again.
func TestSubscribeRecovers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		scripts [][]string
		want    []string // ops and counts of the frames Next returns
	}{
		{"in order", [][]string{{"<read>", snap(1, 1), update(2, 2), update(3, 3)}}, []string{"snapshot 1", "update 2", "update 3"}},
		{"gap", [][]string{{"<read>", snap(1, 1), update(3, 5), "<read>", "<read>", update(4, 6), snap(1, 7), update(2, 8)}},
			[]string{"snapshot 1", "snapshot 7", "update 8"}},
		{"dropped", [][]string{{"<read>", snap(1, 1), "<close>"}, {"<read>", snap(1, 4), update(2, 5)}},
			[]string{"snapshot 1", "snapshot 4", "update 5"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := &fakeLive{scripts: tt.scripts}
			srv := httptest.NewServer(f)
			t.Cleanup(srv.Close)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			sub, err := newClient(t, srv.URL).Subscribe(ctx, "t", "a")
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			for _, want := range tt.want {
				fr, err := sub.Next(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if got := fr.Op + " " + itoa(int(fr.Counts[0].Counts["1m"])); got != want {
					t.Errorf("frame %s, want %s", got, want)
				}
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if tt.name == "gap" && (len(f.got) != 3 || !strings.Contains(f.got[1], "unsubscribe") || !strings.Contains(f.got[2], `"subscribe"`)) {
				t.Errorf("client frames %q, want subscribe, unsubscribe, subscribe", f.got)
			}
		})
	}
}

// A subscription the server refuses fails Subscribe with the server's code.
func TestSubscribeRefused(t *testing.T) {
	t.Parallel()
	f := &fakeLive{scripts: [][]string{{"<read>", `{"op":"error","id":"s","code":"invalid_type","message":"bad"}`}}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	_, err := newClient(t, srv.URL).Subscribe(context.Background(), "T", "a")
	var e *client.Error
	if !errors.As(err, &e) || e.Code != "invalid_type" {
		t.Fatalf("err = %v, want invalid_type", err)
	}
}
