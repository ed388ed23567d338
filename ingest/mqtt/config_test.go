package mqtt_test

import (
	"strings"
	"testing"

	"github.com/pulsehq/pulse/ingest/mqtt"
)

// TestConfig: a misconfigured intake is refused when the process starts, naming the setting.
func TestConfig(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		cfg  mqtt.Config
		want string // in the error; "" = accepted
	}{
		{"plain", mqtt.Config{URL: "mqtt://127.0.0.1", ClientID: "a"}, ""},
		{"tls with credentials", mqtt.Config{URL: "mqtts://u:p@broker.example:8883", SlotDir: t.TempDir()}, ""},
		{"no url", mqtt.Config{ClientID: "a"}, "want mqtt://host"},
		{"http url", mqtt.Config{URL: "http://127.0.0.1:1883", ClientID: "a"}, "want mqtt://host"},
		{"malformed url", mqtt.Config{URL: "mqtt://[::1", ClientID: "a"}, "url"},
		{"no id nor slots", mqtt.Config{URL: "mqtt://127.0.0.1"}, "client id or a slot folder"},
		{"in flight", mqtt.Config{URL: "mqtt://127.0.0.1", ClientID: "a", InFlight: 70_000}, "in flight"},
		{"session expiry", mqtt.Config{URL: "mqtt://127.0.0.1", ClientID: "a", SessionExpiry: 1}, "session expiry"},
	}
	for _, c := range cases {
		_, err := mqtt.New(nil, nil, c.cfg)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: error %v, want one saying %q", c.name, err, c.want)
		}
	}
}
