package testenv

import (
	"context"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// MeiliImage is the Meilisearch image tests run, pinned like the compose stack's.
const MeiliImage = "getmeili/meilisearch:v1.16"

// StartMeili runs Meilisearch in a container for the test and returns its URL and master key.
// Without a Docker daemon (there is no local binary to fall back on) it skips the test, saying
// so: callers run the same checks against the embedded engine.
func StartMeili(t testing.TB) (url, key string) {
	t.Helper()
	ctx := context.Background()
	if !DockerAvailable(ctx) {
		t.Skip("SKIPPED ENGINE meilisearch: no Docker daemon answers (Meilisearch runs only in a container)")
	}
	key = "pulse-test-master-key-0123456789"
	ctr, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:        MeiliImage,
			ExposedPorts: []string{"7700/tcp"},
			Env:          map[string]string{"MEILI_MASTER_KEY": key, "MEILI_NO_ANALYTICS": "true", "MEILI_ENV": "development"},
			WaitingFor:   wait.ForHTTP("/health").WithPort("7700/tcp").WithStartupTimeout(90 * time.Second),
		},
		Started: true,
	})
	testcontainers.CleanupContainer(t, ctr)
	if err != nil {
		t.Fatalf("meilisearch container: %v", err)
	}
	url, err = ctr.PortEndpoint(ctx, "7700/tcp", "http")
	if err != nil {
		t.Fatalf("meilisearch container: %v", err)
	}
	t.Logf("testenv: meilisearch in a testcontainers container at %s", url)
	return url, key
}
