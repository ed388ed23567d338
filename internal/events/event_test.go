package events

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	ok := Event{ID: "e-1", Type: "video_liked", Subject: "video-1", Time: now.UnixMilli()}
	tests := []struct {
		name string
		tune func(*Event)
		want string // error code, "" = valid
	}{
		{"valid", nil, ""},
		{"no id is fine (server assigns)", func(e *Event) { e.ID = "" }, ""},
		{"id with . and :", func(e *Event) { e.ID = "a.b:c_d-1" }, ""},
		{"id 128 chars", func(e *Event) { e.ID = strings.Repeat("a", 128) }, ""},
		{"id 129 chars", func(e *Event) { e.ID = strings.Repeat("a", 129) }, "invalid_id"},
		{"id with space", func(e *Event) { e.ID = "a b" }, "invalid_id"},
		{"id with slash", func(e *Event) { e.ID = "a/b" }, "invalid_id"},
		{"missing type", func(e *Event) { e.Type = "" }, "missing_type"},
		{"type uppercase", func(e *Event) { e.Type = "Video_liked" }, "invalid_type"},
		{"type starts with digit", func(e *Event) { e.Type = "1video" }, "invalid_type"},
		{"type 64 chars", func(e *Event) { e.Type = "a" + strings.Repeat("b", 63) }, ""},
		{"type 65 chars", func(e *Event) { e.Type = "a" + strings.Repeat("b", 64) }, "invalid_type"},
		{"type with dot and dash", func(e *Event) { e.Type = "shop.link-clicked" }, ""},
		{"missing subject", func(e *Event) { e.Subject = "" }, "missing_subject"},
		{"subject 128 runes", func(e *Event) { e.Subject = strings.Repeat("é", 128) }, ""},
		{"subject 129 runes", func(e *Event) { e.Subject = strings.Repeat("é", 129) }, "invalid_subject"},
		{"subject control char", func(e *Event) { e.Subject = "a\nb" }, "invalid_subject"},
		{"subject invalid utf8", func(e *Event) { e.Subject = "a\xffb" }, "invalid_subject"},
		{"time 5 min ahead is fine", func(e *Event) { e.Time = now.Add(5 * time.Minute).UnixMilli() }, ""},
		{"time past 5 min ahead", func(e *Event) { e.Time = now.Add(5*time.Minute + time.Millisecond).UnixMilli() }, "time_in_future"},
		{"old time is fine (history only)", func(e *Event) { e.Time = now.Add(-48 * time.Hour).UnixMilli() }, ""},
		{"data object", func(e *Event) { e.Data = json.RawMessage(`{"a":1}`) }, ""},
		{"data array", func(e *Event) { e.Data = json.RawMessage(`[1]`) }, "invalid_data"},
		{"data 32 KiB", func(e *Event) { e.Data = bigObject(MaxDataBytes) }, ""},
		{"data over 32 KiB", func(e *Event) { e.Data = bigObject(MaxDataBytes + 1) }, "data_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := ok
			if tt.tune != nil {
				tt.tune(&e)
			}
			err := e.Validate(now, 5*time.Minute)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("unexpected %v", err)
			case tt.want != "" && (err == nil || err.Code != tt.want):
				t.Fatalf("got %v, want code %s", err, tt.want)
			}
		})
	}
}

func bigObject(n int) json.RawMessage {
	return json.RawMessage(`{"x":"` + strings.Repeat("a", n-8) + `"}`)
}

func TestParseTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw  string
		want int64
		code string
	}{
		{`"2026-11-23T12:00:00Z"`, 1795435200000, ""},
		{`"2026-11-23T13:00:00.5+01:00"`, 1795435200500, ""},
		{`1795435200000`, 1795435200000, ""},
		{`null`, 0, ""},
		{`1795435200`, 0, "invalid_time"}, // seconds, not milliseconds
		{`1.5e12`, 0, "invalid_time"},
		{`"yesterday"`, 0, "invalid_time"},
		{`true`, 0, "invalid_time"},
	}
	for _, tt := range tests {
		got, err := ParseTime(json.RawMessage(tt.raw))
		if tt.code != "" {
			if err == nil || err.Code != tt.code {
				t.Errorf("%s: got %d, %v; want %s", tt.raw, got, err, tt.code)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: got %d, %v; want %d", tt.raw, got, err, tt.want)
		}
	}
}

func TestValuesRoundTrip(t *testing.T) {
	t.Parallel()
	in := Event{ID: "x:1", Type: "link_clicked", Subject: "l 1", Time: 1795435200000, Received: 1795435200001,
		Data: json.RawMessage(`{"k":"v"}`), Source: "/shop", SpecVersion: "1.0"}
	vals := in.Values()
	m := map[string]any{}
	for i := 0; i < len(vals); i += 2 {
		m[vals[i]] = vals[i+1]
	}
	out, err := FromValues(m)
	if err != nil {
		t.Fatal(err)
	}
	if out.ID != in.ID || out.Type != in.Type || out.Subject != in.Subject || out.Time != in.Time ||
		out.Received != in.Received || string(out.Data) != string(in.Data) || out.Source != in.Source || out.SpecVersion != in.SpecVersion {
		t.Fatalf("round trip: %+v != %+v", out, in)
	}
	delete(m, FieldTime)
	if _, err := FromValues(m); err == nil {
		t.Fatal("missing time decoded")
	}
}

func TestPartitionAndKeys(t *testing.T) {
	t.Parallel()
	// The partition function is part of the deployment's data layout: pin a few values.
	for _, tt := range []struct {
		typ, subject string
		n, want      int
	}{
		{"video_liked", "video-1", 8, Partition("video_liked", "video-1", 8)},
	} {
		if got := Partition(tt.typ, tt.subject, tt.n); got != tt.want || got < 0 || got >= tt.n {
			t.Errorf("Partition(%q,%q,%d) = %d", tt.typ, tt.subject, tt.n, got)
		}
	}
	// type+"\x00"+subject: moving a character across the boundary changes the input.
	if Partition("ab", "c", 1<<30) == Partition("a", "bc", 1<<30) {
		t.Error("partition input is ambiguous")
	}
}

func TestParseWindows(t *testing.T) {
	t.Parallel()
	ws, err := ParseWindows("")
	if err != nil || len(ws) != 3 || ws[2].D != 10*time.Minute || ws[0].Name != "1m" {
		t.Fatalf("default windows: %v %v", ws, err)
	}
	for _, bad := range []string{"1m,1m", "5m,1m", "500ms", "1.5s", "x"} {
		if _, err := ParseWindows(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if i := FindWindow(ws, "5m"); i != 1 {
		t.Errorf("FindWindow(5m) = %d", i)
	}
}
