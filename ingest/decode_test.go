package ingest

import (
	"errors"
	"strings"
	"testing"
)

func TestDecode(t *testing.T) {
	t.Parallel()
	type want struct {
		ids  []string // "" for an item without id
		errs []string // per item: "" or the item's error code
	}
	cases := []struct {
		name   string
		f      format
		body   string
		want   want
		syntax bool // the whole body is refused
	}{
		{"json object", formatJSON, `{"id":"a","type":"t","subject":"s"}`, want{ids: []string{"a"}, errs: []string{""}}, false},
		{"json array", formatJSON, ` [ {"id":"a"} , {"id":"b"} ] `, want{ids: []string{"a", "b"}, errs: []string{"", ""}}, false},
		{"json empty array", formatJSON, `[]`, want{}, false},
		{"json empty body", formatJSON, "  \n", want{}, false},
		{"json non-object items", formatJSON, `[1, "x", null, {"id":"c"}, [ ]]`,
			want{ids: []string{"", "", "", "c", ""}, errs: []string{"invalid_event", "invalid_event", "invalid_event", "", "invalid_event"}}, false},
		{"json scalar", formatJSON, `42`, want{}, true},
		{"json truncated", formatJSON, `[{"id":"a"`, want{}, true},
		{"json trailing data", formatJSON, `{"id":"a"} {}`, want{}, true},
		{"json trailing comma", formatJSON, `[{"id":"a"},]`, want{}, true},
		{"json bad escape", formatJSON, `{"id":"\x"}`, want{}, true},
		{"json control char", formatJSON, "{\"id\":\"a\tb\"}", want{}, true},
		{"json bad number", formatJSON, `{"time":01}`, want{}, true},
		{"json single quotes", formatJSON, `{'id':'a'}`, want{}, true},
		{"ndjson", formatNDJSON, "{\"id\":\"a\"}\n\n  {\"id\":\"b\"}\r\n{\"id\":\"c\"}", want{ids: []string{"a", "b", "c"}, errs: []string{"", "", ""}}, false},
		{"ndjson bad line", formatNDJSON, "{\"id\":\"a\"}\n{\"id\":\n[1]\n{\"id\":\"d\"} x", want{ids: []string{"a", "", "", ""},
			errs: []string{"", "malformed_event", "invalid_event", "malformed_event"}}, false},
		{"cloudevent", formatObject, `{"specversion":"1.0","id":"a","source":"/s","type":"t","subject":"s"}`, want{ids: []string{"a"}, errs: []string{""}}, false},
		{"cloudevent array refused", formatObject, `[{"id":"a"}]`, want{}, true},
		{"cloudevent batch", formatArray, `[{"id":"a"},{"id":"b"}]`, want{ids: []string{"a", "b"}, errs: []string{"", ""}}, false},
		{"cloudevent batch object refused", formatArray, `{"id":"a"}`, want{}, true},
		{"escaped key", formatJSON, `{"\u0069d":"a"}`, want{ids: []string{"a"}, errs: []string{""}}, false},
		{"escaped value", formatJSON, `{"id":"a\u002db"}`, want{ids: []string{"a-b"}, errs: []string{""}}, false},
		{"last key wins", formatJSON, `{"id":"a","id":"b"}`, want{ids: []string{"b"}, errs: []string{""}}, false},
		{"unknown fields ignored", formatJSON, `{"x":{"y":[1,2,{"z":null}]},"id":"a","n":-1.5e3,"b":true}`, want{ids: []string{"a"}, errs: []string{""}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			items, err := decode(tc.f, tc.body, 1000, nil)
			var se *syntaxError
			if tc.syntax {
				if !errors.As(err, &se) {
					t.Fatalf("err = %v, want a syntax error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if len(items) != len(tc.want.ids) {
				t.Fatalf("%d items, want %d", len(items), len(tc.want.ids))
			}
			for i, it := range items {
				if it.ev.ID != tc.want.ids[i] {
					t.Errorf("item %d: id %q, want %q", i, it.ev.ID, tc.want.ids[i])
				}
				code := ""
				if it.err != nil {
					code = it.err.Code
				}
				if code != tc.want.errs[i] {
					t.Errorf("item %d: error %q, want %q", i, code, tc.want.errs[i])
				}
				if it.raw == "" {
					t.Errorf("item %d: no raw text", i)
				}
			}
		})
	}
}

func TestDecodeBatchLimit(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		f    format
		body string
	}{
		{"json", formatJSON, "[" + strings.Repeat(`{},`, 3) + "{}]"},
		{"ndjson", formatNDJSON, strings.Repeat("{}\n", 4)},
		{"cloudevents batch", formatArray, "[1,2,3,4]"},
	}
	for _, tc := range cases {
		if _, err := decode(tc.f, tc.body, 4, nil); err != nil {
			t.Errorf("%s: 4 items at limit 4: %v", tc.name, err)
		}
		if _, err := decode(tc.f, tc.body, 3, nil); !errors.Is(err, errTooMany) {
			t.Errorf("%s: 4 items at limit 3: err = %v, want errTooMany", tc.name, err)
		}
	}
}

func TestDecodeDepthLimit(t *testing.T) {
	t.Parallel()
	nest := func(n int) string { return `{"data":` + strings.Repeat("[", n-1) + strings.Repeat("]", n-1) + "}" }
	if _, err := decode(formatJSON, nest(maxDepth), 1, nil); err != nil {
		t.Errorf("depth %d: %v", maxDepth, err)
	}
	if _, err := decode(formatJSON, nest(maxDepth+1), 1, nil); err == nil {
		t.Errorf("depth %d accepted", maxDepth+1)
	}
}
