package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/internal/events"
	"github.com/pulsehq/pulse/internal/httpapi"
	"github.com/pulsehq/pulse/internal/testenv"
)

// fixture is an ingest API with its writer running on a private real Redis.
type fixture struct {
	redis *testenv.Redis
	rdb   *redis.Client
	w     *Writer
	url   string
	stop  func() // stops the writer and waits for Run to return
}

func newFixture(t testing.TB, cfg Config) *fixture {
	t.Helper()
	return newFixtureOn(t, testenv.StartRedis(t), cfg)
}

// newFixtureOn is newFixture on r.
func newFixtureOn(t testing.TB, r *testenv.Redis, cfg Config) *fixture {
	t.Helper()
	opt, err := redis.ParseURL(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	opt.MaxRetries = -1
	wrdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = wrdb.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Logger = log
	in, err := New(wrdb, cfg)
	if err != nil {
		t.Fatal(err)
	}
	w := in.w
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("writer run: %v", err)
			}
		}
	}
	engine := httpapi.Engine(log)
	in.Mount(engine.Group("/v1"))
	srv := httptest.NewServer(engine)
	t.Cleanup(func() {
		srv.Close()
		stop()
	})
	return &fixture{redis: r, rdb: r.Client(), w: w, url: srv.URL, stop: stop}
}

// reply is a decoded answer (or error body) as a client sees it.
type reply struct {
	status     int
	retryAfter string
	body       answerBody
	err        struct {
		Code    string     `json:"code"`
		Message string     `json:"message"`
		Details answerBody `json:"details"`
	}
}

type answerBody struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
	Rejected   int `json:"rejected"`
	Failed     int `json:"failed"`
	Results    []struct {
		ID     string        `json:"id"`
		Status string        `json:"status"`
		Error  *events.Error `json:"error"`
	} `json:"results"`
}

func post(t testing.TB, url, contentType string, body []byte, header ...string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := reply{status: res.StatusCode, retryAfter: res.Header.Get("Retry-After")}
	var envelope struct {
		Error *json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(raw, &envelope); err != nil {
		t.Fatalf("answer %d is not JSON: %s", res.StatusCode, raw)
	}
	if envelope.Error != nil {
		if err := json.Unmarshal(*envelope.Error, &r.err); err != nil {
			t.Fatalf("error body: %v: %s", err, raw)
		}
	} else if err := json.Unmarshal(raw, &r.body); err != nil {
		t.Fatalf("answer body: %v: %s", err, raw)
	}
	return r
}
