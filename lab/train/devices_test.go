package train

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/tunelab/tunelab/lab/backend"
	"github.com/tunelab/tunelab/lab/encoder"
	"github.com/tunelab/tunelab/lab/hfmodel"
)

// xlaCPU is XLA's CPU plugin with 4 devices (by default it shows no more than the cores), which
// the data-parallel tests split batches across (`make setup` installs it, so CI must have it).
var xlaCPU = sync.OnceValues(func() (compute.Backend, error) { return backend.New(backend.XLACPU + ",cpu_device_count=4") })

func cpuDevices(t *testing.T) compute.Backend {
	t.Helper()
	b, err := xlaCPU()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("XLA's CPU plugin is not installed (make setup): %v", err)
		}
		t.Skipf("XLA's CPU plugin is not installed (make setup): %v", err)
	}
	if b.NumDevices() < 4 {
		t.Fatalf("XLA's CPU plugin shows %d devices, want 4", b.NumDevices())
	}
	return b
}

func TestDevices(t *testing.T) {
	b := cpuDevices(t)
	for spec, want := range map[string][]compute.DeviceNum{
		"": {0}, "1": {0}, "2": {0, 1}, "all": {0, 1, 2, 3}, "3,1": {3, 1}, " 0, 2 ": {0, 2},
	} {
		got, err := Devices(spec, b)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("Devices(%q) = %v, %v; want %v", spec, got, err, want)
		}
	}
	for spec, want := range map[string]string{
		"5": "has only 4 devices", "0,4": "no device 4", "1,1": "device 1 is listed twice",
		"0": "want all, a count >= 1", "two": "want all, a count >= 1", "0,x": `"x" is not a device number`,
	} {
		if _, err := Devices(spec, b); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Devices(%q): error %v, want one saying %q", spec, err, want)
		}
	}
	goBackend, err := backend.New("go")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Devices("all", goBackend); err != nil || !slices.Equal(got, []compute.DeviceNum{0}) {
		t.Errorf("Devices(all) on the Go backend = %v, %v; want [0]", got, err)
	}
	if _, err := Devices("2", goBackend); err == nil || !strings.Contains(err.Error(), "go has only one device") {
		t.Errorf("Devices(2) on the Go backend: error %v, want one saying it has one device", err)
	}
	cfg := Defaults()
	cfg.Devices = "gpus"
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), `devices "gpus"`) {
		t.Errorf("Validate with devices %q: %v", cfg.Devices, err)
	}
	if got, want := DescribeDevices([]compute.DeviceNum{0, 1, 2, 3}, b), "4 devices (0, 1, 2, 3 of 4), data parallel"; got != want {
		t.Errorf("DescribeDevices = %q, want %q", got, want)
	}
	if got, want := DescribeDevices([]compute.DeviceNum{0}, b), "device 0 (1 of 4)"; got != want {
		t.Errorf("DescribeDevices = %q, want %q", got, want)
	}
}

// parallelRun is a finished run: its result and its trainer (for the weights).
type parallelRun struct {
	*Result
	tr *Trainer
}

// trainOn trains the tiny BERT on b's devices with cfg, evaluating on evalSet.
func trainOn(t *testing.T, b compute.Backend, devices string, cfg Config, trainSet, evalSet *Dataset) parallelRun {
	t.Helper()
	cfg.Devices = devices
	tr, _ := loadTrainerOn(t, b, filepath.Join(goldens, "bert-tiny-bare"), tweetLabels, cfg)
	res, err := tr.Train(context.Background(), t.TempDir(), trainSet, evalSet)
	if err != nil {
		t.Fatalf("devices %q: %v", devices, err)
	}
	checkExecDevices(t, tr)
	return parallelRun{res, tr}
}

// checkExecDevices checks that t's graphs ran on as many devices as it names.
func checkExecDevices(t *testing.T, tr *Trainer) {
	t.Helper()
	for name, e := range map[string]*model.Exec{"gradient": tr.grads, "update": tr.apply} {
		if e == nil {
			t.Errorf("no %s graph", name)
		} else if e.NumDevices() != len(tr.devices) {
			t.Errorf("%s graph on %d devices, want %d", name, e.NumDevices(), len(tr.devices))
		}
	}
	if tr.predictor != nil && tr.predictor.exec.NumDevices() != len(tr.devices) {
		t.Errorf("evaluation graph on %d devices, want %d", tr.predictor.exec.NumDevices(), len(tr.devices))
	}
}

// difference is the largest absolute difference between two runs' histories (every logged loss,
// gradient norm and evaluation metric) and evaluation probabilities, and between their final
// weights: the attention key biases apart, in keyBiases. It fails the test if the runs do not
// have the same records.
func difference(t *testing.T, a, b parallelRun) (history, weights, keyBiases float64) {
	t.Helper()
	if len(a.History) != len(b.History) {
		t.Fatalf("%d history records against %d", len(a.History), len(b.History))
	}
	for i, ra := range a.History {
		rb := b.History[i]
		if len(ra) != len(rb) {
			t.Fatalf("record %d: %v against %v", i, ra, rb)
		}
		for k, va := range ra {
			vb, ok := rb[k]
			if !ok {
				t.Fatalf("record %d: %v against %v", i, ra, rb)
			}
			history = math.Max(history, math.Abs(va-vb))
		}
	}
	if (a.Eval == nil) != (b.Eval == nil) {
		t.Fatalf("one run has an evaluation, the other not")
	}
	if a.Eval != nil {
		for i, pa := range a.Eval.Probabilities {
			for j := range pa {
				history = math.Max(history, math.Abs(float64(pa[j]-b.Eval.Probabilities[i][j])))
			}
		}
	}
	wa, err := a.tr.model.Tensors(a.tr.store)
	if err != nil {
		t.Fatal(err)
	}
	wb, err := b.tr.model.Tensors(b.tr.store)
	if err != nil {
		t.Fatal(err)
	}
	for name, ta := range wa {
		worst := &weights
		if strings.HasSuffix(name, "/key/dense/biases") {
			worst = &keyBiases
		}
		for i, v := range ta.Data {
			*worst = math.Max(*worst, math.Abs(float64(v-wb[name].Data[i])))
		}
	}
	return history, weights, keyBiases
}

// Tolerances of the differences between a run on one device and on several: the devices sum
// their partial gradients in another order than one device does. Measured on XLA's CPU plugin
// (tiny BERT, lr 1e-3, 6 to 8 steps): at most 2.4e-7 in the history and probabilities and 1.2e-5
// in the weights, which AdamW's normalisation amplifies where a gradient is tiny.
const (
	historyTolerance = 1e-5
	weightTolerance  = 1e-4
)

// keyBiasTolerance bounds the difference of the attention key biases after steps steps at
// learning rate lr: their gradient is 0 in exact arithmetic (the softmax ignores a per-query
// shift), so each side's AdamW turns float noise into steps of up to about lr in either
// direction (see TestAdamWMatchesTorch).
func keyBiasTolerance(lr float64, steps int) float64 { return 2 * lr * float64(steps) }

// checkSameRun fails the test if run differs from want by more than the tolerances.
func checkSameRun(t *testing.T, what string, want, run parallelRun, cfg Config) {
	t.Helper()
	history, weights, keyBiases := difference(t, want, run)
	t.Logf("%s: max difference %.2g in the history and probabilities, %.2g in the weights, %.2g in the key biases", what, history, weights, keyBiases)
	if history > historyTolerance || weights > weightTolerance || keyBiases > keyBiasTolerance(cfg.LearningRate, run.Step) {
		t.Errorf("%s: differences %g (history), %g (weights), %g (key biases); want <= %g, %g, %g", what, history, weights, keyBiases,
			historyTolerance, weightTolerance, keyBiasTolerance(cfg.LearningRate, run.Step))
	}
}

// TestDataParallelEqualsOneDevice trains the tiny BERT with dropout on for 6 steps of 8 tweets
// on 1, 2 and 4 of XLA's CPU devices, evaluating 13 tweets (batches of 8 and 5, padded) twice:
// the same loss curve, gradient norms, evaluations and final weights. A run without dropout
// differs by far more, so the dropout masks are part of what is equal.
func TestDataParallelEqualsOneDevice(t *testing.T) {
	b := cpuDevices(t)
	trainSet, evalSet := tweets(t, wordHasher{maxLen: 32}, 48, 13)
	dropout := 0.1
	cfg := tinyConfig()
	cfg.MaxSteps, cfg.EvalEvery, cfg.SaveEvery, cfg.Dropout = 6, 3, 0, &dropout
	one := trainOn(t, b, "1", cfg, trainSet, evalSet)
	for _, devices := range []string{"2", "4"} {
		checkSameRun(t, devices+" devices", one, trainOn(t, b, devices, cfg, trainSet, evalSet), cfg)
	}
	zero := 0.0
	cfg.Dropout = &zero
	history, _, _ := difference(t, one, trainOn(t, b, "1", cfg, trainSet, evalSet))
	if history < 100*historyTolerance {
		t.Errorf("without dropout the run differs by only %g: dropout was not exercised", history)
	}
}

// TestUnevenBatches: batches of 6 on 4 devices are padded to 8 rows with masked ones, and the
// 45 training tweets end with a batch of 3: the run equals the one-device run of batches of 6
// (dropout off: the padded global batch draws other masks), and the 13 evaluated tweets each
// count once.
func TestUnevenBatches(t *testing.T) {
	b := cpuDevices(t)
	trainSet, evalSet := tweets(t, wordHasher{maxLen: 32}, 45, 13)
	zero := 0.0
	cfg := tinyConfig()
	cfg.BatchSize, cfg.Epochs, cfg.EvalEvery, cfg.SaveEvery, cfg.Dropout = 6, 1, 4, 0, &zero
	one, four := trainOn(t, b, "1", cfg, trainSet, evalSet), trainOn(t, b, "4", cfg, trainSet, evalSet)
	if one.Step != 8 {
		t.Fatalf("%d steps, want 8 (7 batches of 6 and one of 3)", one.Step)
	}
	if got := four.tr.trainRows(6); got != 8 {
		t.Errorf("a batch of 6 on 4 devices has %d rows, want 8", got)
	}
	checkSameRun(t, "4 devices, uneven batches", one, four, cfg)
	ev := four.Eval
	if len(ev.Predictions) != 13 || ev.Report.Macro.Support != 13 {
		t.Errorf("%d predictions, support %d: want each of the 13 examples once", len(ev.Predictions), ev.Report.Macro.Support)
	}
	// The trained store evaluated again on 1 device, then on 2 (other devices than it trained on).
	for _, devices := range []string{"1", "2"} {
		cfg.Devices = devices
		again, err := New(b, four.tr.model, four.tr.store, tweetLabels, cfg)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := again.Evaluate(context.Background(), evalSet)
		if err != nil {
			t.Fatalf("devices %s, on the store trained on 4: %v", devices, err)
		}
		for i, p := range ev.Probabilities {
			for j := range p {
				if d := math.Abs(float64(p[j] - four.Eval.Probabilities[i][j])); d > historyTolerance {
					t.Fatalf("devices %s, on the store trained on 4: probability [%d][%d] differs by %g", devices, i, j, d)
				}
			}
		}
	}
	// The evaluation loss is the mean over the 13 examples of -log p(label).
	mean := 0.0
	for i, p := range ev.Probabilities {
		mean -= math.Log(float64(p[evalSet.Labels[i]])) / 13
	}
	if math.Abs(mean-ev.Loss) > 1e-5 {
		t.Errorf("evaluation loss %g, the mean of the 13 examples' is %g", ev.Loss, mean)
	}
}

// TestResumeOnOtherDevices: a run on 4 devices stopped after step 4 (checkpoint-3 saved) resumes
// on 1 device and ends as the uninterrupted 4-device run does, dropout included.
func TestResumeOnOtherDevices(t *testing.T) {
	b := cpuDevices(t)
	trainSet, evalSet := tweets(t, wordHasher{maxLen: 32}, 48, 13)
	cfg := tinyConfig() // config.json's dropout (0.1)
	cfg.MaxSteps, cfg.EvalEvery, cfg.SaveEvery = 6, 3, 3
	full := trainOn(t, b, "4", cfg, trainSet, evalSet)

	dir := t.TempDir()
	cfg.Devices = "4"
	tr, _ := loadTrainerOn(t, b, filepath.Join(goldens, "bert-tiny-bare"), tweetLabels, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tr.WithHook(func(p Progress) {
		if p.Step == 4 && p.Eval == nil {
			cancel()
		}
	})
	if _, err := tr.Train(ctx, dir, trainSet, evalSet); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: err %v, want context.Canceled", err)
	}
	cfg.Devices = "1"
	again, _ := loadTrainerOn(t, b, filepath.Join(goldens, "bert-tiny-bare"), tweetLabels, cfg)
	res, err := again.Resume(context.Background(), dir, trainSet, evalSet)
	if err != nil {
		t.Fatal(err)
	}
	checkExecDevices(t, again)
	if len(again.devices) != 1 {
		t.Fatalf("resumed on %d devices, want 1", len(again.devices))
	}
	checkSameRun(t, "4 devices resumed on 1", full, parallelRun{res, again}, cfg)
	if res.Step != 6 {
		t.Errorf("resumed run ended at step %d, want 6", res.Step)
	}
}

// TestTrainStepIsTrainsStep: TrainStep, which bench/train_step times, takes the step Train
// takes on the same batch (one batch of 8, constant schedule without warmup, dropout off).
func TestTrainStepIsTrainsStep(t *testing.T) {
	d, err := Encode(wordHasher{maxLen: 16}, sameLength(8, 9), []int{0, 1, 2, 1, 0, 2, 2, 1})
	if err != nil {
		t.Fatal(err)
	}
	zero := 0.0
	cfg := Defaults()
	cfg.LearningRate, cfg.Scheduler, cfg.MaxSteps, cfg.LogEvery, cfg.Dropout = 1e-3, Constant, 1, 1, &zero
	trained, _ := tinyTrainer(t, "bert-tiny-cls", nil, cfg)
	res, err := trained.Train(context.Background(), t.TempDir(), d, nil)
	if err != nil {
		t.Fatal(err)
	}
	stepped, _ := tinyTrainer(t, "bert-tiny-cls", nil, cfg)
	loss, norm, err := stepped.TrainStep(d, []int{0, 1, 2, 3, 4, 5, 6, 7}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(loss-res.History[0]["loss"]) > 1e-6 || math.Abs(norm-res.History[0]["grad_norm"]) > 1e-6 {
		t.Errorf("TrainStep: loss %g, gradient norm %g; Train logged %v", loss, norm, res.History[0])
	}
	checkSameRun(t, "TrainStep against Train", parallelRun{res, trained}, parallelRun{&Result{State: res.State}, stepped}, cfg)
}

// TestPredictorAcrossDevices: predictions split across 2 and 4 devices (5 examples in batches of
// 4: the last batch of one is padded to the device count) equal those of one device.
func TestPredictorAcrossDevices(t *testing.T) {
	b := cpuDevices(t)
	d := &Dataset{PadID: 0}
	for n := range 5 {
		ids := make([]int32, 3+4*n)
		for k := range ids {
			ids[k] = int32(7 + 13*k + n)
		}
		d.IDs, d.TypeIDs = append(d.IDs, ids), append(d.TypeIDs, make([]int32, len(ids)))
	}
	logits := func(devices string) [][]float32 {
		ck, err := hfmodel.Load(filepath.Join(goldens, "bert-tiny-cls"), nil)
		if err != nil {
			t.Fatal(err)
		}
		m := encoder.New(ck.Config, len(ck.Labels))
		store := model.NewStore()
		if err := m.LoadVariables(store, ck, 0); err != nil {
			t.Fatal(err)
		}
		p, err := NewPredictor(b, m, store, devices)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := p.exec.NumDevices(), map[string]int{"": 1, "0,1": 2, "0,1,2,3": 4}[devices]; got != want {
			t.Fatalf("devices %q: the predictor runs on %d devices, want %d", devices, got, want)
		}
		out, err := p.Logits(t.Context(), d, 4)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	one := logits("")
	for _, devices := range []string{"0,1", "0,1,2,3"} {
		got := logits(devices)
		for i := range one {
			for j := range one[i] {
				if math.Abs(float64(got[i][j]-one[i][j])) > 1e-5 {
					t.Fatalf("devices %s: example %d logit %d = %g, one device %g", devices, i, j, got[i][j], one[i][j])
				}
			}
		}
	}
}
