// Package archive is Pulse's long-term record: every event as a row of a Parquet file, in
// Hive-style hour folders, on a local folder or an S3-compatible bucket. The archiver stage
// writes it; counts over any range, replays and history rebuilds read it (Engine).
package archive

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/s3blob" // s3:// URLs
	"gocloud.dev/gcerrors"
)

// Store is where the archive's files live. Every file is written whole under a name no reader
// looks at and appears under its final name only once durable, so a reader (or a restarted
// archiver) never sees part of one.
type Store struct {
	bucket *blob.Bucket
	dir    string // the folder of a file store; "" for a bucket
	cache  string // local copies of a bucket's files, for queries
	name   string // the URL without credentials, for logs
}

// staging holds a file store's files while they are written: outside events/, so no query
// glob and no listing meets them, and on the same file system, so the rename is atomic.
const staging = ".staging"

// Open opens the store at rawURL: a path or file:///path (a folder, created if missing), or
// s3://bucket?endpoint=…&region=…&use_path_style=true (gocloud.dev/blob/s3blob; credentials
// from the usual AWS variables). cacheDir keeps local copies of a bucket's files for queries.
func Open(ctx context.Context, rawURL, cacheDir string) (*Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("archive url: %w", err)
	}
	if u.Scheme == "" || u.Scheme == "file" {
		dir := rawURL
		if u.Scheme == "file" {
			dir = u.Host + u.Path // file:///abs and file://./rel both work
		}
		if dir, err = filepath.Abs(dir); err != nil {
			return nil, fmt.Errorf("archive folder: %w", err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("archive folder: %w", err)
		}
		b, err := fileblob.OpenBucket(dir, &fileblob.Options{NoTempDir: true, Metadata: fileblob.MetadataDontWrite})
		if err != nil {
			return nil, fmt.Errorf("archive folder: %w", err)
		}
		return &Store{bucket: b, dir: dir, name: "file://" + dir}, nil
	}
	b, err := blob.OpenBucket(ctx, rawURL)
	if err != nil {
		return nil, fmt.Errorf("archive bucket: %w", err)
	}
	u.User = nil
	return &Store{bucket: b, cache: cacheDir, name: u.Redacted()}, nil
}

// String names the store without credentials.
func (s *Store) String() string { return s.name }

// Close releases the store.
func (s *Store) Close() error { return s.bucket.Close() }

// Put writes the file key with write's output. It returns once the file is durable under its
// final name: on a folder, written to staging, fsynced, renamed and its folder fsynced; on a
// bucket, its upload completed (an object appears whole or not at all). An error leaves no file
// under key.
func (s *Store) Put(ctx context.Context, key string, write func(io.Writer) error) error {
	if s.dir == "" {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel() // a cancelled writer aborts its upload
		w, err := s.bucket.NewWriter(ctx, key, &blob.WriterOptions{ContentType: "application/vnd.apache.parquet"})
		if err != nil {
			return fmt.Errorf("archive put %s: %w", key, err)
		}
		if err := write(w); err != nil {
			cancel()
			_ = w.Close()
			return fmt.Errorf("archive put %s: %w", key, err)
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("archive put %s: %w", key, err)
		}
		return nil
	}
	return s.putFile(key, write)
}

func (s *Store) putFile(key string, write func(io.Writer) error) error {
	final := filepath.Join(s.dir, filepath.FromSlash(key))
	stage := filepath.Join(s.dir, staging)
	if err := os.MkdirAll(stage, 0o755); err != nil {
		return fmt.Errorf("archive staging: %w", err)
	}
	f, err := os.CreateTemp(stage, filepath.Base(final)+".*")
	if err != nil {
		return fmt.Errorf("archive staging: %w", err)
	}
	tmp := f.Name()
	err = write(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.MkdirAll(filepath.Dir(final), 0o755)
	}
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("archive put %s: %w", key, err)
	}
	// The rename is durable once the folder holding the new name is.
	return syncDir(filepath.Dir(final))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	return errors.Join(err, d.Close())
}

// CleanStaging removes the staging files of a file store whose names start with prefix: what a
// crashed writer left. Only the writer of those names may call it (the archiver holding the
// partition's lease).
func (s *Store) CleanStaging(prefix string) error {
	if s.dir == "" {
		return nil // an aborted upload leaves no object
	}
	names, err := filepath.Glob(filepath.Join(s.dir, staging, prefix+"*"))
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range names {
		if err := os.Remove(n); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Object is one archive file.
type Object struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// List returns the Parquet files whose keys start with prefix, in key order. A file removed
// while the listing runs fails the listing on some stores (file://): that is a compaction
// deleting the files it merged, which it does only after the merged file is in place. So the
// listing starts over, a little later each time, until the deletes are done: the next
// listing sees the merged file instead.
func (s *Store) List(ctx context.Context, prefix string) ([]Object, error) {
	const attempts = 12 // about 3 s of waiting in all
	delay := 5 * time.Millisecond
	for attempt := 1; ; attempt++ {
		out, err := s.list(ctx, prefix)
		if err == nil || gcerrors.Code(err) != gcerrors.NotFound || attempt == attempts {
			return out, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 500*time.Millisecond)
	}
}

func (s *Store) list(ctx context.Context, prefix string) ([]Object, error) {
	var out []Object
	it := s.bucket.List(&blob.ListOptions{Prefix: prefix})
	for {
		o, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("archive list %s: %w", prefix, err)
		}
		if !o.IsDir && strings.HasSuffix(o.Key, ".parquet") {
			out = append(out, Object{Key: o.Key, Size: o.Size, ModTime: o.ModTime})
		}
	}
}

// Files lists and parses the archive files whose keys start with prefix; a file whose name
// the archiver did not make is left out.
func (s *Store) Files(ctx context.Context, prefix string) ([]File, error) {
	objs, err := s.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	files := make([]File, 0, len(objs))
	for _, o := range objs {
		if f, err := ParseKey(o.Key); err == nil {
			f.Size, f.ModTime = o.Size, o.ModTime
			files = append(files, f)
		}
	}
	return files, nil
}

// Delete removes the file key; a file already gone is no error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.bucket.Delete(ctx, key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return fmt.Errorf("archive delete %s: %w", key, err)
	}
	return nil
}

// ReadRows reads every row of the file key.
func (s *Store) ReadRows(ctx context.Context, key string) ([]Row, error) {
	b, err := s.bucket.ReadAll(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("archive read %s: %w", key, err)
	}
	rows, err := ReadRows(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, fmt.Errorf("archive read %s: %w", key, err)
	}
	return rows, nil
}

// Local returns a local path for each key: the file itself on a folder, a cached copy of a
// bucket's object (fetched once: archive files never change).
func (s *Store) Local(ctx context.Context, keys []string) ([]string, error) {
	paths := make([]string, len(keys))
	for i, k := range keys {
		if s.dir != "" {
			paths[i] = filepath.Join(s.dir, filepath.FromSlash(k))
			continue
		}
		p := filepath.Join(s.cache, filepath.FromSlash(k))
		if _, err := os.Stat(p); err != nil {
			if err := s.fetch(ctx, k, p); err != nil {
				return nil, err
			}
		}
		paths[i] = p
	}
	return paths, nil
}

func (s *Store) fetch(ctx context.Context, key, path string) error {
	if s.cache == "" {
		return errors.New("archive: no cache folder for a bucket's files")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	r, err := s.bucket.NewReader(ctx, key, nil)
	if err != nil {
		return fmt.Errorf("archive get %s: %w", key, err)
	}
	defer r.Close()
	f, err := os.CreateTemp(filepath.Dir(path), ".fetch-*")
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("archive get %s: %w", key, err)
	}
	return nil
}
