package integration

import (
	"net/http"
	"testing"
)

func TestStartServesHealth(t *testing.T) {
	t.Parallel()
	EachMode(t, func(t *testing.T, m Mode) {
		p := StartMode(t, m, nil)
		for _, path := range []string{"/healthz", "/readyz"} {
			res, err := http.Get(p.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Errorf("%s: %d", path, res.StatusCode)
			}
		}
	})
}
