package loadgen

import (
	"encoding/json"
	"strconv"
	"testing"
)

func TestAppendBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		picks []int
		ids   bool
	}{
		{"single", []int{1}, false},
		{"single with id", []int{0}, true},
		{"batch", []int{0, 2, 2, 1}, false},
		{"batch with ids", []int{2, 2, 0}, true},
	}
	cfg := Config{Type: "bench_liked", Prefix: "q.x:-"}
	subjects := make([][]byte, 3)
	for rank := range subjects {
		subjects[rank], _ = json.Marshal(cfg.Prefix + strconv.Itoa(rank))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &sender{cfg: cfg, subjects: subjects}
			s.cfg.IDs = tt.ids
			body := s.appendBody(nil, tt.picks, 3, 41)
			type event struct{ ID, Type, Subject string }
			var evs []event
			if len(tt.picks) == 1 {
				var e event
				if err := json.Unmarshal(body, &e); err != nil {
					t.Fatalf("%s: %v", body, err)
				}
				evs = []event{e}
			} else if err := json.Unmarshal(body, &evs); err != nil {
				t.Fatalf("%s: %v", body, err)
			}
			if len(evs) != len(tt.picks) {
				t.Fatalf("%d events, want %d", len(evs), len(tt.picks))
			}
			ids := map[string]bool{}
			for i, e := range evs {
				if e.Type != cfg.Type || e.Subject != cfg.Prefix+strconv.Itoa(tt.picks[i]) {
					t.Errorf("event %d = %+v", i, e)
				}
				if tt.ids == (e.ID == "") {
					t.Errorf("event %d id %q with ids=%v", i, e.ID, tt.ids)
				}
				if e.ID != "" && ids[e.ID] {
					t.Errorf("id %q repeats within a request", e.ID)
				}
				ids[e.ID] = true
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{"minimal", Config{URL: "http://127.0.0.1:8080"}, false},
		{"no url", Config{}, true},
		{"not http", Config{URL: "ftp://x"}, true},
		{"bad type", Config{URL: "http://x:1", Type: "Bad Type"}, true},
		{"negative rate", Config{URL: "http://x:1", Rate: -1}, true},
		{"negative zipf", Config{URL: "http://x:1", Zipf: -0.5}, true},
		{"too many subjects", Config{URL: "http://x:1", Subjects: maxSubjects + 1}, true},
		{"bad prefix", Config{URL: "http://x:1", Prefix: "has space"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := tt.cfg.withDefaults()
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if c.Type != "bench_liked" || c.Subjects != 100 || c.Batch != 1 || c.Concurrency != 64 ||
				c.Track != 100 || c.Prefix == "" || c.Seed == 0 || c.Duration <= 0 || c.Settle <= 0 {
				t.Errorf("defaults not filled: %+v", c)
			}
		})
	}
}
