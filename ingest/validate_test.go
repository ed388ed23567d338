package ingest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pulsehq/pulse/internal/events"
)

// TestValidate covers every rule of the event table (shared/design.md) as it applies to a
// decoded item: one case per rule and boundary, answered with the rule's stable code.
func TestValidate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	nowMs := now.UnixMilli()
	ev := func(fields string) string { return `{"type":"video_liked","subject":"v1"` + fields + `}` }
	cases := []struct {
		name string
		body string
		code string // "" = valid
		time int64  // expected event time when valid (0: not checked)
	}{
		{"minimal", ev(``), "", nowMs},
		{"id ok", ev(`,"id":"aZ09._:-"`), "", 0},
		{"id 128 chars", ev(`,"id":"` + strings.Repeat("a", 128) + `"`), "", 0},
		{"id 129 chars", ev(`,"id":"` + strings.Repeat("a", 129) + `"`), "invalid_id", 0},
		{"id empty", ev(`,"id":""`), "invalid_id", 0},
		{"id bad char", ev(`,"id":"a/b"`), "invalid_id", 0},
		{"id space", ev(`,"id":"a b"`), "invalid_id", 0},
		{"id number", ev(`,"id":7`), "invalid_id", 0},
		{"id null is absent", ev(`,"id":null`), "", 0},
		{"type missing", `{"subject":"v1"}`, "missing_type", 0},
		{"type null", `{"type":null,"subject":"v1"}`, "missing_type", 0},
		{"type empty", `{"type":"","subject":"v1"}`, "missing_type", 0},
		{"type uppercase", `{"type":"Video_liked","subject":"v1"}`, "invalid_type", 0},
		{"type digit first", `{"type":"1liked","subject":"v1"}`, "invalid_type", 0},
		{"type 64 chars", `{"type":"a` + strings.Repeat("b", 63) + `","subject":"v1"}`, "", 0},
		{"type 65 chars", `{"type":"a` + strings.Repeat("b", 64) + `","subject":"v1"}`, "invalid_type", 0},
		{"type dots and dashes", `{"type":"a.b-c_d9","subject":"v1"}`, "", 0},
		{"type number", `{"type":5,"subject":"v1"}`, "invalid_type", 0},
		{"subject missing", `{"type":"t"}`, "missing_subject", 0},
		{"subject empty", `{"type":"t","subject":""}`, "missing_subject", 0},
		{"subject 128 runes", `{"type":"t","subject":"` + strings.Repeat("é", 128) + `"}`, "", 0},
		{"subject 129 runes", `{"type":"t","subject":"` + strings.Repeat("é", 129) + `"}`, "invalid_subject", 0},
		{"subject control char", `{"type":"t","subject":"a\u0007b"}`, "invalid_subject", 0},
		{"subject newline", `{"type":"t","subject":"a\nb"}`, "invalid_subject", 0},
		{"subject object", `{"type":"t","subject":{}}`, "invalid_subject", 0},
		{"subject unicode ok", `{"type":"t","subject":"vidéo 🎬"}`, "", 0},
		{"time rfc3339", ev(`,"time":"2026-05-01T11:59:00Z"`), "", nowMs - 60_000},
		{"time rfc3339 offset", ev(`,"time":"2026-05-01T13:59:00+02:00"`), "", nowMs - 60_000},
		{"time millis", ev(fmt.Sprintf(`,"time":%d`, nowMs-1)), "", nowMs - 1},
		{"time millis as string", ev(fmt.Sprintf(`,"time":"%d"`, nowMs-1)), "", nowMs - 1},
		{"time null is absent", ev(`,"time":null`), "", nowMs},
		{"time seconds by mistake", ev(`,"time":1700000000`), "invalid_time", 0},
		{"time float", ev(`,"time":1.7e12`), "invalid_time", 0},
		{"time bool", ev(`,"time":true`), "invalid_time", 0},
		{"time garbage", ev(`,"time":"yesterday"`), "invalid_time", 0},
		{"time 5 min ahead", ev(fmt.Sprintf(`,"time":%d`, nowMs+5*60_000)), "", 0},
		{"time over 5 min ahead", ev(fmt.Sprintf(`,"time":%d`, nowMs+5*60_000+1)), "time_in_future", 0},
		{"time old is fine", ev(`,"time":"2020-01-01T00:00:00Z"`), "", 0},
		{"data object", ev(`,"data":{"a":[1,{"b":null}]}`), "", 0},
		{"data null is absent", ev(`,"data":null`), "", 0},
		{"data array", ev(`,"data":[1]`), "invalid_data", 0},
		{"data string", ev(`,"data":"x"`), "invalid_data", 0},
		{"data 32 KiB", ev(`,"data":{"k":"` + strings.Repeat("x", events.MaxDataBytes-8) + `"}`), "", 0},
		{"data over 32 KiB", ev(`,"data":{"k":"` + strings.Repeat("x", events.MaxDataBytes-7) + `"}`), "data_too_large", 0},
		{"source string", ev(`,"source":"/app","specversion":"1.0"`), "", 0},
		{"source number", ev(`,"source":1`), "invalid_source", 0},
		{"specversion number", ev(`,"specversion":1.0`), "invalid_specversion", 0},
		{"unknown fields ignored", ev(`,"extra":{"x":1},"ID":5`), "", 0},
		{"first rule wins", `{"id":"a b","type":"T"}`, "invalid_id", 0},
	}
	cfg := DefaultConfig()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			items, err := decode(formatJSON, tc.body, 1, nil)
			if err != nil || len(items) != 1 {
				t.Fatalf("decode: %v (%d items)", err, len(items))
			}
			it := &items[0]
			it.check(now, &cfg)
			switch {
			case tc.code == "" && it.err != nil:
				t.Fatalf("rejected with %s: %s", it.err.Code, it.err.Message)
			case tc.code != "" && it.err == nil:
				t.Fatalf("accepted, want %s", tc.code)
			case tc.code != "" && it.err.Code != tc.code:
				t.Fatalf("code %s (%s), want %s", it.err.Code, it.err.Message, tc.code)
			case tc.code != "":
				if it.status != rejected {
					t.Errorf("status %s, want rejected", statusNames[it.status])
				}
				return
			}
			if tc.time != 0 && it.ev.Time != tc.time {
				t.Errorf("time %d, want %d", it.ev.Time, tc.time)
			}
			if it.ev.Received != nowMs {
				t.Errorf("received %d, want %d", it.ev.Received, nowMs)
			}
			if !events.ValidID(it.ev.ID) {
				t.Errorf("id %q is not valid", it.ev.ID)
			}
			if want := cfg.Layout.Partition(it.ev.Type, it.ev.Subject); it.part != want {
				t.Errorf("partition %d, want %d", it.part, want)
			}
			if it.idSet != (it.key != "") {
				t.Errorf("client id %v but dedupe key %q", it.idSet, it.key)
			}
		})
	}
}

func TestServerIDsAreULIDs(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	items, _ := decode(formatJSON, `[{"type":"t","subject":"s"},{"type":"t","subject":"s"}]`, 2, nil)
	for i := range items {
		items[i].check(time.Now(), &cfg)
	}
	a, b := items[0].ev.ID, items[1].ev.ID
	if len(a) != 26 || a == b || items[0].key != "" {
		t.Fatalf("server ids %q, %q (key %q): want distinct ULIDs without a dedupe key", a, b, items[0].key)
	}
}
