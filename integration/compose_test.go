package integration

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/pulsehq/pulse/internal/testenv"
)

// No Docker engine runs where the tests do, so compose.yaml is checked the way `docker compose`
// reads it: with the Compose Specification's own loader (schema, interpolation, merge keys,
// env files), in a copy of the files it references, with deploy/meili.env made from the example
// as `go tool task up` does. profiles are the ones enabled (`docker compose --profile`).
func loadCompose(t *testing.T, withEnvFile bool, profiles ...string) (*types.Project, error) {
	t.Helper()
	root := testenv.RepoRoot()
	dir := t.TempDir()
	for _, f := range []string{"compose.yaml", "Dockerfile", "deploy/Caddyfile", "deploy/meili.env.example"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, f), b)
	}
	if withEnvFile {
		b, err := os.ReadFile(filepath.Join(dir, "deploy/meili.env.example"))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, "deploy/meili.env"), b)
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(dir, "compose.yaml")},
		cli.WithWorkingDirectory(dir),
		cli.WithEnv(nil), // no host variables: the defaults written in the file apply
		cli.WithProfiles(profiles),
	)
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, err := p.GetService(name)
	if err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return s
}

func env(s types.ServiceConfig, key string) string {
	if v := s.Environment[key]; v != nil {
		return *v
	}
	return ""
}

func TestComposeRoles(t *testing.T) {
	t.Parallel()
	p, err := loadCompose(t, true)
	if err != nil {
		t.Fatalf("compose.yaml does not load: %v", err)
	}
	tests := []struct {
		service  string
		replicas int
	}{
		{"ingest", 2},
		{"counter", 2},
		{"indexer", 1},
		{"live", 2},
		{"archiver", 1},
		{"mqtt", 2},
	}
	var image string
	for _, tt := range tests {
		s := service(t, p, tt.service)
		t.Run(tt.service, func(t *testing.T) {
			if got := s.GetScale(); s.Deploy == nil || s.Deploy.Replicas == nil || got != tt.replicas {
				t.Errorf("deploy.replicas: got %d, want %d", got, tt.replicas)
			}
			if got := env(s, "PULSE_ROLES"); got != tt.service {
				t.Errorf("PULSE_ROLES = %q, want %q", got, tt.service)
			}
			if got := env(s, "PULSE_REDIS_URL"); got != "redis://redis:6379/0" {
				t.Errorf("PULSE_REDIS_URL = %q", got)
			}
			if s.HealthCheck == nil || !slices.Equal([]string(s.HealthCheck.Test), []string{"CMD", "pulse", "health"}) {
				t.Errorf("healthcheck: got %+v, want CMD pulse health", s.HealthCheck)
			}
			if s.Restart != types.RestartPolicyUnlessStopped {
				t.Errorf("restart = %q, want %q", s.Restart, types.RestartPolicyUnlessStopped)
			}
			if s.Build == nil || filepath.Base(s.Build.Dockerfile) != "Dockerfile" {
				t.Errorf("build: got %+v, want the repo's Dockerfile", s.Build)
			}
			if len(s.Ports) != 0 {
				t.Errorf("ports %v: replicas cannot share a host port; only the gateway publishes one", s.Ports)
			}
			if dep, ok := s.DependsOn["redis"]; !ok || dep.Condition != types.ServiceConditionHealthy {
				t.Errorf("depends_on redis: got %+v, want service_healthy", s.DependsOn)
			}
		})
		if image == "" {
			image = s.Image
		} else if s.Image != image {
			t.Errorf("%s runs image %q, others %q: every role must come from one image", tt.service, s.Image, image)
		}
	}
}

func TestComposeRedis(t *testing.T) {
	t.Parallel()
	p, err := loadCompose(t, true)
	if err != nil {
		t.Fatalf("compose.yaml does not load: %v", err)
	}
	s := service(t, p, "redis")
	if i := slices.Index(s.Command, "--appendonly"); i < 0 || i+1 >= len(s.Command) || s.Command[i+1] != "yes" {
		t.Errorf("redis command %q: want --appendonly yes", s.Command)
	}
	if i := slices.Index(s.Command, "--appendfsync"); i < 0 || i+1 >= len(s.Command) || s.Command[i+1] != "everysec" {
		t.Errorf("redis command %q: want --appendfsync everysec by default", s.Command)
	}
	if i := slices.Index(s.Command, "--maxmemory-policy"); i < 0 || i+1 >= len(s.Command) || s.Command[i+1] != "noeviction" {
		t.Errorf("redis command %q: want --maxmemory-policy noeviction", s.Command)
	}
	if !hasVolume(s, "redis-data", "/data") {
		t.Errorf("redis volumes %+v: want the named volume redis-data at /data", s.Volumes)
	}
	if _, ok := p.Volumes["redis-data"]; !ok {
		t.Errorf("top-level volumes %v: redis-data missing", p.VolumeNames())
	}
	if s.HealthCheck == nil || len(s.HealthCheck.Test) == 0 {
		t.Error("redis has no healthcheck")
	}
	if s.Restart == "" || s.Restart == types.RestartPolicyNo {
		t.Errorf("redis restart = %q", s.Restart)
	}
}

// TestComposeArchive: the archiver writes the archive and the counters read old counts from it,
// so both mount the same volume where PULSE_ARCHIVE_URL points.
func TestComposeArchive(t *testing.T) {
	t.Parallel()
	p, err := loadCompose(t, true)
	if err != nil {
		t.Fatalf("compose.yaml does not load: %v", err)
	}
	for _, name := range []string{"archiver", "counter"} {
		s := service(t, p, name)
		if got := env(s, "PULSE_ARCHIVE_URL"); got != "/archive" {
			t.Errorf("%s PULSE_ARCHIVE_URL = %q, want /archive", name, got)
		}
		if !hasVolume(s, "archive-data", "/archive") {
			t.Errorf("%s volumes %+v: want the named volume archive-data at /archive", name, s.Volumes)
		}
	}
	if _, ok := p.Volumes["archive-data"]; !ok {
		t.Errorf("top-level volumes %v: archive-data missing", p.VolumeNames())
	}
}

func TestComposeMeilisearch(t *testing.T) {
	t.Parallel()
	p, err := loadCompose(t, true)
	if err != nil {
		t.Fatalf("compose.yaml does not load: %v", err)
	}
	meili := service(t, p, "meilisearch")
	if !regexp.MustCompile(`^getmeili/meilisearch:v\d+\.\d+(\.\d+)?$`).MatchString(meili.Image) {
		t.Errorf("meilisearch image %q: want a pinned getmeili/meilisearch:vX.Y tag", meili.Image)
	}
	for _, name := range []string{"meilisearch", "indexer"} {
		s := service(t, p, name)
		if !slices.ContainsFunc(s.EnvFiles, func(f types.EnvFile) bool {
			return strings.HasSuffix(filepath.ToSlash(f.Path), "deploy/meili.env") && bool(f.Required)
		}) {
			t.Errorf("%s env_file %+v: want the required deploy/meili.env", name, s.EnvFiles)
		}
	}
	key := env(meili, "MEILI_MASTER_KEY")
	if len(key) < 16 {
		t.Errorf("MEILI_MASTER_KEY from the env file is %q: Meilisearch in production wants ≥ 16 bytes", key)
	}
	if env(meili, "MEILI_ENV") != "production" {
		t.Errorf("MEILI_ENV = %q, want production (a master key is then required)", env(meili, "MEILI_ENV"))
	}
	if !hasVolume(meili, "meili-data", "/meili_data") {
		t.Errorf("meilisearch volumes %+v: want meili-data at /meili_data", meili.Volumes)
	}
	if meili.HealthCheck == nil || len(meili.HealthCheck.Test) == 0 {
		t.Error("meilisearch has no healthcheck")
	}
	idx := service(t, p, "indexer")
	if got := env(idx, "PULSE_MEILI_KEY"); got != key {
		t.Errorf("indexer PULSE_MEILI_KEY = %q, want Meilisearch's master key %q", got, key)
	}
	if got := env(idx, "PULSE_MEILI_URL"); got != "http://meilisearch:7700" {
		t.Errorf("indexer PULSE_MEILI_URL = %q", got)
	}
	if dep, ok := idx.DependsOn["meilisearch"]; !ok || dep.Condition != types.ServiceConditionHealthy {
		t.Errorf("indexer depends_on %+v: want meilisearch healthy", idx.DependsOn)
	}
}

// Without deploy/meili.env compose must refuse to start rather than run Meilisearch keyless.
func TestComposeNeedsMeiliEnvFile(t *testing.T) {
	t.Parallel()
	_, err := loadCompose(t, false)
	if err == nil || !strings.Contains(err.Error(), "meili.env") {
		t.Fatalf("load without deploy/meili.env: err = %v, want one naming meili.env", err)
	}
}

func TestComposeGateway(t *testing.T) {
	t.Parallel()
	p, err := loadCompose(t, true)
	if err != nil {
		t.Fatalf("compose.yaml does not load: %v", err)
	}
	gw := service(t, p, "gateway")
	if len(gw.Ports) != 1 || gw.Ports[0].Target != 8080 || gw.Ports[0].Published != "8080" {
		t.Errorf("gateway ports %+v: want 8080:8080", gw.Ports)
	}
	if !slices.ContainsFunc(gw.Volumes, func(v types.ServiceVolumeConfig) bool {
		return v.Type == types.VolumeTypeBind && filepath.Base(v.Source) == "Caddyfile" && v.ReadOnly
	}) {
		t.Errorf("gateway volumes %+v: want deploy/Caddyfile mounted read-only", gw.Volumes)
	}
	if gw.HealthCheck == nil || gw.Restart == "" {
		t.Errorf("gateway healthcheck %+v restart %q", gw.HealthCheck, gw.Restart)
	}

	caddy, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "deploy/Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	// Each route block of the Caddyfile, by path, must name the role that serves it.
	routes := []struct{ path, role string }{
		{"handle /v1/live*", "live"},
		{"handle /v1/search*", "indexer"},
		{"handle /v1/events", "ingest"},
		{"handle /v1/videos/*", "ingest"},
		{"handle {", "counter"},
	}
	text := string(caddy)
	for _, r := range routes {
		i := strings.Index(text, "\t"+r.path+" ")
		if i < 0 {
			i = strings.Index(text, "\t"+r.path+"\n")
		}
		if i < 0 {
			t.Errorf("Caddyfile has no %q block", r.path)
			continue
		}
		block := text[i:]
		if end := strings.Index(block[1:], "\n\thandle"); end > 0 {
			block = block[:end+1]
		}
		if !strings.Contains(block, "import upstream "+r.role+"\n") {
			t.Errorf("Caddyfile %q does not proxy to %s:\n%s", r.path, r.role, block)
		}
		if _, err := p.GetService(r.role); err != nil {
			t.Errorf("Caddyfile routes to %s, which compose.yaml does not define", r.role)
		}
	}
}

func TestDockerfile(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	var stages []string
	var user string
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && f[0] == "FROM":
			stages = append(stages, f[1])
		case len(f) >= 2 && f[0] == "USER":
			user = f[1]
		}
	}
	if len(stages) < 3 {
		t.Errorf("Dockerfile stages %v: want node build, Go build and runtime", stages)
	}
	for _, want := range []string{"npm ci", "npm run build", "CGO_ENABLED=1 go build", "./cmd/pulse", "distroless/cc"} {
		if !strings.Contains(text, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	if user == "" || user == "root" || strings.HasPrefix(user, "0") {
		t.Errorf("Dockerfile USER %q: the runtime must not be root", user)
	}
	ignore, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"deploy/meili.env", "**/node_modules", ".git"} {
		if !slices.Contains(strings.Split(string(ignore), "\n"), want) {
			t.Errorf(".dockerignore lacks %q", want)
		}
	}
}

func hasVolume(s types.ServiceConfig, source, target string) bool {
	return slices.ContainsFunc(s.Volumes, func(v types.ServiceVolumeConfig) bool {
		return v.Type == types.VolumeTypeVolume && v.Source == source && v.Target == target
	})
}

// The gateway is the only way in, so every Pulse role trusts its X-Forwarded-For (the live
// connection caps count clients by it): the trusted address must be the gateway's, fixed in a
// subnet whose dynamic range the replicas take their addresses from and which excludes it.
func TestComposeTrustedProxies(t *testing.T) {
	t.Parallel()
	p, err := loadCompose(t, true)
	if err != nil {
		t.Fatalf("compose.yaml does not load: %v", err)
	}
	gw := service(t, p, "gateway")
	nc := gw.Networks["default"]
	if nc == nil || nc.Ipv4Address == "" {
		t.Fatalf("gateway networks %+v: want a fixed ipv4_address on the default network", gw.Networks)
	}
	addr, err := netip.ParseAddr(nc.Ipv4Address)
	if err != nil {
		t.Fatalf("gateway ipv4_address %q: %v", nc.Ipv4Address, err)
	}
	pools := p.Networks["default"].Ipam.Config
	if len(pools) != 1 {
		t.Fatalf("default network ipam %+v: want one pool", p.Networks["default"].Ipam)
	}
	subnet, err1 := netip.ParsePrefix(pools[0].Subnet)
	dynamic, err2 := netip.ParsePrefix(pools[0].IPRange)
	if err1 != nil || err2 != nil || !subnet.Contains(addr) || dynamic.Contains(addr) || !subnet.Contains(dynamic.Addr()) {
		t.Errorf("gateway %s, subnet %q, ip_range %q: want the gateway in the subnet and outside the dynamic range", addr, pools[0].Subnet, pools[0].IPRange)
	}
	for _, role := range []string{"ingest", "counter", "indexer", "live", "archiver", "mqtt"} {
		if got := env(service(t, p, role), "PULSE_TRUSTED_PROXIES"); got != addr.String() {
			t.Errorf("%s: PULSE_TRUSTED_PROXIES = %q, want the gateway's %s", role, got, addr)
		}
	}
}

// defaultServices are what `docker compose up` runs: the profile `cluster` must add to them,
// never change them.
var defaultServices = []string{"archiver", "counter", "gateway", "indexer", "ingest", "live", "meilisearch", "mosquitto", "mqtt", "redis"}

var clusterNodes = []string{"redis-cluster-1", "redis-cluster-2", "redis-cluster-3", "redis-cluster-4", "redis-cluster-5", "redis-cluster-6"}

func TestComposeDefaultStackHasNoCluster(t *testing.T) {
	t.Parallel()
	p, err := loadCompose(t, true)
	if err != nil {
		t.Fatalf("compose.yaml does not load: %v", err)
	}
	names := p.ServiceNames()
	slices.Sort(names)
	if !slices.Equal(names, defaultServices) {
		t.Errorf("services without a profile: %v, want %v", names, defaultServices)
	}
	for _, name := range append(slices.Clone(clusterNodes), "redis-cluster-init", "pulse-cluster") {
		if _, ok := p.DisabledServices[name]; !ok {
			t.Errorf("%s: want it defined, in a profile that is off by default", name)
		}
	}
}

// The profile `cluster`: six Redis Cluster nodes (3 masters + 3 replicas), a one-shot init that
// creates the cluster from their fixed addresses, and a pulse on it.
func TestComposeClusterProfile(t *testing.T) {
	t.Parallel()
	p, err := loadCompose(t, true, "cluster")
	if err != nil {
		t.Fatalf("compose.yaml does not load with --profile cluster: %v", err)
	}
	for _, name := range defaultServices {
		if _, err := p.GetService(name); err != nil {
			t.Errorf("--profile cluster: %v", err)
		}
	}
	if got := env(service(t, p, "ingest"), "PULSE_REDIS_URL"); got != "redis://redis:6379/0" {
		t.Errorf("--profile cluster changed the default roles' PULSE_REDIS_URL: %q", got)
	}
	pools := p.Networks["default"].Ipam.Config
	if len(pools) != 1 {
		t.Fatalf("default network ipam %+v: want one pool", p.Networks["default"].Ipam)
	}
	subnet, err1 := netip.ParsePrefix(pools[0].Subnet)
	dynamic, err2 := netip.ParsePrefix(pools[0].IPRange)
	if err1 != nil || err2 != nil {
		t.Fatalf("subnet %q, ip_range %q: %v %v", pools[0].Subnet, pools[0].IPRange, err1, err2)
	}
	gateway := service(t, p, "gateway").Networks["default"].Ipv4Address

	addrs := map[string]string{} // node address → service
	for _, name := range clusterNodes {
		s := service(t, p, name)
		if !slices.Equal(s.Profiles, []string{"cluster"}) {
			t.Errorf("%s profiles %v, want [cluster]", name, s.Profiles)
		}
		if s.Image != "redis:7.4-alpine" {
			t.Errorf("%s image %q", name, s.Image)
		}
		for flag, want := range map[string]string{
			"--cluster-enabled": "yes", "--cluster-config-file": "nodes.conf", "--cluster-node-timeout": "5000",
			"--appendonly": "yes", "--appendfsync": "everysec", "--maxmemory-policy": "noeviction",
		} {
			if i := slices.Index(s.Command, flag); i < 0 || i+1 >= len(s.Command) || s.Command[i+1] != want {
				t.Errorf("%s command %q: want %s %s", name, s.Command, flag, want)
			}
		}
		// nodes.conf is written to the working directory, /data, with the AOF.
		if !hasVolume(s, name+"-data", "/data") {
			t.Errorf("%s volumes %+v: want the named volume %s-data at /data", name, s.Volumes, name)
		}
		if _, ok := p.Volumes[name+"-data"]; !ok {
			t.Errorf("top-level volumes %v: %s-data missing", p.VolumeNames(), name)
		}
		if s.HealthCheck == nil || len(s.HealthCheck.Test) == 0 || s.Restart == "" || s.Restart == types.RestartPolicyNo {
			t.Errorf("%s healthcheck %+v restart %q", name, s.HealthCheck, s.Restart)
		}
		if len(s.Ports) != 0 {
			t.Errorf("%s ports %v: the nodes are reached inside the stack's network only", name, s.Ports)
		}
		// Nodes know each other, and clients get the slot map, by IP: a fixed one per node, in
		// the subnet, outside the range Docker hands out and not the gateway's.
		nc := s.Networks["default"]
		if nc == nil {
			t.Errorf("%s networks %+v: want a fixed ipv4_address on the default network", name, s.Networks)
			continue
		}
		addr, err := netip.ParseAddr(nc.Ipv4Address)
		if err != nil || !subnet.Contains(addr) || dynamic.Contains(addr) || nc.Ipv4Address == gateway {
			t.Errorf("%s ipv4_address %q: want a fixed address in %s, outside %s, not the gateway's %s", name, nc.Ipv4Address, subnet, dynamic, gateway)
		}
		if other, dup := addrs[nc.Ipv4Address]; dup {
			t.Errorf("%s and %s share the address %s", name, other, nc.Ipv4Address)
		}
		addrs[nc.Ipv4Address] = name
	}

	initSvc := service(t, p, "redis-cluster-init")
	script := strings.Join(initSvc.Command, " ")
	for _, want := range []string{"redis-cli --cluster create", "--cluster-replicas 1", "--cluster-yes", "cluster_state:ok"} {
		if !strings.Contains(script, want) {
			t.Errorf("redis-cluster-init command lacks %q:\n%s", want, script)
		}
	}
	// The init names exactly the six nodes' addresses (compose turned $$ into $ and filled in
	// the subnet prefix).
	named := regexp.MustCompile(`\b\d+\.\d+\.\d+\.\d+\b`).FindAllString(script, -1)
	slices.Sort(named)
	named = slices.Compact(named)
	want := make([]string, 0, len(addrs))
	for a := range addrs {
		want = append(want, a)
	}
	slices.Sort(want)
	if !slices.Equal(named, want) {
		t.Errorf("redis-cluster-init creates the cluster from %v, want the nodes' addresses %v", named, want)
	}
	if strings.Contains(script, "$$") {
		t.Errorf("redis-cluster-init command still holds $$ after interpolation:\n%s", script)
	}
	for _, node := range clusterNodes {
		if dep, ok := initSvc.DependsOn[node]; !ok || dep.Condition != types.ServiceConditionHealthy {
			t.Errorf("redis-cluster-init depends_on %+v: want %s healthy", initSvc.DependsOn, node)
		}
	}
	if initSvc.Restart != types.RestartPolicyNo {
		t.Errorf("redis-cluster-init restart %q: a one-shot, want no", initSvc.Restart)
	}

	pc := service(t, p, "pulse-cluster")
	if pc.Image != service(t, p, "ingest").Image {
		t.Errorf("pulse-cluster image %q: want the roles' image", pc.Image)
	}
	var seeds []string
	for _, u := range strings.Split(env(pc, "PULSE_REDIS_URL"), ",") {
		seeds = append(seeds, strings.TrimSuffix(strings.TrimPrefix(u, "redis://"), ":6379"))
	}
	if !slices.Equal(seeds, clusterNodes) {
		t.Errorf("pulse-cluster PULSE_REDIS_URL = %q: want redis://<node>:6379 for each of %v", env(pc, "PULSE_REDIS_URL"), clusterNodes)
	}
	if got := env(pc, "PULSE_ROLES"); got != "all" {
		t.Errorf("pulse-cluster PULSE_ROLES = %q, want all", got)
	}
	if dep, ok := pc.DependsOn["redis-cluster-init"]; !ok || dep.Condition != types.ServiceConditionCompletedSuccessfully {
		t.Errorf("pulse-cluster depends_on %+v: want redis-cluster-init completed successfully", pc.DependsOn)
	}
	if _, ok := pc.DependsOn["redis"]; ok {
		t.Errorf("pulse-cluster depends_on %+v: not on the single redis", pc.DependsOn)
	}
	// Published beside the gateway's 8080, so that both stacks can run at once;
	// `go tool task up -- cluster` runs it alone and sets PULSE_CLUSTER_HTTP_PORT=8080.
	if len(pc.Ports) != 1 || pc.Ports[0].Target != 8080 || pc.Ports[0].Published != "8081" {
		t.Errorf("pulse-cluster ports %+v: want 8081:8080", pc.Ports)
	}
	if !hasVolume(pc, "pulse-cluster-data", "/data") {
		t.Errorf("pulse-cluster volumes %+v: want pulse-cluster-data at /data (embedded search index)", pc.Volumes)
	}
	if pc.HealthCheck == nil || !slices.Equal([]string(pc.HealthCheck.Test), []string{"CMD", "pulse", "health"}) {
		t.Errorf("pulse-cluster healthcheck %+v: want CMD pulse health", pc.HealthCheck)
	}
}

// TestComposeMQTT: the mqtt role reaches the stack's Mosquitto once it is healthy, keeps its
// client slots in a volume (a recreated container takes its broker session back), and the
// broker's config neither forgets sessions on restart nor drops queued QoS 1 messages.
func TestComposeMQTT(t *testing.T) {
	t.Parallel()
	p, err := loadCompose(t, true)
	if err != nil {
		t.Fatalf("compose.yaml does not load: %v", err)
	}
	s := service(t, p, "mqtt")
	if got := env(s, "PULSE_MQTT_URL"); got != "mqtt://mosquitto:1883" {
		t.Errorf("PULSE_MQTT_URL = %q, want mqtt://mosquitto:1883", got)
	}
	if dep, ok := s.DependsOn["mosquitto"]; !ok || dep.Condition != types.ServiceConditionHealthy {
		t.Errorf("depends_on mosquitto: got %+v, want service_healthy", s.DependsOn)
	}
	if !slices.ContainsFunc(s.Volumes, func(v types.ServiceVolumeConfig) bool { return v.Type == "volume" && v.Target == "/data" }) {
		t.Errorf("volumes %+v: want a named volume at /data (the data folder holding the client slots)", s.Volumes)
	}
	conf, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "deploy", "mosquitto.conf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"persistence true", "max_queued_messages 0"} {
		if !strings.Contains(string(conf), "\n"+want+"\n") {
			t.Errorf("deploy/mosquitto.conf lacks %q", want)
		}
	}
}
