package testenv

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ClusterOptions shapes a Redis Cluster; the zero value is 3 masters, no replicas, direct.
type ClusterOptions struct {
	Masters  int // at least 3 (Redis Cluster's minimum); 0 means 3
	Replicas int // per master
	// Proxied puts a Proxy in front of every node and has the node announce the proxy's port:
	// CLUSTER SLOTS and MOVED send clients (and replicas' replication links) through the
	// proxies, while the cluster bus between nodes stays direct.
	Proxied     bool
	AppendFsync string // as RedisOptions.AppendFsync, for every node
	// NodeTimeout is cluster-node-timeout, failure detection: 0 means 2 s with replicas (a
	// failover within seconds) and Redis's 15 s without, where a master marked failed cannot
	// be replaced and only makes its slots refuse commands: a loaded test machine can delay a
	// node's cluster-bus answers for a second or two.
	NodeTimeout time.Duration
}

// Cluster is a Redis Cluster of local redis-server processes on loopback TCP ports.
type Cluster struct {
	Nodes []*ClusterNode
	Kind  string // what ran, for logs and reports

	t         testing.TB
	opts      ClusterOptions
	realAddrs map[string]string // announced (proxy) address → node address
}

// ClusterNode is one node. Its Redis's Addr and URL are the node itself; Kill and Start
// restart it on the same port and directory, so it keeps its node ID (nodes.conf) and data.
type ClusterNode struct {
	*Redis
	ID     string
	Proxy  *Proxy // nil unless Proxied
	Master bool   // role at creation; a failover swaps roles
}

// Announced is the address the cluster gives clients for this node: its proxy, if any.
func (n *ClusterNode) Announced() string {
	if n.Proxy != nil {
		return n.Proxy.Addr
	}
	return n.Addr
}

// StartCluster starts a cluster, every process killed at cleanup, and returns once every node
// reports cluster_state:ok, agrees on the slot map and every replica has synced.
func StartCluster(t testing.TB, opts ClusterOptions) *Cluster {
	t.Helper()
	if opts.Masters == 0 {
		opts.Masters = 3
	}
	if opts.NodeTimeout == 0 {
		opts.NodeTimeout = 15 * time.Second
		if opts.Replicas > 0 {
			opts.NodeTimeout = 2 * time.Second
		}
	}
	if opts.Masters < 3 || opts.Replicas < 0 {
		t.Fatalf("testenv: cluster of %d masters, %d replicas each: want ≥3 masters, ≥0 replicas", opts.Masters, opts.Replicas)
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatal("testenv: no redis-cli on PATH: apt-get install -y redis-server")
	}
	nodeArgs := func(tb testing.TB) []string {
		return []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", strconv.FormatInt(opts.NodeTimeout.Milliseconds(), 10),
			// cluster-port sets the bus port: no need for port+10000 to be free too.
			"--cluster-port", strconv.Itoa(FreePort(tb)), "--cluster-announce-ip", "127.0.0.1",
			// CLUSTER SLOTS hides a replica until its replication offset moves, which an idle
			// master does only with its replication PING (default every 10 s); and full syncs
			// need not wait 5 s for more replicas to join.
			"--repl-ping-replica-period", "1", "--repl-diskless-sync-delay", "0"}
	}
	c := &Cluster{t: t, opts: opts, realAddrs: map[string]string{}}
	create := []string{"--cluster", "create"}
	for range opts.Masters * (1 + opts.Replicas) {
		n := &ClusterNode{Redis: startBinary(t, RedisOptions{TCP: true, AppendFsync: opts.AppendFsync, args: nodeArgs})}
		if opts.Proxied {
			n.Proxy = StartProxy(t, "redis-node-"+n.Addr, n.Addr)
			n.announcePort(n.Proxy.Addr)
			c.realAddrs[n.Proxy.Addr] = n.Addr
		}
		c.Nodes = append(c.Nodes, n)
		// redis-cli takes the real addresses: it MEETs nodes on them and their bus ports. It
		// makes the first Masters nodes masters.
		create = append(create, n.Addr)
	}
	create = append(create, "--cluster-replicas", strconv.Itoa(opts.Replicas), "--cluster-yes")
	if out, err := exec.Command(cli, create...).CombinedOutput(); err != nil {
		t.Fatalf("testenv: redis-cli %s: %v\n%s", strings.Join(create, " "), err, out)
	}
	c.WaitReady()

	ctx := context.Background()
	for _, n := range c.Nodes {
		rdb := n.direct()
		id, err := rdb.Do(ctx, "CLUSTER", "MYID").Text()
		role, err2 := rdb.Do(ctx, "ROLE").Slice()
		_ = rdb.Close()
		if err != nil || err2 != nil || len(role) == 0 {
			t.Fatalf("testenv: node %s: CLUSTER MYID: %v; ROLE %v: %v", n.Addr, err, role, err2)
		}
		n.ID, n.Master = id, role[0] == "master"
	}
	c.Kind = fmt.Sprintf("redis cluster of %d redis-server binaries: %d masters, %d replicas per master, %s",
		len(c.Nodes), opts.Masters, opts.Replicas, aof(opts.AppendFsync))
	if opts.Proxied {
		c.Kind += ", clients through toxiproxy"
	}
	t.Logf("testenv: %s, seeds %s", c.Kind, c.URL())
	return c
}

// announcePort makes the node give clients addr's port (its proxy's) instead of its own. The
// proxy can only be made once the node's port is known, so the setting is applied live, and
// added to the command line for later Starts.
func (n *ClusterNode) announcePort(addr string) {
	_, port, _ := net.SplitHostPort(addr)
	n.mu.Lock()
	n.args = append(n.args, "--cluster-announce-port", port)
	n.mu.Unlock()
	rdb := n.direct()
	defer rdb.Close()
	if err := rdb.ConfigSet(context.Background(), "cluster-announce-port", port).Err(); err != nil {
		n.t.Fatalf("testenv: node %s: announce port %s: %v", n.Addr, port, err)
	}
}

// Node is the node at addr (its own address or the one it announces), or nil.
func (c *Cluster) Node(addr string) *ClusterNode {
	for _, n := range c.Nodes {
		if n.Addr == addr || n.Announced() == addr {
			return n
		}
	}
	return nil
}

// Masters are the nodes that are masters now (a failover swaps roles).
func (c *Cluster) Masters() []*ClusterNode {
	var out []*ClusterNode
	for _, n := range c.Nodes {
		rdb := n.direct()
		r, err := rdb.Do(context.Background(), "ROLE").Slice()
		_ = rdb.Close()
		if err == nil && len(r) > 0 && r[0] == "master" {
			out = append(out, n)
		}
	}
	return out
}

// KillMaster kills master n (SIGKILL) and waits until a replica has taken every slot it held
// and the cluster is ok again; it returns how long that took. Start n again afterwards (it
// rejoins as a replica) and WaitReady.
func (c *Cluster) KillMaster(n *ClusterNode) time.Duration {
	c.t.Helper()
	start := time.Now()
	n.Kill()
	for deadline := start.Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if c.slotsMovedFrom(n) {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("testenv: no replica took the slots of %s within a minute", n.Addr)
		}
	}
}

// slotsMovedFrom reports whether every running node says cluster_state:ok and none gives a
// slot to n.
func (c *Cluster) slotsMovedFrom(n *ClusterNode) bool {
	ctx := context.Background()
	for _, o := range c.Nodes {
		if o == n {
			continue
		}
		rdb := o.direct()
		info, err := rdb.ClusterInfo(ctx).Result()
		slots, err2 := rdb.ClusterSlots(ctx).Result()
		_ = rdb.Close()
		if err != nil || err2 != nil || !strings.Contains(info, "cluster_state:ok") {
			return false
		}
		for _, s := range slots {
			if s.Nodes[0].Addr == n.Announced() {
				return false
			}
		}
	}
	return true
}

// direct is a plain client of the node itself, bypassing its proxy.
func (n *ClusterNode) direct() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: n.Addr, MaxRetries: -1, DialTimeout: time.Second})
}

// URL is the comma-separated list of seed URLs (through the proxies when Proxied) that the
// app takes for a cluster.
func (c *Cluster) URL() string {
	urls := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		urls[i] = "redis://" + n.Announced()
	}
	return strings.Join(urls, ",")
}

// Client returns a cluster client that reaches the nodes directly, never through the proxies,
// so that assertions meet no injected fault. Closed at cleanup.
func (c *Cluster) Client(t testing.TB) *redis.ClusterClient {
	var addrs []string
	for _, n := range c.Nodes {
		addrs = append(addrs, n.Addr)
	}
	rdb := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs: addrs,
		// The slot map and MOVED name the announced proxy addresses: dial the node behind.
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if real, ok := c.realAddrs[addr]; ok {
				addr = real
			}
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// WaitReady waits until every node, all running, reports cluster_state:ok and the same slot
// map covering all 16384 slots with the configured replicas, and every replica's link to its
// master is up. Call it after restarting nodes or a failover.
func (c *Cluster) WaitReady() {
	c.t.Helper()
	const timeout = 60 * time.Second
	for deadline := time.Now().Add(timeout); ; time.Sleep(50 * time.Millisecond) {
		why := c.notReady()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("testenv: redis cluster not ready after %s: %s", timeout, why)
		}
	}
}

// notReady says why the cluster is not ready yet, or "".
func (c *Cluster) notReady() string {
	var first string
	for _, n := range c.Nodes {
		m, why := c.nodeView(n)
		if why != "" {
			return n.Addr + ": " + why
		}
		if first == "" {
			first = m
		} else if m != first {
			return fmt.Sprintf("%s sees slots %s, %s sees %s", c.Nodes[0].Addr, first, n.Addr, m)
		}
	}
	return ""
}

// nodeView returns the node's slot map, or why it is not ready.
func (c *Cluster) nodeView(n *ClusterNode) (slotMap, why string) {
	ctx := context.Background()
	rdb := n.direct()
	defer rdb.Close()
	info, err := rdb.ClusterInfo(ctx).Result()
	if err != nil {
		return "", fmt.Sprintf("cluster info: %v", err)
	}
	if !strings.Contains(info, "cluster_state:ok") {
		return "", "cluster_state is not ok"
	}
	repl, err := rdb.Info(ctx, "replication").Result()
	if err != nil {
		return "", fmt.Sprintf("info: %v", err)
	}
	if strings.Contains(repl, "role:slave") && !strings.Contains(repl, "master_link_status:up") {
		return "", "replica not synced with its master"
	}
	slots, err := rdb.ClusterSlots(ctx).Result()
	if err != nil {
		return "", fmt.Sprintf("cluster slots: %v", err)
	}
	m, err := c.slotMap(slots)
	if err != nil {
		return "", err.Error()
	}
	return m, ""
}

// slotMap renders CLUSTER SLOTS canonically ("0-5460 master replicas…; …") and checks that
// it covers every slot once with the configured replicas per range.
func (c *Cluster) slotMap(slots []redis.ClusterSlot) (string, error) {
	slices.SortFunc(slots, func(a, b redis.ClusterSlot) int { return a.Start - b.Start })
	var b strings.Builder
	next := 0
	for _, s := range slots {
		if s.Start != next || len(s.Nodes) != 1+c.opts.Replicas {
			return "", fmt.Errorf("slots %d-%d: %d nodes, or a gap before (want %d-…, %d nodes)",
				s.Start, s.End, len(s.Nodes), next, 1+c.opts.Replicas)
		}
		next = s.End + 1
		replicas := make([]string, 0, len(s.Nodes)-1)
		for _, r := range s.Nodes[1:] {
			replicas = append(replicas, r.Addr)
		}
		slices.Sort(replicas) // nodes list replicas in no fixed order
		fmt.Fprintf(&b, "%d-%d %s %v; ", s.Start, s.End, s.Nodes[0].Addr, replicas)
	}
	if next != 16384 {
		return "", fmt.Errorf("slots from %d not covered", next)
	}
	return b.String(), nil
}
