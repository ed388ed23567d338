package httpapi

import (
	"strings"
	"testing"

	"github.com/pulsehq/pulse/internal/events"
)

func TestCheckJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		contentType string
		code        string // "" = accepted
	}{
		{"application/json", ""},
		{"application/json; charset=utf-8", ""},
		{"Application/JSON; charset=\"UTF-8\"", ""},
		{"", "unsupported_media_type"}, // a bodiless cross-site form post has none
		{"text/plain", "unsupported_media_type"},
		{"text/plain;charset=UTF-8", "unsupported_media_type"}, // fetch(url, {body: string})
		{"application/x-www-form-urlencoded", "unsupported_media_type"},
		{"multipart/form-data; boundary=x", "unsupported_media_type"},
		{"application/jsonx", "unsupported_media_type"},
		{"application/json; charset=latin1", "unsupported_charset"},
		{"application/json;;", "unsupported_media_type"},
	} {
		err := CheckJSON(tc.contentType)
		switch {
		case tc.code == "" && err != nil:
			t.Errorf("%q refused: %v", tc.contentType, err)
		case tc.code != "" && (err == nil || err.Kind != events.KindUnsupported || err.Code != tc.code):
			t.Errorf("%q: %v, want 415 %s", tc.contentType, err, tc.code)
		}
	}
}

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	type req struct {
		All bool `json:"all"`
	}
	for _, tc := range []struct {
		body string
		ok   bool
	}{
		{`{"all":true}`, true},
		{" {\"all\":true}\n\t ", true},
		{`{"all":true}=`, false}, // a text/plain form field named {"all":true}
		{`{"all":true}{}`, false},
		{`{"all":true} []`, false},
		{`{"all":true,"x":1}`, false},
		{``, false},
		{`{"all":`, false},
	} {
		var v req
		err := DecodeJSON(strings.NewReader(tc.body), &v, `{"all": true}`)
		switch {
		case tc.ok && (err != nil || !v.All):
			t.Errorf("%q: %v %+v, want it decoded", tc.body, err, v)
		case !tc.ok && (err == nil || err.Kind != events.KindInvalid || err.Code != "invalid_body"):
			t.Errorf("%q: %v, want 400 invalid_body", tc.body, err)
		}
	}
}
