package main

import (
	"strings"
	"testing"

	"github.com/tunelab/tunelab/bench/forward/benchkit"
)

// TestScalingTable: 10 samples/s on one device and 30 on four is a speed-up of 3 and a scaling
// efficiency of 3/4; torch's 8 samples/s in one process and 26 in four data-parallel ones, 3.25
// and 81%; an engine measured on one device count only has no row.
func TestScalingTable(t *testing.T) {
	w := &benchkit.Workload{Name: "minilm"}
	w.Measured([]*benchkit.Result{
		{Side: "xla:cpu", SamplesPerSec: 10, Devices: 1},
		{Side: "xla:cpu x4", SamplesPerSec: 30, Devices: 4},
		{Side: "go", SamplesPerSec: 5, Devices: 1},
	}, &benchkit.Result{Side: "torch (cpu)", SamplesPerSec: 8, Devices: 1},
		&benchkit.Result{Side: "torch (cpu) x4", SamplesPerSec: 26, Devices: 4})
	got := scalingTable([]*benchkit.Workload{w})
	want := "| minilm | xla:cpu | 4 | 30.00 | 3.00 | 75% |\n| minilm | torch (cpu) | 4 | 26.00 | 3.25 | 81% |\n\n"
	if !strings.HasSuffix(got, want) || strings.Count(got, "\n| minilm") != 2 {
		t.Errorf("scaling table:\n%s\nwant the rows\n%s", got, want)
	}
	w.Measured(w.Tunelab[:1], w.Torch)
	if got := scalingTable([]*benchkit.Workload{w}); got != "" {
		t.Errorf("one device count: %q, want no table", got)
	}
}
