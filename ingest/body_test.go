package ingest

import (
	"testing"

	"github.com/pulsehq/pulse/internal/events"
)

func TestFormatOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		contentType string
		want        format
		code        string // of the refusal
	}{
		{"application/json", formatJSON, ""},
		{"Application/JSON", formatJSON, ""},
		{"application/json; charset=UTF-8", formatJSON, ""},
		{`application/json; charset="utf-8"`, formatJSON, ""},
		{"application/json;charset=us-ascii", formatJSON, ""},
		{"application/json; version=2", formatJSON, ""},
		{"application/x-ndjson", formatNDJSON, ""},
		{"application/cloudevents+json; charset=utf-8", formatObject, ""},
		{"application/cloudevents-batch+json", formatArray, ""},
		{"", 0, "unsupported_media_type"},
		{"text/plain", 0, "unsupported_media_type"},
		{"application/json; charset=iso-8859-1", 0, "unsupported_charset"},
		{"application/json; charset", 0, "unsupported_media_type"},
		{"application/", 0, "unsupported_media_type"},
		{"application/json; charset=utf-8; charset=latin1", 0, "unsupported_media_type"},
	} {
		t.Run(tc.contentType, func(t *testing.T) {
			t.Parallel()
			got, err := formatOf(tc.contentType)
			if tc.code == "" {
				if err != nil || got != tc.want {
					t.Fatalf("formatOf = %v, %v; want %v", got, err, tc.want)
				}
				return
			}
			e, ok := err.(*events.Error)
			if !ok || e.Code != tc.code || e.Kind != events.KindUnsupported {
				t.Fatalf("formatOf error = %#v, want code %s", err, tc.code)
			}
		})
	}
}

// The Content-Type of every request is parsed: this is the cost per request.
func BenchmarkFormatOf(b *testing.B) {
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "application/json; charset=utf-8; v=1"} {
		b.Run(ct, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := formatOf(ct); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
