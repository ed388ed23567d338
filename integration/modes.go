package integration

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/cmd/pulse/app"
	"github.com/pulsehq/pulse/internal/testenv"
)

// Mode is where a test's Pulse runs, in the style of Tempo's integration suite: on one Redis
// or on a 3-master Redis Cluster; with every role in one App, or split, one App per role on
// the shared Redis behind a gateway that routes each path to its role as compose's does.
type Mode struct{ Cluster, Split bool }

func (m Mode) String() string {
	s := "single"
	if m.Cluster {
		s = "cluster"
	}
	if m.Split {
		return s + "/split"
	}
	return s + "/all-in-one"
}

// Modes are the four modes.
var Modes = []Mode{{}, {Split: true}, {Cluster: true}, {Cluster: true, Split: true}}

// EachMode runs f in every mode, as parallel subtests named by the mode.
func EachMode(t *testing.T, f func(t *testing.T, m Mode)) {
	for _, m := range Modes {
		t.Run(m.String(), func(t *testing.T) {
			t.Parallel()
			f(t, m)
		})
	}
}

// Scale is how many Apps of each role a split deployment runs.
type Scale struct{ Ingest, Counter, Live, Indexer int }

// StartMode starts Pulse in mode m (one App of each role when split) and logs what ran. The
// returned Pulse's URL serves every route either way.
func StartMode(t testing.TB, m Mode, tune func(*app.Config)) *Pulse {
	t.Helper()
	var p *Pulse
	url, kind := redisFor(t, m)
	if m.Split {
		p = StartSplit(t, url, Scale{1, 1, 1, 1}, tune)
	} else {
		p = StartOn(t, url, tune)
	}
	t.Logf("harness: %s: %s", m, kind)
	return p
}

// redisFor starts the Redis of a mode: its URL, and what ran.
func redisFor(t testing.TB, m Mode) (url, kind string) {
	if m.Cluster {
		cl := testenv.StartCluster(t, testenv.ClusterOptions{})
		return cl.URL(), cl.Kind
	}
	r := testenv.StartRedis(t)
	return r.URL, "redis " + r.Kind
}

// StartSplit runs each role in its own Apps on the Redis at url, sc of each, behind a
// gateway: /v1/live to live, /v1/search to the indexer, /v1/events and /v1/videos to ingest,
// everything else (counts, failures, pipeline, dashboard) to the counter; round robin among a
// role's Apps. Every App is stopped at cleanup.
func StartSplit(t testing.TB, url string, sc Scale, tune func(*app.Config)) *Pulse {
	t.Helper()
	g := &gateway{roles: map[string][]*Pulse{}}
	for _, r := range []struct {
		role string
		n    int
	}{{"ingest", sc.Ingest}, {"counter", sc.Counter}, {"live", sc.Live}, {"indexer", sc.Indexer}} {
		for i := range r.n {
			g.roles[r.role] = append(g.roles[r.role], StartOn(t, url, func(c *app.Config) {
				if tune != nil {
					tune(c)
				}
				c.Roles = []string{r.role}
				c.Consumers.Consumer = fmt.Sprintf("%s-%d", r.role, i)
			}))
		}
	}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	first := g.roles["counter"][0]
	return &Pulse{URL: srv.URL, Config: first.Config, Layout: first.Layout, Roles: g.roles, stop: func() {}, done: closedDone()}
}

func closedDone() chan error {
	c := make(chan error)
	close(c)
	return c
}

// Client is a client of the test's Redis or cluster, for assertions; closed at cleanup.
func (p *Pulse) Client(t testing.TB) redis.UniversalClient {
	t.Helper()
	if p.Redis != nil {
		return p.Redis.Client()
	}
	var addrs []string
	for _, u := range strings.Split(p.Config.RedisURL, ",") {
		opt, err := redis.ParseURL(u)
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, opt.Addr)
	}
	var c redis.UniversalClient
	if len(addrs) > 1 {
		c = redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	} else {
		opt, _ := redis.ParseURL(p.Config.RedisURL)
		c = redis.NewClient(opt)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// gateway routes each request to an App of the role serving its path.
type gateway struct {
	roles map[string][]*Pulse
	next  atomic.Uint64
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	role := "counter"
	switch p := r.URL.Path; {
	case strings.HasPrefix(p, "/v1/live"):
		role = "live"
	case strings.HasPrefix(p, "/v1/search"):
		role = "indexer"
	case p == "/v1/events", strings.HasPrefix(p, "/v1/videos/"):
		role = "ingest"
	}
	apps := g.roles[role]
	target, _ := url.Parse(apps[g.next.Add(1)%uint64(len(apps))].URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.FlushInterval = -1 // SSE and WebSockets: no buffering
	proxy.ServeHTTP(w, r)
}
