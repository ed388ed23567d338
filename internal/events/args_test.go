package events

import (
	"encoding/json"
	"fmt"
	"testing"
)

// AppendArgs must lay an event out exactly as Values does: readers decode both with FromValues.
func TestAppendArgsMatchesValues(t *testing.T) {
	t.Parallel()
	cases := []Event{
		{ID: "e-1", Type: "video_liked", Subject: "v1", Time: 1790000000000, Received: 1790000000001},
		{ID: "e-2", Type: "video_liked", Subject: "v1", Time: 1, Received: 2, Data: json.RawMessage(`{"a":1}`),
			Source: "/app", SpecVersion: "1.0"},
		{ID: "e-3", Type: "t", Subject: "s", Source: "only-source"},
	}
	for _, e := range cases {
		want := e.Values()
		args := e.AppendArgs(nil)
		if len(args) != len(want) {
			t.Fatalf("%s: %d args, Values has %d", e.ID, len(args), len(want))
		}
		for i, a := range args {
			var got string
			switch v := a.(type) {
			case string:
				got = v
			case *string:
				got = *v
			case *int64:
				got = fmt.Sprint(*v)
			case []byte:
				got = string(v)
			default:
				t.Fatalf("%s: arg %d has type %T", e.ID, i, a)
			}
			if got != want[i] {
				t.Errorf("%s: arg %d = %q, Values has %q", e.ID, i, got, want[i])
			}
		}
	}
}
