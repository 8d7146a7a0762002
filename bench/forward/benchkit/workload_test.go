package benchkit

import (
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestSelect(t *testing.T) {
	all, err := Select(Workloads("m"), "", 0, 0)
	if err != nil || len(all) != 3 {
		t.Fatalf("Select with no filter = %d workloads, %v; want the 3 of Workloads", len(all), err)
	}
	got, err := Select(Workloads("m"), "bert-base", 2, 16)
	if err != nil || len(got) != 1 || got[0].Name != "bert-base" || got[0].Batch != 2 || got[0].Seq != 16 {
		t.Fatalf("Select(bert-base, 2, 16) = %+v, %v; want bert-base at 2 x 16", got, err)
	}
	if _, err := Select(Workloads("m"), "bert-large", 0, 0); err == nil || !strings.Contains(err.Error(), "minilm, minilm-512, bert-base") {
		t.Errorf("Select(bert-large) error = %v, want one naming the workloads", err)
	}
}

// TestRandomWorkload prepares the BERT-base workload and checks what the peer reads (the config
// file), the parameters' count against bert-base's (hand-counted) and their spread against
// initializer_range.
func TestRandomWorkload(t *testing.T) {
	w, err := Select(Workloads("m"), "bert-base", 1, 8)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	if err := w[0].Prepare(tmp); err != nil {
		t.Fatal(err)
	}
	if w[0].Pretrained || w[0].PeerDir != filepath.Join(tmp, "bert-base") {
		t.Errorf("Prepare: pretrained %v, peer dir %q; want a random model in %s", w[0].Pretrained, w[0].PeerDir, filepath.Join(tmp, "bert-base"))
	}
	if b, err := os.ReadFile(filepath.Join(w[0].PeerDir, "config.json")); err != nil || string(b) != BERTBaseConfig {
		t.Errorf("config.json for the peer: %v, %d bytes; want BERTBaseConfig", err, len(b))
	}
	ck, err := w[0].Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	// Embeddings 30522*768 + 512*768 + 2*768 + 2*768 (LayerNorm); per layer 4*(768*768+768) +
	// 2*768 + 768*3072 + 3072 + 3072*768 + 768 + 2*768. The pooler and the head are the
	// classifier's fresh parameters: the encoder initialises them.
	const h, i = 768, 3072
	want := (30522+512+2+2)*h + 12*(4*(h*h+h)+2*h+h*i+i+i*h+h+2*h)
	var n int
	var sum, sumSq float64
	for _, tensor := range ck.Tensors {
		n += len(tensor.Data)
		for _, v := range tensor.Data {
			sum += float64(v)
			sumSq += float64(v) * float64(v)
		}
	}
	if n != want {
		t.Errorf("random BERT-base has %d parameters outside the pooler and head, want %d", n, want)
	}
	if std := math.Sqrt(sumSq/float64(n) - (sum/float64(n))*(sum/float64(n))); math.Abs(std-0.02) > 0.0005 {
		t.Errorf("weights' standard deviation %.5f, want initializer_range 0.02", std)
	}
	ids, mask := w[0].RandomTokens()
	if len(ids) != 8 || len(mask) != 8 {
		t.Fatalf("RandomTokens: %d ids and %d mask values, want 1 x 8", len(ids), len(mask))
	}
	for k := range ids {
		if ids[k] < 1000 || ids[k] >= 30522 || mask[k] != 1 {
			t.Errorf("token %d: id %d mask %d, want an id in [1000, 30522) and mask 1", k, ids[k], mask[k])
		}
	}
}

// TestPeerArgs checks the arguments benchkit.py's classifier_workload reads, for a random model.
func TestPeerArgs(t *testing.T) {
	w, err := Select(Workloads("m"), "bert-base", 2, 16)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	if err := w[0].Prepare(tmp); err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(tmp, "bert-base"), "0", "2", "16", "3", strconv.Itoa(runtime.GOMAXPROCS(0)), "cuda"}
	if got := w[0].PeerArgs(3, "cuda"); !slices.Equal(got, want) {
		t.Errorf("PeerArgs = %q, want %q", got, want)
	}
}

func TestPrepareTooLong(t *testing.T) {
	w, err := Select(Workloads("m"), "bert-base", 1, 513)
	if err != nil {
		t.Fatal(err)
	}
	if err := w[0].Prepare(t.TempDir()); err == nil || !strings.Contains(err.Error(), "seq 513 is longer than the model's 512 positions") {
		t.Errorf("Prepare at seq 513 = %v, want the positions error", err)
	}
}

// TestTable: an engine on 2 devices is compared with torch data parallel on 2 (0.8 s over 1.6),
// the others with torch in one process; a workload without the peer has no ratios.
func TestTable(t *testing.T) {
	w := &Workload{Name: "tiny", Batch: 4, Seq: 8}
	w.Measured([]*Result{{Side: "xla:cpu", MedianSeconds: 1, SamplesPerSec: 4, GFLOPS: 3.75, PeakRSSBytes: 7 << 20, FirstSeconds: 2.5, CoresBusy: 1.96},
		{Side: "go", MedianSeconds: 3, SamplesPerSec: 4.0 / 3, GFLOPS: 1.25, PeakRSSBytes: 3 << 20},
		{Side: "xla:cpu x2", MedianSeconds: 0.8, SamplesPerSec: 5, Devices: 2}},
		&Result{Side: "torch (cpu)", MedianSeconds: 2, SamplesPerSec: 2, GFLOPS: 1.875, PeakRSSBytes: 5 << 20, Devices: 1},
		&Result{Side: "torch (cpu) x2", MedianSeconds: 1.6, SamplesPerSec: 2.5, Devices: 2})
	half := &Workload{Name: "half", Batch: 1, Seq: 2}
	half.Measured([]*Result{{Side: "go", MedianSeconds: 0.5, SamplesPerSec: 2}})
	lines := strings.Split(strings.TrimSpace(Table([]*Workload{w, half}, "step")), "\n")
	if len(lines) != 13 || lines[0] != "| workload | batch x seq | tunelab xla:cpu s/step | tunelab go s/step | tunelab xla:cpu x2 s/step | torch s/step | torch x2 s/step | xla:cpu / torch | go / torch | xla:cpu x2 / torch |" {
		t.Fatalf("Table:\n%s", strings.Join(lines, "\n"))
	}
	for i, want := range map[int]string{
		2:  "| tiny | 4 x 8 | 1.000 | 3.000 | 0.800 | 2.000 | 1.600 | **0.50** | **1.50** | **0.50** |",
		3:  "| half | 1 x 2 | - | 0.500 | - | - | - | - | - | - |",
		7:  "| tiny | xla:cpu | 4.00 | 3.8 | 7 | 2.50 | 1.96 |",
		10: "| tiny | torch (cpu) | 2.00 | 1.9 | 5 | 0.00 | 0.00 |",
		11: "| tiny | torch (cpu) x2 | 2.50 | 0.0 | 0 | 0.00 | 0.00 |",
		12: "| half | go | 2.00 | 0.0 | 0 | 0.00 | 0.00 |",
	} {
		if lines[i] != want {
			t.Errorf("line %d\n%s\nwant\n%s", i, lines[i], want)
		}
	}
	if len(half.Ratios) != 0 || w.Ratios["xla:cpu"] != 0.5 || w.Ratios["go"] != 1.5 || w.Ratios["xla:cpu x2"] != 0.5 {
		t.Errorf("ratios %v and %v, want xla:cpu 0.5, go 1.5, xla:cpu x2 0.5 and none without the peer", w.Ratios, half.Ratios)
	}
	if w.Torch.Side != "torch (cpu)" || len(w.TorchDDP) != 1 || w.TorchDDP[0].Devices != 2 {
		t.Errorf("torch %+v, data parallel %+v: want the one-process result and the 2-device one", w.Torch, w.TorchDDP)
	}
}
