package testenv

import (
	"net/http/httptest"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// StartS3 serves an S3-compatible API on loopback (gofakes3, in memory) with one bucket, and
// returns the archive URL of that bucket. It sets the AWS credential variables, so a test
// that calls it cannot run in parallel with others.
func StartS3(t testing.TB, bucket string) string {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(bucket); err != nil {
		t.Fatalf("s3: create bucket: %v", err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "pulse")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "pulse-secret")
	// gofakes3 takes no streamed (aws-chunked) checksums: ask the SDK for them only when an
	// API requires one, as for other S3-compatible servers that lack them.
	return "s3://" + bucket + "?endpoint=" + srv.URL + "&region=us-east-1&use_path_style=true&request_checksum_calculation=when_required&response_checksum_validation=when_required"
}
