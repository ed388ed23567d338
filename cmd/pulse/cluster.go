package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/pulsehq/pulse/cmd/pulse/app"
)

// cluster runs `pulse cluster plan`: which Redis master holds which partitions.
func cluster(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "plan" {
		return errors.New("usage: pulse cluster plan [--redis-url …] [--partitions N]")
	}
	cfg, _, err := parseConfig(args[1:], getenv, stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	plan, err := app.ClusterPlan(ctx, cfg, slog.New(slog.NewTextHandler(stderr, nil)))
	if err != nil {
		return fmt.Errorf("cluster plan: %w", err)
	}
	plan.Write(stdout)
	return nil
}
