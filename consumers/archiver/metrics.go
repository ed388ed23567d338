package archiver

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

type metrics struct {
	rows, files, bytes prometheus.Counter
	skipped            *prometheus.CounterVec
	compacted          prometheus.Counter
	commit             prometheus.Histogram
	leases, buffered   prometheus.Gauge
	size, count        prometheus.Gauge
	newest             prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	f := promauto.With(reg)
	return &metrics{
		rows:      f.NewCounter(prometheus.CounterOpts{Name: "pulse_archive_rows_total", Help: "Events written to archive files."}),
		files:     f.NewCounter(prometheus.CounterOpts{Name: "pulse_archive_files_total", Help: "Archive files written."}),
		bytes:     f.NewCounter(prometheus.CounterOpts{Name: "pulse_archive_written_bytes_total", Help: "Bytes of archive files written."}),
		skipped:   f.NewCounterVec(prometheus.CounterOpts{Name: "pulse_archive_skipped_total", Help: "Entries acknowledged without a new row: already in a file (committed before a crash), or replayed from the archive."}, []string{"reason"}),
		compacted: f.NewCounter(prometheus.CounterOpts{Name: "pulse_archive_compacted_files_total", Help: "Small archive files merged into one per partition and hour."}),
		commit:    f.NewHistogram(prometheus.HistogramOpts{Name: "pulse_archive_commit_seconds", Help: "Time to write, commit and acknowledge one roll of a partition.", Buckets: prometheus.ExponentialBuckets(0.005, 3, 10)}),
		leases:    f.NewGauge(prometheus.GaugeOpts{Name: "pulse_archive_partitions_held", Help: "Partitions whose archive this process writes."}),
		buffered:  f.NewGauge(prometheus.GaugeOpts{Name: "pulse_archive_buffered_rows", Help: "Events read and waiting in memory for their roll."}),
		size:      f.NewGauge(prometheus.GaugeOpts{Name: "pulse_archive_size_bytes", Help: "Bytes of every archive file (last listing)."}),
		count:     f.NewGauge(prometheus.GaugeOpts{Name: "pulse_archive_files", Help: "Archive files (last listing)."}),
		newest:    f.NewGauge(prometheus.GaugeOpts{Name: "pulse_archive_newest_hour_seconds", Help: "Start of the newest event hour in the archive, unix seconds (last listing)."}),
	}
}
