package testenv_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/pulsehq/pulse/internal/testenv"
)

// A client given the proxied seed URLs, as the app is, reaches every master through the
// proxies: CLUSTER SLOTS and MOVED name proxy addresses.
func TestClusterThroughProxies(t *testing.T) {
	t.Parallel()
	c := testenv.StartCluster(t, testenv.ClusterOptions{Masters: 3, Replicas: 1, Proxied: true})
	ctx := context.Background()
	direct := c.Client(t)
	var seeds []string
	for _, u := range strings.Split(c.URL(), ",") {
		opt, err := redis.ParseURL(u)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, opt.Addr)
	}
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: seeds})
	t.Cleanup(func() { _ = rdb.Close() })

	byAnnounced := map[string]*testenv.ClusterNode{}
	for _, n := range c.Nodes {
		if n.Proxy == nil || n.Announced() == n.Addr {
			t.Fatalf("node %s has no proxy", n.Addr)
		}
		byAnnounced[n.Announced()] = n
	}
	slots, err := rdb.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	owner := func(slot int) *testenv.ClusterNode { // the master serving slot
		for _, s := range slots {
			for _, sn := range s.Nodes {
				if byAnnounced[sn.Addr] == nil {
					t.Fatalf("CLUSTER SLOTS names %s, not a proxy", sn.Addr)
				}
			}
			if s.Start <= slot && slot <= s.End {
				return byAnnounced[s.Nodes[0].Addr]
			}
		}
		t.Fatalf("slot %d unserved", slot)
		return nil
	}

	masters := map[*testenv.ClusterNode]bool{}
	for i := range 8 {
		key := fmt.Sprintf("{p%d}x", i)
		if err := rdb.Set(ctx, key, i, 0).Err(); err != nil {
			t.Fatalf("SET %s through the proxies: %v", key, err)
		}
		slot, err := direct.ClusterKeySlot(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		masters[owner(int(slot))] = true
	}
	if len(masters) < 2 {
		t.Fatalf("keys landed on %d masters, want ≥2", len(masters))
	}
	for i := range 8 {
		key := fmt.Sprintf("{p%d}x", i)
		for name, cl := range map[string]*redis.ClusterClient{"proxied": rdb, "direct": direct} {
			if v, err := cl.Get(ctx, key).Int(); err != nil || v != i {
				t.Fatalf("GET %s %s = %d, %v; want %d", name, key, v, err, i)
			}
		}
	}

	// Ask a master, through its proxy, for a key it does not serve: MOVED names the
	// owner's proxy.
	slot, _ := direct.ClusterKeySlot(ctx, "{p0}x").Result()
	own := owner(int(slot))
	for _, n := range c.Nodes {
		if !n.Master || n == own {
			continue
		}
		plain := redis.NewClient(&redis.Options{Addr: n.Proxy.Addr, MaxRetries: -1})
		defer plain.Close()
		addr, ok := redis.IsMovedError(plain.Get(ctx, "{p0}x").Err())
		if !ok || addr != own.Proxy.Addr {
			t.Fatalf("GET {p0}x at %s: MOVED to %q (moved=%v), want %s", n.Addr, addr, ok, own.Proxy.Addr)
		}
		break
	}
}

// A killed master restarts on its port with its AOF and node ID, announces its proxy again,
// and the cluster heals.
func TestClusterNodeRestart(t *testing.T) {
	t.Parallel()
	c := testenv.StartCluster(t, testenv.ClusterOptions{Proxied: true, AppendFsync: "always"})
	ctx := context.Background()
	direct := c.Client(t)
	if err := direct.Set(ctx, "{p0}x", "kept", 0).Err(); err != nil {
		t.Fatal(err)
	}
	slot, _ := direct.ClusterKeySlot(ctx, "{p0}x").Result()
	var own *testenv.ClusterNode
	for _, n := range c.Nodes {
		keys, err := n.Client().ClusterCountKeysInSlot(ctx, int(slot)).Result()
		if err != nil {
			t.Fatal(err)
		}
		if keys == 1 {
			own = n
		}
	}
	if own == nil {
		t.Fatal("no node holds {p0}x")
	}
	id := own.ID
	own.Kill()
	own.Start()
	c.WaitReady()
	rdb := own.Client()
	if got, _ := rdb.Do(ctx, "CLUSTER", "MYID").Text(); got != id {
		t.Fatalf("node ID %s after restart, was %s", got, id)
	}
	if v, err := rdb.Get(ctx, "{p0}x").Result(); err != nil || v != "kept" {
		t.Fatalf("GET {p0}x after restart = %q, %v", v, err)
	}
	slots, err := rdb.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range slots {
		if s.Start <= int(slot) && int(slot) <= s.End && s.Nodes[0].Addr != own.Proxy.Addr {
			t.Fatalf("slot %d served by %s after restart, want the proxy %s", slot, s.Nodes[0].Addr, own.Proxy.Addr)
		}
	}
}
