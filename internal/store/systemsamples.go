package store

import (
	"context"
	"time"
)

// SystemSamples is implemented by stores that keep the dashboard's
// samples of the processes' own metrics (internal/web, docs/dashboard.md),
// so that the System page's history outlives a restart and a dashboard
// served elsewhere shows it: one row per sample per tier (15 s, 5 minutes,
// an hour) per instance, its figures encoded by the writer.
type SystemSamples interface {
	// SaveSystemSample stores s (replacing a row of the same instance,
	// step and time) and deletes every instance's samples of its step
	// older than keep before s.At: the table stays bounded.
	SaveSystemSample(ctx context.Context, s SystemSample, keep time.Duration) error
	// SystemSamples returns the samples of step (seconds) at or after
	// since, of instance ("": of every instance), oldest first (then by
	// instance).
	SystemSamples(ctx context.Context, instance string, step int, since time.Time) ([]SystemSample, error)
	// SystemSampleInstances lists the instances that have samples
	// stored, by instance: the processes whose history a dashboard
	// served elsewhere (shopstream serve) can show.
	SystemSampleInstances(ctx context.Context) ([]SystemSampleInstance, error)
}

// SystemSampleInstance is one instance's stored samples, of every tier.
type SystemSampleInstance struct {
	Instance string
	// Oldest and Newest are its oldest and newest samples' times: Newest
	// is when it was last seen (it saves one every 15 s).
	Oldest, Newest time.Time
	// Samples is how many rows it has.
	Samples int
}

// SystemSample is one stored sample of a process's metrics.
type SystemSample struct {
	// Instance names the process that took it (its stable id).
	Instance string
	// Step is the resolution of the sample's tier, in seconds.
	Step int
	At   time.Time
	// Data are the sample's figures, compact and opaque to the store.
	Data []byte
}
