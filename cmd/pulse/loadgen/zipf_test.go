package loadgen

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

func TestZipfProbabilities(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		n    int
		s    float64
	}{
		{"uniform", 10, 0},
		{"mild", 50, 0.8},
		{"classic", 100, 1.0},
		{"steep", 20, 2.0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			z := newZipf(tt.n, tt.s)
			var sum float64
			for k := range tt.n {
				p := z.prob(k)
				sum += p
				if k > 0 && p > z.prob(k-1)+1e-15 {
					t.Errorf("P(%d)=%g > P(%d)=%g: popularity must not grow with rank", k, p, k-1, z.prob(k-1))
				}
				// P(k) ∝ (k+1)^-s: the ratio to rank 0 is exact.
				if want := math.Pow(float64(k+1), -tt.s); math.Abs(p/z.prob(0)-want) > 1e-9 {
					t.Errorf("P(%d)/P(0) = %g, want %g", k, p/z.prob(0), want)
				}
			}
			if math.Abs(sum-1) > 1e-9 {
				t.Errorf("probabilities sum to %g", sum)
			}
		})
	}
}

// Drawn frequencies match the probabilities within 5 standard deviations (fixed seed: the
// test is deterministic; the bound only says the sampler inverts the right CDF).
func TestZipfSampling(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		n    int
		s    float64
	}{
		{"uniform", 20, 0},
		{"mild", 50, 0.7},
		{"classic", 50, 1.1},
		{"single subject", 1, 1.5},
	}
	const draws = 200_000
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			z := newZipf(tt.n, tt.s)
			rng := rand.New(rand.NewPCG(42, 7))
			got := make([]int, tt.n)
			for range draws {
				k := z.pick(rng)
				if k < 0 || k >= tt.n {
					t.Fatalf("pick returned %d, outside [0,%d)", k, tt.n)
				}
				got[k]++
			}
			for k := range tt.n {
				p := z.prob(k)
				mean := draws * p
				sd := math.Sqrt(draws * p * (1 - p))
				if math.Abs(float64(got[k])-mean) > 5*sd+1 {
					t.Errorf("rank %d drawn %d times, expected %.0f ± %.0f", k, got[k], mean, 5*sd)
				}
			}
		})
	}
}

func BenchmarkZipfPick(b *testing.B) {
	for _, n := range []int{100, 10_000, 1_000_000} {
		z := newZipf(n, 1.1)
		rng := rand.New(rand.NewPCG(1, 2))
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				z.pick(rng)
			}
		})
	}
}
