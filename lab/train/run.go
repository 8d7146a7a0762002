package train

import (
	"context"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/tunelab/tunelab/internal/atomicfile"
	"github.com/tunelab/tunelab/lab/hfmodel"
)

// Record is one entry of the log history, flat as transformers' log_history: "step" and
// "epoch" plus either "loss", "learning_rate", "grad_norm" or "eval_<metric>" values.
type Record map[string]float64

// State is a run's position, saved as trainer_state.json in each checkpoint.
type State struct {
	Step       int `json:"global_step"`
	TotalSteps int `json:"max_steps"`
	// Epoch is the current epoch (0-based) and Batch the next micro-batch of its order.
	Epoch int `json:"epoch"`
	Batch int `json:"batch_in_epoch"`
	// LossSum and LossSteps accumulate the training loss since the last log.
	LossSum   float64 `json:"loss_sum"`
	LossSteps int     `json:"loss_steps"`
	// BestMetric is the best value of Config.MetricForBest, at BestCheckpoint.
	BestMetric     *float64 `json:"best_metric"`
	BestCheckpoint string   `json:"best_model_checkpoint"`
	// BadEvals counts evaluations without improvement, for early stopping.
	BadEvals int      `json:"early_stopping_patience_counter"`
	History  []Record `json:"log_history"`
}

// Result is the outcome of Train.
type Result struct {
	State
	// Eval is the last evaluation (nil without an evaluation set).
	Eval *Eval
	// Stopped says why training ended before TotalSteps ("" when it did not).
	Stopped string
	// Programs is the number of programs compiled ahead of the first step (XLA compiles one per
	// input shape; 0 on the Go backend), CachedPrograms how many of them came compiled from the
	// compilation cache (lab/backend/xlacache) and CompileSeconds how long that took.
	Programs, CachedPrograms int
	CompileSeconds           float64
}

// Train runs from scratch, writing checkpoints and the history into runDir; evalSet may be nil.
func (t *Trainer) Train(ctx context.Context, runDir string, trainSet, evalSet *Dataset) (*Result, error) {
	if err := t.startAtStepZero(); err != nil {
		return nil, err
	}
	return t.run(ctx, runDir, trainSet, evalSet, &State{})
}

// Resume continues the run in runDir from its latest checkpoint, with the same data and
// Config: parameters, AdamW moments, dropout RNG, position in the epoch and history are
// restored, so the run ends as if it had never stopped.
func (t *Trainer) Resume(ctx context.Context, runDir string, trainSet, evalSet *Dataset) (*Result, error) {
	dir, err := LatestCheckpoint(runDir)
	if err != nil {
		return nil, err
	}
	if err := t.startAtStepZero(); err != nil { // creates what restore overwrites
		return nil, err
	}
	st, err := t.restore(dir)
	if err != nil {
		return nil, err
	}
	return t.run(ctx, runDir, trainSet, evalSet, st)
}

// LatestCheckpoint returns the checkpoint-<step> directory of runDir with the highest step.
func LatestCheckpoint(runDir string) (string, error) {
	entries, err := os.ReadDir(runDir)
	if err != nil {
		return "", fmt.Errorf("train: %w", err)
	}
	best := -1
	for _, e := range entries {
		if n, ok := checkpointStep(e.Name()); ok && e.IsDir() && n > best {
			best = n
		}
	}
	if best < 0 {
		return "", fmt.Errorf("train: no checkpoint-<step> directory in %s", runDir)
	}
	return filepath.Join(runDir, fmt.Sprintf("checkpoint-%d", best)), nil
}

func checkpointStep(name string) (int, bool) {
	s, ok := strings.CutPrefix(name, "checkpoint-")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// epochOf is the fractional epoch after st's step.
func epochOf(st *State, batchesPerEpoch int) float64 {
	return float64(st.Epoch) + float64(st.Batch)/float64(batchesPerEpoch)
}

func lastCheckpointName(runDir string) string {
	dir, err := LatestCheckpoint(runDir)
	if err != nil {
		return "none (no checkpoint was written yet)"
	}
	return dir
}

func (t *Trainer) report(p Progress) {
	if t.hook != nil {
		t.hook(p)
	}
	if t.progress != nil && p.Eval == nil {
		writeBar(t.progress, p)
	}
}

// optimizerState is optimizer.gob: AdamW moments by parameter path and the dropout RNG state.
type optimizerState struct {
	M, V     map[string][]float32
	RNGState []uint64
}

// saveCheckpoint writes runDir/checkpoint-<step> through a temporary directory renamed into
// place, then prunes old checkpoints: a failure leaves the earlier checkpoints as they were.
func (t *Trainer) saveCheckpoint(runDir string, st *State) (err error) {
	final := filepath.Join(runDir, fmt.Sprintf("checkpoint-%d", st.Step))
	tmp, err := os.MkdirTemp(runDir, ".checkpoint-tmp-")
	if err != nil {
		return fmt.Errorf("train: saving %s: %w", final, err)
	}
	defer os.RemoveAll(tmp)
	if err := t.writeCheckpoint(tmp, st); err != nil {
		return fmt.Errorf("train: saving %s: %w", final, err)
	}
	if err := writeHistory(runDir, st.History); err != nil {
		return err
	}
	if _, err := os.Stat(final); err == nil {
		// A resumed run saving a step again: move the old copy aside first so one is always there.
		old := tmp + "-old"
		if err := os.Rename(final, old); err != nil {
			return fmt.Errorf("train: saving %s: %w", final, err)
		}
		defer os.RemoveAll(old)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("train: saving %s: %w", final, err)
	}
	return t.prune(runDir, st)
}

func (t *Trainer) writeCheckpoint(dir string, st *State) error {
	params, err := t.model.Tensors(t.store)
	if err != nil {
		return err
	}
	if err := hfmodel.Save(dir, t.model.Config(), t.labels, params); err != nil {
		return err
	}
	state := optimizerState{M: map[string][]float32{}, V: map[string][]float32{}}
	for _, p := range t.params {
		for kind, dst := range map[string]map[string][]float32{"m": state.M, "v": state.V} {
			value, err := t.store.GetVariable(momentPath(kind, p.Path)).Value()
			if err != nil {
				return err
			}
			dst[p.Path] = tensors.MustCopyFlatData[float32](value)
		}
	}
	rng, err := t.store.GetVariable(model.JoinPath("/", model.RNGStateVariableName)).Value()
	if err != nil {
		return err
	}
	state.RNGState = tensors.MustCopyFlatData[uint64](rng)
	var buf strings.Builder
	if err := gob.NewEncoder(&buf).Encode(state); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "optimizer.gob"), []byte(buf.String())); err != nil {
		return err
	}
	data, err := json.MarshalIndent(st, "", " ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, "trainer_state.json"), append(data, '\n'))
}

// restore loads a checkpoint written by saveCheckpoint into the store.
func (t *Trainer) restore(dir string) (*State, error) {
	ck, err := hfmodel.Load(dir, t.labels)
	if err != nil {
		return nil, fmt.Errorf("train: resuming: %w", err)
	}
	set := func(path string, value *tensors.Tensor) error {
		if err := t.store.GetVariable(path).SetValue(value); err != nil {
			return fmt.Errorf("train: resuming from %s: %s: %w", dir, path, err)
		}
		return nil
	}
	var opt optimizerState
	f, err := os.Open(filepath.Join(dir, "optimizer.gob"))
	if err != nil {
		return nil, fmt.Errorf("train: resuming: %w", err)
	}
	defer f.Close()
	if err := gob.NewDecoder(f).Decode(&opt); err != nil {
		return nil, fmt.Errorf("train: resuming: %s: %w", f.Name(), err)
	}
	for _, p := range t.params {
		ct, ok := ck.Tensors[p.Path]
		m, okM := opt.M[p.Path]
		v, okV := opt.V[p.Path]
		if !ok || !okM || !okV {
			return nil, fmt.Errorf("train: resuming from %s: no saved value or moments for %s", dir, p.Name)
		}
		for path, data := range map[string][]float32{p.Path: ct.Data, momentPath("m", p.Path): m, momentPath("v", p.Path): v} {
			if err := set(path, tensors.FromFlatDataAndDimensions(data, p.Shape...)); err != nil {
				return nil, err
			}
		}
	}
	if err := set(model.JoinPath("/", model.RNGStateVariableName), tensors.FromFlatDataAndDimensions(opt.RNGState, len(opt.RNGState))); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(dir, "trainer_state.json"))
	if err != nil {
		return nil, fmt.Errorf("train: resuming: %w", err)
	}
	st := &State{}
	if err := json.Unmarshal(data, st); err != nil {
		return nil, fmt.Errorf("train: resuming: %s: %w", filepath.Join(dir, "trainer_state.json"), err)
	}
	return st, nil
}

// prune removes all but the SaveTotalLimit most recent checkpoints, keeping the best one.
func (t *Trainer) prune(runDir string, st *State) error {
	if t.cfg.SaveTotalLimit == 0 {
		return nil
	}
	entries, err := os.ReadDir(runDir)
	if err != nil {
		return err
	}
	var steps []int
	for _, e := range entries {
		if n, ok := checkpointStep(e.Name()); ok && e.IsDir() {
			steps = append(steps, n)
		}
	}
	slices.Sort(steps)
	var errs []error
	for _, n := range steps[:max(0, len(steps)-t.cfg.SaveTotalLimit)] {
		name := fmt.Sprintf("checkpoint-%d", n)
		if name != st.BestCheckpoint {
			errs = append(errs, os.RemoveAll(filepath.Join(runDir, name)))
		}
	}
	return errors.Join(errs...)
}
