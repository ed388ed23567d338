package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/pulsehq/pulse/cmd/pulse/app"
	"github.com/pulsehq/pulse/internal/archive"
	"github.com/pulsehq/pulse/internal/events"
)

// archiveFlags are the range flags of replay and rebuild.
type archiveFlags struct {
	from, to, types string
}

func (f *archiveFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&f.from, "from", "", "start of the range, inclusive: RFC 3339 or unix ms (required)")
	fs.StringVar(&f.to, "to", "", "end of the range, exclusive: RFC 3339 or unix ms (required)")
	fs.StringVar(&f.types, "type", "", "comma-separated event types (default: every type)")
}

func (f *archiveFlags) filter() (archive.Filter, error) {
	var out archive.Filter
	if f.from == "" || f.to == "" {
		return out, errors.New("--from and --to are required")
	}
	var err *events.Error
	if out.From, err = events.ParseTimeString(f.from); err != nil {
		return out, fmt.Errorf("--from: %s", err.Message)
	}
	if out.To, err = events.ParseTimeString(f.to); err != nil {
		return out, fmt.Errorf("--to: %s", err.Message)
	}
	if out.To <= out.From {
		return out, errors.New("--to must be after --from")
	}
	for _, t := range strings.Split(f.types, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out.Types = append(out.Types, t)
		}
	}
	return out, nil
}

// openArchiveCommand parses a replay or rebuild command line and opens the deployment.
func openArchiveCommand(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) (*app.App, archive.Filter, error) {
	var af archiveFlags
	cfg, _, err := parseConfig(args, getenv, stderr, af.add)
	if err != nil {
		return nil, archive.Filter{}, err
	}
	f, err := af.filter()
	if err != nil {
		return nil, f, err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	a, err := app.Open(octx, cfg, log)
	return a, f, err
}

// bar is a progress bar of total events with rate and ETA on stderr.
func bar(stderr io.Writer, total int64, what string) (*progressbar.ProgressBar, app.Progress) {
	b := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(stderr),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("events"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(stderr) }),
	)
	return b, func(done int64) { _ = b.Set64(done) }
}

// replay runs `pulse replay`.
func replay(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	a, f, err := openArchiveCommand(ctx, args, getenv, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	total, err := a.ArchiveTotal(ctx, f)
	if err != nil {
		return err
	}
	b, progress := bar(stderr, total, "replay")
	res, err := a.Replay(ctx, f, progress)
	_ = b.Finish()
	fmt.Fprintf(stderr, "replayed %d archived events: %d appended, %d already in the streams (duplicates)\n", total, res.Appended, res.Duplicates)
	return err
}

// rebuildHistory runs `pulse rebuild history`.
func rebuildHistory(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	a, f, err := openArchiveCommand(ctx, args, getenv, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	total, err := a.ArchiveTotal(ctx, f)
	if err != nil {
		return err
	}
	b, progress := bar(stderr, total, "rebuild history")
	n, err := a.RebuildHistory(ctx, f, progress)
	_ = b.Finish()
	fmt.Fprintf(stderr, "rebuilt history from %d archived events: %d (type, subject, minute) counts set\n", total, n)
	return err
}
